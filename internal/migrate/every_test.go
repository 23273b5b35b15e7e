package migrate

import (
	"strings"
	"testing"
)

// TestEveryOptionAccountedFor sets every oauth2-proxy option this package
// knows and requires each to be either carried (a key whose comment names
// it) or noted with a reason: none may vanish silently.
func TestEveryOptionAccountedFor(t *testing.T) {
	byName, _ := options()
	values := map[string]string{
		"provider":                       "oidc",
		"oidc_issuer_url":                "https://id.company.com",
		"redirect_url":                   "https://app.company.com/oauth2/callback",
		"cookie_expire":                  "24h",
		"cookie_refresh":                 "1h",
		"cookie_csrf_expire":             "15m",
		"flush_interval":                 "1s",
		"upstream_timeout":               "30s",
		"session_store_type":             "redis",
		"redis_connection_url":           "redis://redis:6379",
		"redis_sentinel_connection_urls": "redis://s1:26379",
		"redis_cluster_connection_urls":  "redis://c1:6379",
		"upstreams":                      "http://app:5050",
		"extra_jwt_issuers":              "https://other.example=api",
		"skip_auth_regex":                "^/health$",
		"skip_auth_routes":               "GET=^/status$",
		"http_address":                   "127.0.0.1:4180",
		"cookie_samesite":                "lax",
		"cookie_path":                    "/",
		"proxy_prefix":                   "/oauth2",
		"ping_path":                      "/ping",
		"ready_path":                     "/ready",
		"scope":                          "openid email",
		"whitelist_domains":              ".company.com",
		"cookie_domains":                 ".company.com",
		"trusted_ips":                    "10.0.0.0/8",
		"trusted_proxy_ips":              "10.0.0.1",
		"email_domains":                  "company.com",
		"real_client_ip_header":          "X-Real-IP",
		"authenticated_emails_file":      "/nonexistent/emails",
	}
	var env []string
	for name, o := range byName {
		v, ok := values[name]
		switch {
		case ok:
		case o.kind == kindBool:
			v = "true"
		case o.kind == kindInt:
			v = "1"
		case o.kind == kindDuration:
			v = "1m"
		default:
			v = "x"
		}
		if name == "config" || name == "alpha_config" {
			continue // files, read by the command
		}
		env = append(env, EnvPrefix+strings.ToUpper(name)+"="+v)
	}
	s, err := FromEnv(env)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Convert(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := string(res.YAML)
	for _, kv := range env {
		src, _, _ := strings.Cut(kv, "=")
		if _, noted := noteFor(res, src); noted {
			continue
		}
		carried := false
		for _, line := range strings.Split(out, "\n") {
			line = strings.TrimSpace(line)
			carried = carried || strings.HasPrefix(line, "# from ") && strings.Contains(line, src)
		}
		if carried {
			continue
		}
		// Secrets are carried as environment references.
		secret := false
		for _, e := range res.Env {
			secret = secret || strings.Contains(e.What, src)
		}
		if !secret {
			t.Errorf("%s is neither carried nor noted", src)
		}
	}
	if len(env) < 160 {
		t.Errorf("only %d options set", len(env))
	}
}

// TestSecretsDir carries secrets as file references, never values.
func TestSecretsDir(t *testing.T) {
	s, err := FromEnv([]string{"OAUTH2_PROXY_CLIENT_SECRET=s3cr3t-value", "OAUTH2_PROXY_EMAIL_DOMAINS=company.com"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Convert(s, Options{SecretsDir: "/run/secrets"})
	if err != nil {
		t.Fatal(err)
	}
	m := decoded(t, res)
	if v, _ := at(m, "oidc.client_secret_file"); v != "/run/secrets/oidc_client_secret" {
		t.Errorf("oidc.client_secret_file = %v", v)
	}
	if v, _ := at(m, "cookie.secrets_file"); v != "/run/secrets/cookie_secrets" {
		t.Errorf("cookie.secrets_file = %v", v)
	}
	var secretEnv bool
	for _, e := range res.Env {
		secretEnv = secretEnv || strings.Contains(e.Name, "SECRET")
	}
	if strings.Contains(string(res.YAML), "s3cr3t-value") || secretEnv {
		t.Errorf("secret written or asked of the environment: %+v\n%s", res.Env, res.YAML)
	}
}
