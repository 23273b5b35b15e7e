package migrate

import "strings"

// Kinds of oauth2-proxy options: how a value is read from the environment
// and from flags.
const (
	kindString   = 's'
	kindBool     = 'b'
	kindList     = 'l' // comma-separated in the environment, repeatable as a flag
	kindDuration = 'd'
	kindInt      = 'i'
)

// optionSpec lists oauth2-proxy's options (v7, pkg/apis/options): the
// config-file name, the kind, and the flag name when it is not the
// config-file name with "-" for "_" (list flags are singular). The
// environment variable is OAUTH2_PROXY_ and the config-file name in upper
// case.
const optionSpec = `
	acr_values                                   s -
	allow_query_semicolons                       b -
	allowed_groups                               l allowed-group
	allowed_roles                                l allowed-role
	api_routes                                   l api-route
	approval_prompt                              s -
	auth_logging                                 b -
	auth_logging_format                          s -
	auth_request_response_mode                   s -
	authenticated_emails_file                    s -
	azure_graph_group_field                      s -
	azure_tenant                                 s -
	backend_logout_url                           s -
	banner                                       s -
	basic_auth_password                          s -
	bearer_token_login_fallback                  b -
	bitbucket_repository                         s -
	bitbucket_team                               s -
	client_id                                    s -
	client_secret                                s -
	client_secret_file                           s -
	code_challenge_method                        s -
	cookie_csrf_expire                           d -
	cookie_csrf_per_request                      b -
	cookie_csrf_per_request_limit                i -
	cookie_csrf_samesite                         s -
	cookie_domains                               l cookie-domain
	cookie_expire                                d -
	cookie_httponly                              b -
	cookie_name                                  s -
	cookie_path                                  s -
	cookie_refresh                               d -
	cookie_samesite                              s -
	cookie_secret                                s -
	cookie_secret_file                           s -
	cookie_secure                                b -
	custom_sign_in_logo                          s -
	custom_templates_dir                         s -
	disable_keep_alives                          b -
	display_htpasswd_form                        b -
	email_domains                                l email-domain
	encode_state                                 b -
	entra_id_allowed_tenants                     l entra-id-allowed-tenant
	entra_id_federated_token_auth                b -
	errors_to_info_log                           b -
	exclude_logging_paths                        l exclude-logging-path
	extra_jwt_issuers                            l -
	flush_interval                               d -
	footer                                       s -
	force_code_challenge_method                  s -
	force_https                                  b -
	force_json_errors                            b -
	gcp_healthchecks                             b -
	github_org                                   s -
	github_repo                                  s -
	github_team                                  s -
	github_token                                 s -
	github_users                                 l github-user
	gitlab_groups                                l gitlab-group
	gitlab_projects                              l gitlab-project
	google_admin_api_user_scope                  s -
	google_admin_email                           s -
	google_groups                                l google-group
	google_service_account_json                  s -
	google_target_principal                      s -
	google_use_application_default_credentials   b -
	google_use_organization_id                   b -
	htpasswd_file                                s -
	htpasswd_user_groups                         l htpasswd-user-group
	http_address                                 s -
	https_address                                s -
	insecure_oidc_allow_unverified_email         b -
	insecure_oidc_skip_issuer_verification       b -
	insecure_oidc_skip_nonce                     b -
	jwt_key                                      s -
	jwt_key_file                                 s -
	keycloak_groups                              l keycloak-group
	logging_compress                             b -
	logging_filename                             s -
	logging_local_time                           b -
	logging_max_age                              i -
	logging_max_backups                          i -
	logging_max_size                             i -
	login_url                                    s -
	metrics_address                              s -
	metrics_secure_address                       s -
	metrics_tls_cert_file                        s -
	metrics_tls_key_file                         s -
	oidc_audience_claims                         l oidc-audience-claim
	oidc_email_claim                             s -
	oidc_enabled_signing_algs                    l oidc-enabled-signing-alg
	oidc_extra_audiences                         l oidc-extra-audience
	oidc_groups_claim                            s -
	oidc_issuer_url                              s -
	oidc_jwks_url                                s -
	oidc_public_key_files                        l oidc-public-key-file
	pass_access_token                            b -
	pass_authorization_header                    b -
	pass_basic_auth                              b -
	pass_host_header                             b -
	pass_user_headers                            b -
	ping_path                                    s -
	ping_user_agent                              s -
	prefer_email_to_user                         b -
	profile_url                                  s -
	prompt                                       s -
	provider                                     s -
	provider_ca_files                            l provider-ca-file
	provider_display_name                        s -
	proxy_prefix                                 s -
	proxy_websockets                             b -
	pubjwk_url                                   s -
	ready_path                                   s -
	real_client_ip_header                        s -
	redeem_url                                   s -
	redirect_url                                 s -
	redis_ca_path                                s -
	redis_cluster_connection_urls                l -
	redis_connection_idle_timeout                i -
	redis_connection_url                         s -
	redis_insecure_skip_tls_verify               b -
	redis_password                               s -
	redis_sentinel_connection_urls               l -
	redis_sentinel_master_name                   s -
	redis_sentinel_password                      s -
	redis_use_cluster                            b -
	redis_use_sentinel                           b -
	redis_username                               s -
	relative_redirect_url                        b -
	request_id_header                            s -
	request_logging                              b -
	request_logging_format                       s -
	resource                                     s -
	reverse_proxy                                b -
	scope                                        s -
	session_cookie_minimal                       b -
	session_store_type                           s -
	set_authorization_header                     b -
	set_basic_auth                               b -
	set_xauthrequest                             b -
	show_debug_on_error                          b -
	signature_key                                s -
	silence_ping_logging                         b -
	skip_auth_preflight                          b -
	skip_auth_regex                              l -
	skip_auth_routes                             l skip-auth-route
	skip_auth_strip_headers                      b -
	skip_claims_from_profile_url                 b -
	skip_jwt_bearer_tokens                       b -
	skip_oidc_discovery                          b -
	skip_provider_button                         b -
	ssl_insecure_skip_verify                     b -
	ssl_upstream_insecure_skip_verify            b -
	standard_logging                             b -
	standard_logging_format                      s -
	tls_cert_file                                s -
	tls_cipher_suites                            l tls-cipher-suite
	tls_key_file                                 s -
	tls_min_version                              s -
	trusted_ips                                  l trusted-ip
	trusted_proxy_ips                            l trusted-proxy-ip
	upstream_timeout                             d -
	upstreams                                    l upstream
	use_system_trust_store                       b -
	user_id_claim                                s -
	validate_url                                 s -
	whitelist_domains                            l whitelist-domain
	config                                       s -
	alpha_config                                 s -
`

// option describes one oauth2-proxy option.
type option struct {
	name string // config-file name
	kind byte
	flag string // flag name, without dashes
}

// options returns oauth2-proxy's options by config-file name and by flag
// name. They are built on each call: the table is data, not state.
func options() (byName, byFlag map[string]option) {
	byName, byFlag = map[string]option{}, map[string]option{}
	for _, line := range strings.Split(optionSpec, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		o := option{name: f[0], kind: f[1][0], flag: f[2]}
		if o.flag == "-" {
			o.flag = strings.ReplaceAll(o.name, "_", "-")
		}
		byName[o.name] = o
		byFlag[o.flag] = o
	}
	return byName, byFlag
}
