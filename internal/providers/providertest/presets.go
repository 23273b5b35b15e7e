package providertest

import (
	"strings"
	"testing"
)

// The discovery documents below follow the shape each provider publishes
// (the keys, and endpoint URLs on the provider's real hosts), trimmed of
// endpoints gatehouse never calls.

// Google is accounts.google.com.
func Google(t testing.TB) *Fake {
	return New(t, "https://accounts.google.com", map[string]any{
		"authorization_endpoint":                "https://accounts.google.com/o/oauth2/v2/auth",
		"device_authorization_endpoint":         "https://oauth2.googleapis.com/device/code",
		"token_endpoint":                        "https://oauth2.googleapis.com/token",
		"userinfo_endpoint":                     "https://openidconnect.googleapis.com/v1/userinfo",
		"revocation_endpoint":                   "https://oauth2.googleapis.com/revoke",
		"jwks_uri":                              "https://www.googleapis.com/oauth2/v3/certs",
		"response_types_supported":              []string{"code", "token", "id_token", "code token", "code id_token", "token id_token", "code token id_token", "none"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "email", "profile"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"claims_supported":                      []string{"aud", "email", "email_verified", "exp", "family_name", "given_name", "iat", "iss", "name", "picture", "sub"},
		"code_challenge_methods_supported":      []string{"plain", "S256"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:jwt-bearer"},
	})
}

// Entra is a tenant of Microsoft Entra ID (v2.0 endpoints); its userinfo
// is on Microsoft Graph, as the real one's is.
func Entra(t testing.TB, tenant string) *Fake {
	b := "https://login.microsoftonline.com/" + tenant
	return New(t, b+"/v2.0", map[string]any{
		"token_endpoint":                        b + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              b + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     "https://graph.microsoft.com/oidc/userinfo",
		"authorization_endpoint":                b + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         b + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  b + "/oauth2/v2.0/logout",
		"claims_supported":                      []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"},
		"kerberos_endpoint":                     b + "/kerberos",
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   "microsoftonline.com",
		"cloud_graph_host_name":                 "graph.windows.net",
		"msgraph_host":                          "graph.microsoft.com",
		"rbac_url":                              "https://pas.windows.net",
	})
}

// GitLab is gitlab.com or a self-managed instance at base.
func GitLab(t testing.TB, base string) *Fake {
	return New(t, base, map[string]any{
		"authorization_endpoint":                base + "/oauth/authorize",
		"token_endpoint":                        base + "/oauth/token",
		"revocation_endpoint":                   base + "/oauth/revoke",
		"introspection_endpoint":                base + "/oauth/introspect",
		"userinfo_endpoint":                     base + "/oauth/userinfo",
		"jwks_uri":                              base + "/oauth/discovery/keys",
		"scopes_supported":                      []string{"api", "read_api", "read_user", "read_repository", "write_repository", "sudo", "openid", "profile", "email"},
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"grant_types_supported":                 []string{"authorization_code", "password", "client_credentials", "device_code", "refresh_token"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"claim_types_supported":                 []string{"normal"},
		"claims_supported":                      []string{"iss", "sub", "aud", "exp", "iat", "sub_legacy", "name", "nickname", "preferred_username", "email", "email_verified", "website", "profile", "picture", "groups", "groups_direct", "https://gitlab.org/claims/groups/owner", "https://gitlab.org/claims/groups/maintainer", "https://gitlab.org/claims/groups/developer"},
		"code_challenge_methods_supported":      []string{"plain", "S256"},
	})
}

// Keycloak is a realm of the Keycloak server at base.
func Keycloak(t testing.TB, base, realm string) *Fake {
	r := base + "/realms/" + realm
	oc := r + "/protocol/openid-connect"
	return New(t, r, map[string]any{
		"authorization_endpoint":                oc + "/auth",
		"token_endpoint":                        oc + "/token",
		"introspection_endpoint":                oc + "/token/introspect",
		"userinfo_endpoint":                     oc + "/userinfo",
		"end_session_endpoint":                  oc + "/logout",
		"frontchannel_logout_session_supported": true,
		"frontchannel_logout_supported":         true,
		"jwks_uri":                              oc + "/certs",
		"check_session_iframe":                  oc + "/login-status-iframe.html",
		"grant_types_supported":                 []string{"authorization_code", "implicit", "refresh_token", "password", "client_credentials"},
		"response_types_supported":              []string{"code", "none", "id_token", "token", "id_token token", "code id_token", "code token", "code id_token token"},
		"subject_types_supported":               []string{"public", "pairwise"},
		"id_token_signing_alg_values_supported": []string{"PS384", "ES384", "RS384", "HS256", "HS512", "ES256", "RS256", "HS384", "ES512", "PS256", "PS512", "RS512"},
		"code_challenge_methods_supported":      []string{"plain", "S256"},
		"backchannel_logout_supported":          true,
		"backchannel_logout_session_supported":  true,
		"scopes_supported":                      []string{"openid", "profile", "email", "roles", "web-origins", "offline_access", "microprofile-jwt", "acr", "address", "phone"},
	})
}

// Okta is the default custom authorization server of an Okta org.
func Okta(t testing.TB, domain string) *Fake {
	a := "https://" + domain + "/oauth2/default"
	return New(t, a, map[string]any{
		"authorization_endpoint":                a + "/v1/authorize",
		"token_endpoint":                        a + "/v1/token",
		"userinfo_endpoint":                     a + "/v1/userinfo",
		"registration_endpoint":                 "https://" + domain + "/oauth2/v1/clients",
		"jwks_uri":                              a + "/v1/keys",
		"response_types_supported":              []string{"code", "id_token", "code id_token", "code token", "id_token token", "code id_token token"},
		"response_modes_supported":              []string{"query", "fragment", "form_post", "okta_post_message"},
		"grant_types_supported":                 []string{"authorization_code", "implicit", "refresh_token", "password"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "address", "phone", "offline_access", "groups"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"},
		"claims_supported":                      []string{"iss", "ver", "sub", "aud", "iat", "exp", "jti", "auth_time", "amr", "idp", "nonce", "name", "nickname", "preferred_username", "given_name", "middle_name", "family_name", "email", "email_verified", "profile", "zoneinfo", "locale", "address", "phone_number", "picture", "website", "gender", "birthdate", "updated_at", "at_hash", "c_hash"},
		"code_challenge_methods_supported":      []string{"S256"},
		"introspection_endpoint":                a + "/v1/introspect",
		"revocation_endpoint":                   a + "/v1/revoke",
		"end_session_endpoint":                  a + "/v1/logout",
	})
}

// Auth0 is an Auth0 tenant; its issuer ends in a slash.
func Auth0(t testing.TB, domain string) *Fake {
	b := "https://" + strings.TrimSuffix(domain, "/")
	return New(t, b+"/", map[string]any{
		"authorization_endpoint":                b + "/authorize",
		"token_endpoint":                        b + "/oauth/token",
		"device_authorization_endpoint":         b + "/oauth/device/code",
		"userinfo_endpoint":                     b + "/userinfo",
		"mfa_challenge_endpoint":                b + "/mfa/challenge",
		"jwks_uri":                              b + "/.well-known/jwks.json",
		"registration_endpoint":                 b + "/oidc/register",
		"revocation_endpoint":                   b + "/oauth/revoke",
		"scopes_supported":                      []string{"openid", "profile", "offline_access", "name", "given_name", "family_name", "nickname", "email", "email_verified", "picture", "created_at", "identities", "phone", "address"},
		"response_types_supported":              []string{"code", "token", "id_token", "code token", "code id_token", "token id_token", "code token id_token"},
		"code_challenge_methods_supported":      []string{"S256", "plain"},
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"public"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "private_key_jwt"},
		"claims_supported":                      []string{"aud", "auth_time", "created_at", "email", "email_verified", "exp", "family_name", "given_name", "iat", "identities", "iss", "name", "nickname", "phone_number", "picture", "sub"},
		"request_uri_parameter_supported":       false,
		"request_parameter_supported":           false,
		"id_token_signing_alg_values_supported": []string{"HS256", "RS256", "PS256"},
		"end_session_endpoint":                  b + "/oidc/logout",
		"backchannel_logout_supported":          true,
		"backchannel_logout_session_supported":  true,
	})
}
