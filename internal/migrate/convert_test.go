package migrate

import (
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func convertEnv(t *testing.T, env ...string) *Result {
	t.Helper()
	s, err := FromEnv(env)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Convert(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// decoded is the YAML without its comments, as gatehouse reads it.
func decoded(t *testing.T, res *Result) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(res.YAML, &m); err != nil {
		t.Fatalf("output is not YAML: %v\n%s", err, res.YAML)
	}
	return m
}

func at(m map[string]any, path string) (any, bool) {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = mm[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

func noteFor(res *Result, setting string) (Note, bool) {
	for _, n := range res.Notes {
		if n.Setting == setting {
			return n, true
		}
	}
	return Note{}, false
}

func seedEnv(t *testing.T) []string {
	data, err := os.ReadFile("testdata/seed.env")
	if err != nil {
		t.Fatal(err)
	}
	env, err := ParseEnvFile(data)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestSeedConverts(t *testing.T) {
	res := convertEnv(t, seedEnv(t)...)
	if res.Blocked() {
		t.Fatalf("the seed's settings are all carried safely, got %+v", res.Notes)
	}
	m := decoded(t, res)
	for path, want := range map[string]any{
		"oidc.issuer_url":   "https://accounts.google.com",
		"oidc.client_id":    "123456789012-abcdefghijklmnop.apps.googleusercontent.com",
		"http.addr":         "0.0.0.0:4180",
		"cookie.secure":     true,
		"headers.user":      "X-Forwarded-User",
		"oidc.redirect_url": PlaceholderRedirectURL,
	} {
		if got, _ := at(m, path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	if got, _ := at(m, "access.email_domains"); len(got.([]any)) != 1 || got.([]any)[0] != "company.com" {
		t.Errorf("access.email_domains = %v", got)
	}
	ups, _ := at(m, "upstreams")
	if l, ok := ups.([]any); !ok || len(l) != 1 || l[0].(map[string]any)["url"] != "http://my-webserver-container:5050" {
		t.Errorf("upstreams = %v", ups)
	}
	for _, secret := range []string{"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nted", "c2VlZC1jb29raWUtc2VjcmV0LW5ldmVyLXByaW50ZWQ="} {
		if strings.Contains(string(res.YAML), secret) {
			t.Errorf("a secret was written into the configuration:\n%s", res.YAML)
		}
	}
	var names []string
	for _, e := range res.Env {
		names = append(names, e.Name)
	}
	if strings.Join(names, " ") != "GATEHOUSE_OIDC_CLIENT_SECRET GATEHOUSE_COOKIE_SECRETS" {
		t.Errorf("environment to set: %v", names)
	}
	// Every setting read is accounted for: a key that names it, or a note.
	for _, kv := range seedEnv(t) {
		name, _, _ := strings.Cut(kv, "=")
		_, noted := noteFor(res, name)
		if !noted && !strings.Contains(string(res.YAML), name) {
			t.Errorf("%s is neither carried nor noted", name)
		}
	}
}

func TestSecurityRelevantNotCarried(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     []string
		setting string // the setting whose note blocks
		absent  string // a key that must not be written
	}{
		{"unanchored skip regex", []string{"OAUTH2_PROXY_SKIP_AUTH_REGEX=/health"}, "OAUTH2_PROXY_SKIP_AUTH_REGEX", "access.skip"},
		{"negated skip route", []string{"OAUTH2_PROXY_SKIP_AUTH_ROUTES=GET!=^/admin"}, "OAUTH2_PROXY_SKIP_AUTH_ROUTES", "access.skip"},
		{"insecure TLS to the provider", []string{"OAUTH2_PROXY_SSL_INSECURE_SKIP_VERIFY=true"}, "OAUTH2_PROXY_SSL_INSECURE_SKIP_VERIFY", ""},
		{"unsupported provider", []string{"OAUTH2_PROXY_PROVIDER=bitbucket"}, "OAUTH2_PROXY_PROVIDER", "oidc.issuer_url"},
		{"github collaborators", []string{"OAUTH2_PROXY_PROVIDER=github", "OAUTH2_PROXY_GITHUB_REPO=org/repo"}, "OAUTH2_PROXY_GITHUB_REPO", ""},
		{"github team without org", []string{"OAUTH2_PROXY_PROVIDER=github", "OAUTH2_PROXY_GITHUB_TEAM=ops"}, "OAUTH2_PROXY_GITHUB_TEAM", "access.groups"},
		{"insecure cookie on https", []string{"OAUTH2_PROXY_COOKIE_SECURE=false", "OAUTH2_PROXY_REDIRECT_URL=https://app.company.com/oauth2/callback"}, "OAUTH2_PROXY_COOKIE_SECURE", "cookie.secure"},
		{"domain AND group", []string{"OAUTH2_PROXY_EMAIL_DOMAINS=company.com", "OAUTH2_PROXY_ALLOWED_GROUPS=admins"}, "OAUTH2_PROXY_EMAIL_DOMAINS", "access.email_domains"},
		{"google groups", []string{"OAUTH2_PROXY_GOOGLE_GROUPS=eng@company.com"}, "OAUTH2_PROXY_GOOGLE_GROUPS", ""},
		{"skip issuer check", []string{"OAUTH2_PROXY_INSECURE_OIDC_SKIP_ISSUER_VERIFICATION=true"}, "OAUTH2_PROXY_INSECURE_OIDC_SKIP_ISSUER_VERIFICATION", ""},
		{"bearer ID tokens", []string{"OAUTH2_PROXY_SKIP_JWT_BEARER_TOKENS=true"}, "OAUTH2_PROXY_SKIP_JWT_BEARER_TOKENS", ""},
		{"TLS listener", []string{"OAUTH2_PROXY_TLS_CERT_FILE=/c.pem", "OAUTH2_PROXY_TLS_KEY_FILE=/k.pem"}, "OAUTH2_PROXY_TLS_CERT_FILE", ""},
		{"htpasswd users", []string{"OAUTH2_PROXY_HTPASSWD_FILE=/etc/htpasswd"}, "OAUTH2_PROXY_HTPASSWD_FILE", ""},
		{"unknown option", []string{"OAUTH2_PROXY_SOMETHING_NEW=1"}, "OAUTH2_PROXY_SOMETHING_NEW", ""},
		{"multi-tenant azure", []string{"OAUTH2_PROXY_PROVIDER=azure"}, "OAUTH2_PROXY_PROVIDER", "oidc.issuer_url"},
		{"redis without TLS checks", []string{"OAUTH2_PROXY_SESSION_STORE_TYPE=redis", "OAUTH2_PROXY_REDIS_CONNECTION_URL=rediss://redis:6379", "OAUTH2_PROXY_REDIS_INSECURE_SKIP_TLS_VERIFY=true"}, "OAUTH2_PROXY_REDIS_INSECURE_SKIP_TLS_VERIFY", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := convertEnv(t, tc.env...)
			if !res.Blocked() {
				t.Fatalf("not blocked; notes %+v", res.Notes)
			}
			n, ok := noteFor(res, tc.setting)
			if !ok || n.Severity != Blocked {
				t.Errorf("%s: note %+v, want a blocking one", tc.setting, n)
			}
			if !strings.Contains(string(res.YAML), "NOT CARRIED (security):\n#   - "+tc.setting) && !strings.Contains(string(res.YAML), "#   - "+tc.setting+": ") {
				t.Errorf("the configuration's comment does not name %s:\n%s", tc.setting, res.YAML)
			}
			if tc.absent != "" {
				if v, ok := at(decoded(t, res), tc.absent); ok {
					t.Errorf("%s = %v was written", tc.absent, v)
				}
			}
		})
	}
}

func TestCarried(t *testing.T) {
	res := convertEnv(t,
		"OAUTH2_PROXY_PROVIDER=oidc",
		"OAUTH2_PROXY_OIDC_ISSUER_URL=https://id.company.com/realms/main",
		"OAUTH2_PROXY_SKIP_AUTH_ROUTES=GET=^/health$,^/static/",
		"OAUTH2_PROXY_COOKIE_SECURE=false",
		"OAUTH2_PROXY_REDIRECT_URL=http://localhost:4180/oauth2/callback",
		"OAUTH2_PROXY_COOKIE_EXPIRE=12h",
		"OAUTH2_PROXY_SCOPE=email profile groups",
		"OAUTH2_PROXY_WHITELIST_DOMAINS=*.company.com,intranet.company.com:8443",
		"OAUTH2_PROXY_SESSION_STORE_TYPE=redis",
		"OAUTH2_PROXY_REDIS_CONNECTION_URL=redis://:hunter2@redis:6379/2",
		"OAUTH2_PROXY_ALLOWED_GROUPS=eng,ops",
		"OAUTH2_PROXY_EMAIL_DOMAINS=*",
		"OAUTH2_PROXY_UPSTREAMS=http://app:5050/,http://api:8080/api/",
		"OAUTH2_PROXY_PASS_HOST_HEADER=false",
	)
	if res.Blocked() {
		t.Fatalf("blocked: %+v", res.Notes)
	}
	m := decoded(t, res)
	want := map[string]string{
		"oidc.issuer_url":          "https://id.company.com/realms/main",
		"cookie.secure":            "false",
		"session.lifetime":         "12h0m0s",
		"oidc.scopes":              "[openid email profile groups]",
		"redirect.allowed_domains": "[.company.com intranet.company.com]",
		"session.store":            "redis",
		"redis.addrs":              "[redis:6379]",
		"redis.db":                 "2",
		"access.groups":            "[eng ops]",
		"access.skip":              "[map[methods:[GET] path_regex:^/health$] map[path_regex:^/static/]]",
		"upstreams":                "[map[host_header:app:5050 url:http://app:5050] map[host_header:api:8080 path_prefix:/api url:http://api:8080]]",
	}
	for path, w := range want {
		v, ok := at(m, path)
		if got := fmtAny(v); !ok || got != w {
			t.Errorf("%s = %s, want %s", path, got, w)
		}
	}
	if strings.Contains(string(res.YAML), "hunter2") {
		t.Errorf("the Redis password was written:\n%s", res.YAML)
	}
	if _, ok := at(m, "access.email_domains"); ok {
		t.Error("email_domains * with allowed_groups is the groups alone")
	}
}

func fmtAny(v any) string {
	switch x := v.(type) {
	case []any:
		var parts []string
		for _, i := range x {
			parts = append(parts, fmtAny(i))
		}
		return "[" + strings.Join(parts, " ") + "]"
	case map[string]any:
		var keys []string
		for k := range x {
			keys = append(keys, k)
		}
		sortStrings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, k+":"+fmtAny(x[k]))
		}
		return "map[" + strings.Join(parts, " ") + "]"
	}
	return strings.TrimSpace(strings.ReplaceAll(yamlScalar(v), "\n", ""))
}

func yamlScalar(v any) string {
	b, _ := yaml.Marshal(v)
	return string(b)
}

func sortStrings(s []string) {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
}

func TestSources(t *testing.T) {
	toml := []byte("provider = \"google\"\nemail_domains = [\"a.com\", \"b.com\"]\ncookie_secure = true\nupstreams = [\"http://app:5050\"]\n")
	fromFile, err := FromTOML(toml, "oauth2-proxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := fromFile.Get("email_domains"); strings.Join(st.Values, ",") != "a.com,b.com" || st.Source != "oauth2-proxy.cfg: email_domains" {
		t.Errorf("TOML list: %+v", st)
	}
	flags, cfg, err := FromFlags([]string{"--email-domain=c.com", "--email-domain", "d.com", "--cookie-secure", "--config=/etc/o.cfg", "-provider=oidc"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg != "/etc/o.cfg" {
		t.Errorf("config file %q", cfg)
	}
	if st, _ := flags.Get("email_domains"); strings.Join(st.Values, ",") != "c.com,d.com" {
		t.Errorf("repeated flag: %+v", st)
	}
	if st, _ := flags.Get("cookie_secure"); st.Value() != "true" {
		t.Errorf("bare bool flag: %+v", st)
	}
	fromFile.Merge(flags)
	if st, _ := fromFile.Get("provider"); st.Value() != "oidc" {
		t.Errorf("flags win over the file: %+v", st)
	}
	unknown, _, err := FromFlags([]string{"--some-new-switch", "--provider=oidc"})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := unknown.Get("provider"); st == nil || st.Value() != "oidc" {
		t.Errorf("an unknown flag swallowed the next one: %+v", unknown.Names())
	}
	if _, _, err := FromFlags([]string{"--cookie-secure=maybe"}); err == nil || !strings.Contains(err.Error(), "--cookie-secure") {
		t.Errorf("bad bool: %v", err)
	}
	if _, err := FromEnv([]string{"OAUTH2_PROXY_COOKIE_SECURE=yes please"}); err == nil || !strings.Contains(err.Error(), "OAUTH2_PROXY_COOKIE_SECURE") {
		t.Errorf("bad bool in env: %v", err)
	}
	data, err := os.ReadFile("testdata/seed-compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := FromCompose(data, "")
	if err != nil {
		t.Fatal(err)
	}
	if svc.Name != "oauth2-proxy" || len(svc.Environment) != 10 {
		t.Errorf("compose service %s with %d variables", svc.Name, len(svc.Environment))
	}
	if _, err := FromCompose(data, "nope"); err == nil {
		t.Error("a missing --service is an error")
	}
	words, err := SplitWords(`--provider=oidc --scope "openid email" --banner='a b'`)
	if err != nil || strings.Join(words, "|") != "--provider=oidc|--scope|openid email|--banner=a b" {
		t.Errorf("SplitWords = %q, %v", words, err)
	}
	env, err := ParseEnvFile([]byte("# c\nexport A=1\nB=\"two words\"\nC=x # comment\n"))
	if err != nil || strings.Join(env, "|") != "A=1|B=two words|C=x" {
		t.Errorf("ParseEnvFile = %q, %v", env, err)
	}
	if _, err := ParseEnvFile([]byte("no equals sign")); err == nil {
		t.Error("a line without = is an error")
	}
}

func TestComposeInterpolationGoesToTheEnvironment(t *testing.T) {
	data, err := os.ReadFile("testdata/seed-compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := FromCompose(data, "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := FromEnv(svc.Environment)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Convert(s, Options{RedirectURL: "https://app.company.com/oauth2/callback"})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := at(decoded(t, res), "oidc.client_id"); ok {
		t.Errorf("a compose variable was written as a value: %v", v)
	}
	var id bool
	for _, e := range res.Env {
		id = id || e.Name == "GATEHOUSE_OIDC_CLIENT_ID" && strings.Contains(e.What, "${CLIENT_ID}")
	}
	if !id {
		t.Errorf("client ID not moved to the environment: %+v", res.Env)
	}
	if v, _ := at(decoded(t, res), "oidc.redirect_url"); v != "https://app.company.com/oauth2/callback" {
		t.Errorf("redirect_url %v", v)
	}
}

// TestGitHub: oauth2-proxy's github provider becomes a providers entry with
// gatehouse's github preset, its organization and teams access.groups.
func TestGitHub(t *testing.T) {
	res := convertEnv(t, "OAUTH2_PROXY_PROVIDER=github", "OAUTH2_PROXY_GITHUB_ORG=acme", "OAUTH2_PROXY_GITHUB_TEAM=ops,dev",
		"OAUTH2_PROXY_EMAIL_DOMAINS=*", "OAUTH2_PROXY_CLIENT_ID=Iv1.abc", "OAUTH2_PROXY_CLIENT_SECRET=gh-secret-never-printed",
		"OAUTH2_PROXY_REDIRECT_URL=https://app.company.com/oauth2/callback",
		"OAUTH2_PROXY_LOGIN_URL=https://github.company.com/login/oauth/authorize")
	if res.Blocked() {
		t.Fatalf("blocked: %+v", res.Notes)
	}
	m := decoded(t, res)
	ps, _ := at(m, "providers")
	want := "[map[base_url:https://github.company.com client_id:Iv1.abc client_secret_file:secrets/github_client_secret id:github preset:github redirect_url:https://app.company.com/oauth2/callback]]"
	if got := fmtAny(ps); got != want {
		t.Errorf("providers = %s\nwant %s", got, want)
	}
	if got, _ := at(m, "access.groups"); fmtAny(got) != "[acme/ops acme/dev]" {
		t.Errorf("access.groups = %v", got)
	}
	if _, ok := at(m, "oidc"); ok {
		t.Error("an oidc: section beside the providers entry")
	}
	if strings.Contains(string(res.YAML), "gh-secret-never-printed") {
		t.Error("the secret was written")
	}
}
