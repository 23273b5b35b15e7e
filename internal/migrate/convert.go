package migrate

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Severity says what became of an oauth2-proxy setting.
type Severity int

// Severities, from harmless to blocking.
const (
	// Dropped: not carried, and nothing is lost for security: gatehouse
	// already behaves so, or the setting only shaped logs or pages.
	Dropped Severity = iota
	// Attention: carried or dropped, but something must be done by hand
	// (a value to fill in, a header name the app reads).
	Attention
	// Blocked: a security-relevant setting that cannot be carried as it
	// was. The migration exits 1.
	Blocked
)

func (s Severity) String() string {
	switch s {
	case Dropped:
		return "dropped"
	case Attention:
		return "needs attention"
	}
	return "NOT CARRIED (security)"
}

// Note is what became of one setting that was not carried unchanged.
type Note struct {
	// Setting names it as its source did (OAUTH2_PROXY_COOKIE_SECRET).
	Setting  string
	Severity Severity
	Text     string
}

// EnvVar is a variable gatehouse's environment must set: secrets are
// carried as references, never written into the configuration.
type EnvVar struct {
	Name string // GATEHOUSE_OIDC_CLIENT_SECRET
	What string // what to put in it
}

// Result is a converted configuration.
type Result struct {
	// YAML is gatehouse's configuration, with a comment on every setting.
	YAML []byte
	// Notes are the settings not carried unchanged, in the order met.
	Notes []Note
	// Env lists the variables gatehouse's environment must set.
	Env []EnvVar
}

// Blocked reports whether a security-relevant setting could not be
// carried.
func (r *Result) Blocked() bool {
	return slices.ContainsFunc(r.Notes, func(n Note) bool { return n.Severity == Blocked })
}

// Options tune a conversion.
type Options struct {
	// RedirectURL is gatehouse's callback URL when the configuration has
	// no redirect_url (oauth2-proxy then builds one from each request's
	// Host; gatehouse needs it fixed).
	RedirectURL string
	// SecretsDir, when set, carries secrets as files in this folder
	// (oidc.client_secret_file, ...) instead of GATEHOUSE_* variables.
	SecretsDir string
	// ReadFile reads a file the configuration names
	// (authenticated_emails_file); nil reads none.
	ReadFile func(name string) ([]byte, error)
}

// PlaceholderRedirectURL is the callback written when none is known: a
// reserved name (RFC 2606) that can never resolve, so a forgotten edit
// fails at the first sign-in instead of sending codes elsewhere.
const PlaceholderRedirectURL = "https://gatehouse.invalid/oauth2/callback"

// converter carries one conversion.
type converter struct {
	s     *Settings
	opts  Options
	d     *document
	used  map[string]bool
	notes []Note
	env   []EnvVar
	// redirectHTTPS: the callback is https (or unknown, hence https).
	redirectHTTPS bool
	upstreams     []*url.URL
	// providerType is oauth2-proxy's provider (google when unset).
	providerType string
	// entry, when set, is a providers: entry that takes the oidc: keys
	// (a preset only a providers entry has: github).
	entry        map[string]any
	entryComment []string
}

// Convert turns s into a gatehouse configuration.
func Convert(s *Settings, opts Options) (*Result, error) {
	c := &converter{s: s, opts: opts, d: newDocument(), used: map[string]bool{}, redirectHTTPS: true}
	steps := []func() error{
		c.listener, c.provider, c.cookie, c.session, c.trust, c.redirects,
		c.access, c.bearer, c.upstreamsSection, c.headers, c.pages, c.dropped,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if c.entry != nil {
		c.d.set("providers", []map[string]any{c.entry}, c.entryComment...)
	}
	byName, _ := options()
	for _, name := range s.Names() {
		if c.used[name] {
			continue
		}
		st, _ := s.Get(name)
		if _, known := byName[strings.TrimSuffix(name, "s")]; known && !strings.HasSuffix(name, "ss") {
			c.note(st, Dropped, "oauth2-proxy ignores this name too: the option is %s", strings.TrimSuffix(name, "s"))
			continue
		}
		if o, known := byName[name+"s"]; known && o.kind == kindList {
			c.note(st, Dropped, "oauth2-proxy ignores this name too: a list option's variable is plural (%s%s)", EnvPrefix, strings.ToUpper(o.name))
			continue
		}
		c.note(st, Blocked, "not an option this migration knows, so it cannot say it is safe to leave out")
	}
	yml, err := c.d.render(c.head())
	if err != nil {
		return nil, err
	}
	return &Result{YAML: yml, Notes: c.notes, Env: c.env}, nil
}

// get returns the named setting, or nil, and marks it handled.
func (c *converter) get(name string) *Setting {
	c.used[name] = true
	st, _ := c.s.Get(name)
	return st
}

func (c *converter) str(name string) (string, *Setting) {
	st := c.get(name)
	if st == nil {
		return "", nil
	}
	return st.Value(), st
}

// boolean returns the named flag, def when unset.
func (c *converter) boolean(name string, def bool) (bool, *Setting) {
	st := c.get(name)
	if st == nil {
		return def, nil
	}
	b, err := strconv.ParseBool(st.Value())
	if err != nil {
		// FromEnv and FromFlags refuse these; a TOML file has real booleans.
		return def, st
	}
	return b, st
}

func (c *converter) note(st *Setting, sev Severity, format string, a ...any) {
	c.notes = append(c.notes, Note{Setting: st.Source, Severity: sev, Text: fmt.Sprintf(format, a...)})
}

// from is the comment beside a carried key.
func from(st *Setting, more ...string) string {
	return strings.Join(append([]string{"from " + st.Source}, more...), "; ")
}

// oidc sets a key of the provider: oidc.<name>, or the providers entry's.
func (c *converter) oidc(name string, value any, comment string) {
	if c.entry != nil {
		c.entry[name] = value
		c.entryComment = append(c.entryComment, name+": "+comment)
		return
	}
	c.d.set("oidc."+name, value, comment)
}

// interpolated reports a value docker compose fills in (${VAR}).
func interpolated(v string) bool { return strings.Contains(v, "${") || strings.HasPrefix(v, "$") }

// envName is gatehouse's variable for a configuration key.
func envName(key string) string {
	return "GATEHOUSE_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// plain carries a non-secret scalar, or, when compose fills it in, moves
// it to gatehouse's environment.
func (c *converter) plain(key string, st *Setting, value string, comment ...string) {
	if name, ok := strings.CutPrefix(key, "oidc."); ok && c.entry != nil {
		if interpolated(value) {
			c.note(st, Attention, "%s is filled in by compose; gatehouse reads providers[0].%s from its configuration only: write the value there", value, name)
			return
		}
		c.oidc(name, value, from(st, comment...))
		return
	}
	if interpolated(value) {
		c.env = append(c.env, EnvVar{Name: envName(key), What: fmt.Sprintf("%s (what %s was set to)", value, st.Source)})
		return
	}
	c.d.set(key, value, from(st, comment...))
}

// secret carries a secret as a reference: a file in SecretsDir, or a
// GATEHOUSE_* variable. Its value is never written.
func (c *converter) secret(key, fileKey, fileName, what string) {
	if name, ok := strings.CutPrefix(fileKey, "oidc."); ok && c.entry != nil {
		dir := cmpOr(c.opts.SecretsDir, "secrets")
		p := path.Join(dir, fmt.Sprint(c.entry["id"])+"_client_secret")
		c.oidc(name, p, "write "+what+" into this file")
		c.notes = append(c.notes, Note{Setting: "providers[0]." + name, Severity: Attention,
			Text: "a providers entry reads its secret from a file only: write " + what + " into " + p})
		return
	}
	if c.opts.SecretsDir != "" {
		p := path.Join(c.opts.SecretsDir, fileName)
		c.d.set(fileKey, p, "write "+what+" into this file (never into this configuration)")
		return
	}
	c.env = append(c.env, EnvVar{Name: envName(key), What: what})
}

func (c *converter) listener() error {
	addr, st := c.str("http_address")
	if st != nil {
		a := strings.TrimPrefix(addr, "http://")
		switch {
		case strings.HasPrefix(a, "unix://"):
			c.note(st, Attention, "gatehouse listens on TCP only: set http.addr")
		case a != "127.0.0.1:4180":
			comment := []string{}
			if host, _, err := net.SplitHostPort(a); err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
				comment = append(comment, "every interface, as before: inside a container; elsewhere keep it private (127.0.0.1) behind the proxy")
			}
			c.d.set("http.addr", a, from(st, comment...))
		default:
			c.d.set("http.addr", a, from(st))
		}
	}
	cert, cst := c.str("tls_cert_file")
	key, kst := c.str("tls_key_file")
	if cert != "" || key != "" {
		for _, st := range []*Setting{cst, kst} {
			if st != nil {
				c.note(st, Blocked, "gatehouse's HTTP listener does not terminate TLS: terminate it in the proxy in front (the shipped nginx config does); carrying this would serve plain HTTP where HTTPS was")
			}
		}
	}
	for _, n := range []string{"https_address", "tls_min_version", "tls_cipher_suites"} {
		if st := c.get(n); st != nil {
			c.note(st, Dropped, "TLS is terminated by the proxy in front of gatehouse")
		}
	}
	if on, st := c.boolean("force_https", false); on {
		c.note(st, Attention, "redirect HTTP to HTTPS in the proxy in front (the shipped nginx config does)")
	}
	if v, st := c.str("proxy_prefix"); st != nil && strings.TrimSuffix(v, "/") != "/oauth2" {
		c.note(st, Attention, "gatehouse's endpoints are always under /oauth2/: change the proxy's routes and the provider's redirect URI")
	} else if st != nil {
		c.note(st, Dropped, "gatehouse's endpoints are under /oauth2/ too")
	}
	for _, p := range []struct{ name, def, what string }{{"ping_path", "/ping", "/ping"}, {"ready_path", "/ready", "/ready (and /readyz)"}} {
		if v, st := c.str(p.name); st != nil && v != p.def {
			c.note(st, Attention, "gatehouse answers health checks at %s only: point the health check there", p.what)
		} else if st != nil {
			c.note(st, Dropped, "gatehouse answers at %s too", p.what)
		}
	}
	for _, n := range []string{"metrics_address", "metrics_secure_address"} {
		if st := c.get(n); st != nil {
			c.note(st, Attention, "gatehouse's metrics are on its admin listener (admin.addr, with admin.token_file or mTLS for the session API): set them by hand")
		}
	}
	return nil
}

// providerIssuers are the OpenID Connect issuers of oauth2-proxy's
// providers whose issuer is fixed.
func providerIssuer(provider string) (issuer string, needsIssuerURL, supported bool) {
	switch provider {
	case "google":
		return "https://accounts.google.com", false, true
	case "gitlab":
		return "https://gitlab.com", false, true
	case "oidc", "keycloak-oidc", "entra-id", "adfs", "cidaas":
		return "", true, true
	}
	return "", false, false
}

func (c *converter) provider() error {
	provider, pst := c.str("provider")
	if pst == nil {
		provider = "google" // oauth2-proxy's default
	}
	issuer, ist := c.str("oidc_issuer_url")
	fixed, needsIssuer, supported := providerIssuer(provider)
	tenant, tst := c.str("azure_tenant")
	c.providerType = provider
	switch {
	case provider == "github":
		// gatehouse's github preset (OAuth 2, not OpenID Connect) lives in
		// a providers entry.
		c.entry = map[string]any{"id": "github", "preset": "github"}
		c.entryComment = append(c.entryComment, from(pst, "gatehouse's github preset (docs/providers.md): the user is the login, the primary verified email, organizations and org/team as groups"))
		if v, st := c.str("login_url"); st != nil {
			if u, err := url.Parse(v); err == nil && u.Host != "" && u.Host != "github.com" {
				c.oidc("base_url", u.Scheme+"://"+u.Host, from(st, "GitHub Enterprise Server"))
			}
		}
	case provider == "azure":
		if tenant == "" || tenant == "common" || tenant == "organizations" || tenant == "consumers" {
			st := tst
			if st == nil {
				st = pst
			}
			c.note(st, Blocked, "the azure provider's tenant is %q (any Microsoft account of that kind): gatehouse needs one tenant's issuer, https://login.microsoftonline.com/<tenant-id>/v2.0, and admits no multi-tenant sign-in", cmpOr(tenant, "common"))
		} else {
			c.d.set("oidc.issuer_url", "https://login.microsoftonline.com/"+tenant+"/v2.0", from(pst, "the tenant's v2.0 issuer, from "+tst.Source))
		}
	case !supported:
		c.note(pst, Blocked, "provider %q is not an OpenID Connect provider gatehouse can sign in with: configure the same users through an OpenID Connect provider (for GitHub or Bitbucket, a broker such as Dex or Keycloak)", provider)
	case issuer != "":
		c.d.set("oidc.issuer_url", issuer, from(ist))
	case needsIssuer:
		st := pst
		if st == nil {
			st = &Setting{Source: "provider"}
		}
		c.note(st, Blocked, "provider %q needs oidc_issuer_url, which is not set", provider)
	default:
		st := pst
		if st == nil {
			c.d.set("oidc.issuer_url", fixed, "provider not set: oauth2-proxy's default is google, whose issuer this is")
			break
		}
		more := []string{provider + "'s OpenID Connect issuer"}
		if provider == "google" {
			more = append(more, "like oauth2-proxy, access.email_domains checks the email's domain; for a Workspace domain a providers entry with preset: google and domains: [...] also checks the hd claim (docs/providers.md)")
		}
		c.d.set("oidc.issuer_url", fixed, from(st, more...))
	}
	if tst != nil && provider != "azure" {
		c.note(tst, Dropped, "only used by the azure provider")
	}
	if provider == "entra-id" {
		if st := c.get("entra_id_allowed_tenants"); st != nil {
			c.note(st, Blocked, "gatehouse signs in with one tenant's issuer only")
		}
		if st := c.get("entra_id_federated_token_auth"); st != nil {
			c.note(st, Attention, "gatehouse authenticates to the provider with a client secret: set one")
		}
	}
	if id, st := c.str("client_id"); st != nil {
		c.plain("oidc.client_id", st, id)
	} else if c.entry != nil {
		c.notes = append(c.notes, Note{Setting: "client_id (not set)", Severity: Attention, Text: "set providers[0].client_id to the client ID the provider issued"})
	} else {
		c.env = append(c.env, EnvVar{Name: "GATEHOUSE_OIDC_CLIENT_ID", What: "the client ID the provider issued (not set in the oauth2-proxy configuration)"})
	}
	if f, st := c.str("client_secret_file"); st != nil {
		c.oidc("client_secret_file", f, from(st, "the same file: make it readable by gatehouse"))
		c.get("client_secret")
	} else {
		what := "the provider's client secret"
		if _, st := c.str("client_secret"); st != nil {
			what = "the value of " + st.Source
		}
		c.secret("oidc.client_secret", "oidc.client_secret_file", "oidc_client_secret", what)
	}
	redirect, rst := c.str("redirect_url")
	switch {
	case rst != nil && strings.HasPrefix(redirect, "/"):
		c.note(rst, Attention, "a relative redirect_url: gatehouse needs the absolute callback URL (https://your-host%s); set oidc.redirect_url", redirect)
		c.oidc("redirect_url", PlaceholderRedirectURL, "CHANGE THIS: the absolute URL of "+redirect+", as registered at the provider")
	case rst != nil:
		c.plain("oidc.redirect_url", rst, redirect)
	case c.opts.RedirectURL != "":
		redirect = c.opts.RedirectURL
		c.oidc("redirect_url", redirect, "from --redirect-url")
	default:
		c.notes = append(c.notes, Note{Setting: "redirect_url (not set)", Severity: Attention,
			Text: "oauth2-proxy built the callback from each request's Host; gatehouse needs it fixed: set redirect_url (or migrate with --redirect-url) to https://<your host>/oauth2/callback, as registered at the provider"})
		c.oidc("redirect_url", PlaceholderRedirectURL, "CHANGE THIS: https://<your host>/oauth2/callback, as registered at the provider")
	}
	if u, err := url.Parse(redirect); err == nil && u.Scheme == "http" {
		c.redirectHTTPS = false
	}
	if on, st := c.boolean("relative_redirect_url", false); st != nil {
		if on {
			c.note(st, Attention, "gatehouse's callback (oidc.redirect_url) is an absolute URL")
		} else {
			c.note(st, Dropped, "gatehouse's callback is absolute, as it was")
		}
	}
	if scope, st := c.str("scope"); st != nil && c.entry != nil {
		c.note(st, Dropped, "the github preset asks for read:user user:email read:org itself")
	} else if st != nil {
		scopes := strings.Fields(scope)
		more := []string{}
		if !slices.Contains(scopes, "openid") {
			scopes = append([]string{"openid"}, scopes...)
			more = append(more, "openid added: gatehouse signs in with OpenID Connect")
		}
		c.oidc("scopes", scopes, from(st, more...))
	}
	emailClaim, est := c.str("oidc_email_claim")
	if uc, st := c.str("user_id_claim"); st != nil {
		switch {
		case uc != "email" && (est == nil || emailClaim == "email"):
			// oauth2-proxy's deprecated user_id_claim names the email claim.
			if est != nil {
				c.note(est, Dropped, "the default; %s names the email claim instead, as in oauth2-proxy", st.Source)
			}
			emailClaim, est = uc, st
		case uc == "email":
			c.note(st, Dropped, "the email claim, gatehouse's default too")
		default:
			c.note(st, Dropped, "oauth2-proxy reads the email from oidc_email_claim when both are set")
		}
	}
	if est != nil && emailClaim != "email" {
		c.oidc("email_claim", emailClaim, from(est))
	}
	if g, st := c.str("oidc_groups_claim"); st != nil && g != "groups" {
		c.oidc("groups_claim", g, from(st))
	}
	if on, st := c.boolean("insecure_oidc_allow_unverified_email", false); on {
		c.oidc("allow_unverified_email", true, from(st, "WARNING: admits addresses the provider did not verify; keep it only for a provider that verifies every address"))
	}
	if on, st := c.boolean("insecure_oidc_skip_issuer_verification", false); on {
		c.note(st, Blocked, "gatehouse always checks that the ID token's issuer is oidc.issuer_url (a multi-tenant issuer cannot be accepted)")
	}
	if st := c.get("insecure_oidc_skip_nonce"); st != nil {
		c.note(st, Dropped, "gatehouse always checks the nonce")
	}
	if on, st := c.boolean("skip_oidc_discovery", false); on {
		c.note(st, Blocked, "gatehouse reads the provider's endpoints and keys from its discovery document only")
	}
	endpoints := "gatehouse takes the provider's endpoints and keys from its discovery document"
	if c.entry != nil {
		endpoints = "the github preset knows GitHub's endpoints (base_url for an Enterprise Server)"
	}
	for _, n := range []string{"login_url", "redeem_url", "profile_url", "validate_url", "oidc_jwks_url", "oidc_public_key_files", "skip_claims_from_profile_url"} {
		if st := c.get(n); st != nil {
			c.note(st, Dropped, "%s", endpoints)
		}
	}
	if on, st := c.boolean("ssl_insecure_skip_verify", false); on {
		c.note(st, Blocked, "gatehouse always verifies the provider's TLS certificate: give it the CA instead (SSL_CERT_FILE in its environment)")
	}
	if st := c.get("provider_ca_files"); st != nil {
		c.note(st, Attention, "gatehouse uses the system's trust store: point SSL_CERT_FILE (or SSL_CERT_DIR) in its environment at %s", strings.Join(st.Values, ", "))
	}
	if st := c.get("use_system_trust_store"); st != nil {
		c.note(st, Dropped, "gatehouse always uses the system's trust store")
	}
	for _, n := range []string{"code_challenge_method", "force_code_challenge_method"} {
		if st := c.get(n); st != nil {
			c.note(st, Dropped, "gatehouse always uses PKCE with S256")
		}
	}
	for _, n := range []string{"prompt", "approval_prompt", "auth_request_response_mode"} {
		if st := c.get(n); st != nil {
			c.note(st, Dropped, "gatehouse sends no such authorization parameter")
		}
	}
	if st := c.get("acr_values"); st != nil {
		c.note(st, Blocked, "gatehouse does not request acr_values, so an authentication level (such as MFA) asked for this way would no longer be")
	}
	for _, n := range []string{"oidc_audience_claims", "oidc_extra_audiences"} {
		if st := c.get(n); st != nil {
			c.note(st, Dropped, "gatehouse accepts only ID tokens issued for oidc.client_id (stricter)")
		}
	}
	if st := c.get("oidc_enabled_signing_algs"); st != nil {
		c.note(st, Dropped, "gatehouse accepts the signing algorithms the provider's discovery document lists")
	}
	if v, st := c.str("provider_display_name"); st != nil {
		c.d.set("pages.provider_name", v, from(st))
	}
	if st := c.get("backend_logout_url"); st != nil {
		c.note(st, Dropped, "gatehouse signs out at the provider through its discovery document's end_session_endpoint")
	}
	for _, n := range []string{"jwt_key", "jwt_key_file", "pubjwk_url", "resource", "azure_graph_group_field"} {
		if st := c.get(n); st != nil {
			c.note(st, Dropped, "belongs to an oauth2-proxy provider gatehouse does not have")
		}
	}
	return nil
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func (c *converter) cookie() error {
	if st := c.get("cookie_name"); st != nil {
		c.note(st, Dropped, "gatehouse's session cookie has its own format and name (_gatehouse); oauth2-proxy's cookies are ignored, so everyone signs in once more")
	}
	what := "a new key: openssl rand -base64 32 (oauth2-proxy's sessions cannot be carried over, and a key is best not shared between two programs)"
	for _, n := range []string{"cookie_secret", "cookie_secret_file"} {
		if st := c.get(n); st != nil {
			c.note(st, Attention, "not carried: gatehouse needs its own key (cookie.secrets): %s", what)
		}
	}
	c.secret("cookie.secrets", "cookie.secrets_file", "cookie_secrets", what)
	if st := c.get("cookie_domains"); st != nil {
		switch len(st.Values) {
		case 0:
		case 1:
			c.d.set("cookie.domain", st.Values[0], from(st))
		default:
			c.note(st, Blocked, "gatehouse sets its cookie for one domain; oauth2-proxy chose among %s by the request's host: choose cookie.domain by hand", strings.Join(st.Values, ", "))
		}
	}
	if v, st := c.str("cookie_path"); st != nil && v != "/" && v != "" {
		c.note(st, Blocked, "gatehouse's cookie is for the whole host (Path=/), wider than %s", v)
	} else if st != nil {
		c.note(st, Dropped, "gatehouse's cookie has Path=/ too")
	}
	if v, st := c.str("cookie_expire"); st != nil {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			return fmt.Errorf("%s: %q is not a duration such as 168h", st.Source, v)
		case d == 0:
			c.note(st, Blocked, "0 made a browser-session cookie, gone when the browser closes; gatehouse's sessions always last session.lifetime")
		default:
			c.d.set("session.lifetime", d.String(), from(st))
		}
	}
	if st := c.get("cookie_refresh"); st != nil {
		c.note(st, Dropped, "gatehouse renews the provider's tokens before they expire by itself (with the offline_access scope)")
	}
	secure, st := c.boolean("cookie_secure", true)
	switch {
	case st == nil:
	case secure:
		c.d.set("cookie.secure", true, from(st, "gatehouse's default"))
	case c.redirectHTTPS:
		c.note(st, Blocked, "cookie_secure=false with an https callback would send the session cookie over plain HTTP; gatehouse keeps cookie.secure: true (set false only for plain-HTTP development)")
	default:
		c.d.set("cookie.secure", false, from(st, "the callback is plain http: development only"))
	}
	if on, st := c.boolean("cookie_httponly", true); st != nil {
		if on {
			c.note(st, Dropped, "gatehouse's cookies are always HttpOnly")
		} else {
			c.note(st, Blocked, "gatehouse's cookies are always HttpOnly: a script that read the cookie stops working")
		}
	}
	if v, st := c.str("cookie_samesite"); st != nil {
		switch strings.ToLower(v) {
		case "", "lax":
			c.note(st, Dropped, "gatehouse's cookies are always SameSite=Lax")
		case "strict":
			c.note(st, Blocked, "gatehouse's cookies are SameSite=Lax, looser than Strict")
		default:
			c.note(st, Dropped, "gatehouse's cookies are SameSite=Lax (stricter than %q: a cross-site embed no longer carries the session)", v)
		}
	}
	for _, n := range []string{"cookie_csrf_per_request", "cookie_csrf_per_request_limit", "cookie_csrf_expire", "cookie_csrf_samesite"} {
		if st := c.get(n); st != nil {
			c.note(st, Dropped, "gatehouse keeps one login cookie per sign-in attempt (at most 5), bound to its state")
		}
	}
	if st := c.get("session_cookie_minimal"); st != nil {
		c.note(st, Dropped, "gatehouse's cookie holds only a sealed reference to the session")
	}
	return nil
}

func (c *converter) session() error {
	store, st := c.str("session_store_type")
	st0 := st
	switch {
	case st == nil || store == "cookie":
		if st != nil {
			c.note(st, Attention, "gatehouse keeps sessions server-side: the default session.store: memory serves one replica; use redis for several")
		}
		for _, n := range []string{"redis_connection_url", "redis_username", "redis_password", "redis_use_sentinel", "redis_sentinel_password",
			"redis_sentinel_master_name", "redis_sentinel_connection_urls", "redis_use_cluster", "redis_cluster_connection_urls", "redis_ca_path",
			"redis_insecure_skip_tls_verify", "redis_connection_idle_timeout"} {
			if rst := c.get(n); rst != nil {
				c.note(rst, Dropped, "Redis is not the session store (session_store_type is not redis)")
			}
		}
		return nil
	case store != "redis":
		return fmt.Errorf("%s: %q is not cookie or redis", st.Source, store)
	}
	c.d.set("session.store", "redis", from(st))
	var addrs []string
	tls := false
	hostOf := func(st *Setting, raw string) (string, error) {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			return "", fmt.Errorf("%s: %q is not a redis:// or rediss:// URL", st.Source, raw)
		}
		if u.Scheme == "rediss" {
			tls = true
		}
		if u.User != nil {
			if _, has := u.User.Password(); has {
				c.secret("redis.password", "redis.password_file", "redis_password", "the password in "+st.Source)
			}
			if name := u.User.Username(); name != "" {
				c.d.set("redis.username", name, from(st))
			}
		}
		if db := strings.Trim(u.Path, "/"); db != "" && db != "0" {
			n, err := strconv.Atoi(db)
			if err != nil {
				return "", fmt.Errorf("%s: database %q is not a number", st.Source, db)
			}
			c.d.set("redis.db", n, from(st))
		}
		return u.Host, nil
	}
	sentinel, sst := c.boolean("redis_use_sentinel", false)
	cluster, cst := c.boolean("redis_use_cluster", false)
	var src, mode *Setting
	unused := []string{"redis_connection_url", "redis_sentinel_connection_urls", "redis_cluster_connection_urls", "redis_sentinel_master_name", "redis_sentinel_password"}
	switch {
	case sentinel:
		src, mode = c.get("redis_sentinel_connection_urls"), sst
		unused = []string{"redis_connection_url", "redis_cluster_connection_urls"}
		if m, mst := c.str("redis_sentinel_master_name"); mst != nil {
			c.d.set("redis.master_name", m, from(mst))
		}
		if pst := c.get("redis_sentinel_password"); pst != nil {
			c.note(pst, Attention, "gatehouse uses redis.password for the Sentinels as for the master: they must share it")
		}
		if cluster {
			c.note(cst, Attention, "Sentinel and Cluster both on: Sentinel (%s) is used, as oauth2-proxy does", sst.Source)
		}
	case cluster:
		src, mode = c.get("redis_cluster_connection_urls"), cst
		unused = slices.DeleteFunc(unused, func(n string) bool { return n == "redis_cluster_connection_urls" })
	default:
		src = c.get("redis_connection_url")
		unused = unused[1:]
	}
	for _, m := range []*Setting{sst, cst} {
		if m != nil && m != mode && !(sentinel && cluster) {
			c.note(m, Dropped, "off")
		}
	}
	if src == nil {
		st := mode
		if st == nil {
			st = st0
		}
		c.note(st, Attention, "no Redis address: set redis.addrs")
	} else {
		for _, raw := range src.Values {
			h, err := hostOf(src, raw)
			if err != nil {
				return err
			}
			addrs = append(addrs, h)
		}
		more := []string{}
		if mode != nil {
			more = append(more, "mode from "+mode.Source)
		}
		c.d.set("redis.addrs", addrs, from(src, more...))
	}
	for _, n := range unused {
		if rst := c.get(n); rst != nil {
			c.note(rst, Dropped, "not the Redis mode in use")
		}
	}
	if u, ust := c.str("redis_username"); ust != nil {
		c.d.set("redis.username", u, from(ust))
	}
	if _, pst := c.str("redis_password"); pst != nil {
		c.secret("redis.password", "redis.password_file", "redis_password", "the value of "+pst.Source)
	}
	if ca, cast := c.str("redis_ca_path"); cast != nil {
		tls = true
		c.d.set("redis.tls.ca_file", ca, from(cast))
	}
	if tls {
		c.d.set("redis.tls.enabled", true, "rediss:// or a CA file: TLS to Redis")
	}
	if on, ist := c.boolean("redis_insecure_skip_tls_verify", false); on {
		c.note(ist, Blocked, "gatehouse always verifies Redis's TLS certificate: give it the CA in redis.tls.ca_file")
	}
	if ist := c.get("redis_connection_idle_timeout"); ist != nil {
		c.note(ist, Dropped, "gatehouse's Redis client manages its idle connections")
	}
	return nil
}

func (c *converter) trust() error {
	if on, st := c.boolean("reverse_proxy", false); st != nil {
		if on {
			c.note(st, Dropped, "gatehouse believes X-Forwarded-* headers only from trusted_proxies (loopback and private ranges unless set)")
		} else {
			c.note(st, Dropped, "gatehouse believes X-Forwarded-* headers from trusted_proxies only (loopback and private ranges unless set): list just your proxy's address there")
		}
	}
	if st := c.get("trusted_proxy_ips"); st != nil {
		c.d.set("trusted_proxies", st.Values, from(st, "their X-Forwarded-For is believed, and only they may call /authz/ and /oauth2/auth"))
	}
	if v, st := c.str("real_client_ip_header"); st != nil && !strings.EqualFold(v, "X-Real-IP") {
		c.note(st, Attention, "gatehouse reads the client address from X-Forwarded-For (its last entry, added by a trusted proxy), not %s", v)
	} else if st != nil {
		c.note(st, Dropped, "gatehouse reads the client address from X-Forwarded-For (its last entry, added by a trusted proxy)")
	}
	return nil
}

func (c *converter) redirects() error {
	st := c.get("whitelist_domains")
	if st == nil {
		return nil
	}
	var out, changed []string
	for _, d := range st.Values {
		orig, why := d, ""
		if strings.HasPrefix(d, "*.") {
			d, why = d[1:], "a leading dot admits the domain and its subdomains"
		}
		if h, port, err := net.SplitHostPort(d); err == nil {
			d, why = h, "gatehouse matches the host at any port, not only "+port
		}
		if d != orig {
			changed = append(changed, fmt.Sprintf("%s written as %s (%s)", orig, d, why))
		}
		out = append(out, d)
	}
	c.d.set("redirect.allowed_domains", out, from(st, changed...))
	if len(changed) > 0 {
		c.note(st, Attention, "%s", strings.Join(changed, "; "))
	}
	return nil
}

// anchored reports a regular expression that can only match from the
// path's start.
func anchored(re string) bool { return strings.HasPrefix(re, "^") }

func (c *converter) access() error {
	var rules []map[string]any
	if st := c.get("trusted_ips"); st != nil {
		rules = append(rules, map[string]any{"name": "oauth2-proxy trusted_ips", "client_cidrs": st.Values, "action": "allow"})
		c.note(st, Attention, "carried as a first rule that allows these client addresses without sign-in (and without identity), as oauth2-proxy did; the address is the one your proxy saw: behind a load balancer, the balancer's")
	}
	if len(rules) > 0 {
		c.d.set("access.rules", rules, "from trusted_ips: checked before everything else")
	}
	var skips []map[string]any
	addSkip := func(st *Setting, method, re string) {
		if _, err := regexp.Compile(re); err != nil {
			c.note(st, Blocked, "%q is not a Go regular expression (%v)", re, err)
			return
		}
		if !anchored(re) {
			c.note(st, Blocked, "%q is not anchored with ^: it matches anywhere in the path (say /api/%s-like names deeper down), opening more than its author likely meant; write it as ^/... and add it to access.skip by hand", re, strings.Trim(re, "/$^"))
			return
		}
		skip := map[string]any{"path_regex": re}
		if method != "" {
			skip["methods"] = []string{method}
		}
		skips = append(skips, skip)
	}
	var skipSources []string
	if st := c.get("skip_auth_regex"); st != nil {
		skipSources = append(skipSources, st.Source)
		for _, re := range st.Values {
			addSkip(st, "", re)
		}
	}
	if st := c.get("skip_auth_routes"); st != nil {
		skipSources = append(skipSources, st.Source)
		for _, route := range st.Values {
			if strings.Contains(route, "!=") {
				c.note(st, Blocked, "%q opens every path that does NOT match; gatehouse's skip routes name what they open: write that as ^/... routes by hand", route)
				continue
			}
			method, re, ok := strings.Cut(route, "=")
			if !ok {
				method, re = "", route
			}
			addSkip(st, strings.ToUpper(method), re)
		}
	}
	if on, st := c.boolean("skip_auth_preflight", false); on {
		skipSources = append(skipSources, st.Source)
		skips = append(skips, map[string]any{"methods": []string{"OPTIONS"}})
		c.note(st, Attention, "carried: every OPTIONS request passes without sign-in, as before; the app must not act on OPTIONS")
	}
	if len(skips) > 0 {
		c.d.set("access.skip", skips, "from "+strings.Join(skipSources, ", ")+": gatehouse matches the normalized path (decoded, dot segments resolved), never the query")
	}
	groups := c.get("allowed_groups")
	var restrictGroups []string
	var groupSrc *Setting
	if groups != nil {
		restrictGroups, groupSrc = groups.Values, groups
	}
	checks := []string{"google_groups", "google_group", "keycloak_groups", "gitlab_groups", "gitlab_projects", "github_org", "github_team", "github_repo", "github_users", "bitbucket_team", "bitbucket_repository", "allowed_roles"}
	if c.providerType == "github" {
		org, ost := c.str("github_org")
		teams := c.get("github_team")
		switch {
		case ost != nil && teams != nil:
			var gs []string
			for _, t := range splitList(strings.Join(teams.Values, ",")) {
				gs = append(gs, org+"/"+t)
			}
			c.note(teams, Dropped, "carried as access.groups org/team (with %s)", ost.Source)
			restrictGroups, groupSrc = append(restrictGroups, gs...), teams
		case ost != nil:
			restrictGroups, groupSrc = append(restrictGroups, org), ost
		case teams != nil:
			c.note(teams, Blocked, "a team without github_org: gatehouse's groups are org/team")
		}
		checks = slices.DeleteFunc(checks, func(n string) bool { return n == "github_org" || n == "github_team" })
	}
	for _, n := range checks {
		if st := c.get(n); st != nil {
			c.note(st, Blocked, "a membership check gatehouse does not make (it reads groups from the ID token's %s claim only); until it is replaced by access.groups or a require rule on a claim, the users it kept out would be admitted by the other lists", "groups")
		}
	}
	for _, n := range []string{"google_admin_email", "google_service_account_json", "google_use_application_default_credentials", "google_target_principal", "google_use_organization_id", "google_admin_api_user_scope", "github_token"} {
		if st := c.get(n); st != nil {
			c.note(st, Dropped, "only served a membership check gatehouse does not make")
		}
	}
	domains := c.get("email_domains")
	anyDomain := domains != nil && slices.Contains(domains.Values, "*")
	emailsFile := c.get("authenticated_emails_file")
	var emails []string
	if emailsFile != nil {
		var err error
		emails, err = c.readEmails(emailsFile.Value())
		if err != nil {
			c.note(emailsFile, Blocked, "could not read it here (%v): list its addresses in access.emails by hand", err)
		}
	}
	switch {
	case len(restrictGroups) > 0:
		// oauth2-proxy required an allowed domain AND an allowed group;
		// gatehouse's lists admit a user on any one of them.
		c.d.set("access.groups", restrictGroups, from(groupSrc))
		if domains != nil && !anyDomain {
			c.note(domains, Blocked, "oauth2-proxy admitted only users at these domains who were also in allowed_groups; gatehouse admits a user on any one list, so only access.groups is written (members of those groups at other domains would also be admitted, if your provider has any)")
		}
		if emailsFile != nil && len(emails) > 0 {
			c.note(emailsFile, Blocked, "oauth2-proxy required these addresses AND allowed_groups; gatehouse cannot require both: not written")
		}
	default:
		if domains != nil {
			c.d.set("access.email_domains", domains.Values, from(domains, "matched against verified addresses only"))
		}
		if len(emails) > 0 {
			c.d.set("access.emails", emails, from(emailsFile, "read now from the file: later edits to it are not seen (keep the list in access.policy_file to change it without a restart)"))
		}
	}
	if domains == nil && emailsFile == nil && len(restrictGroups) == 0 {
		c.notes = append(c.notes, Note{Setting: "email_domains (not set)", Severity: Attention,
			Text: "no allow-list: gatehouse admits nobody until access.email_domains, emails or groups is set"})
	}
	if st := c.get("htpasswd_file"); st != nil {
		c.note(st, Blocked, "gatehouse signs users in through the OpenID Connect provider only: the users of this file could no longer sign in, and no password form is served")
	}
	for _, n := range []string{"htpasswd_user_groups", "display_htpasswd_form"} {
		if st := c.get(n); st != nil {
			c.note(st, Dropped, "gatehouse has no password form")
		}
	}
	for _, n := range []string{"api_routes", "force_json_errors"} {
		if st := c.get(n); st != nil {
			c.note(st, Dropped, "gatehouse answers 401 (JSON) instead of a sign-in redirect to every client that is not a browser navigating (by Accept, Sec-Fetch-Mode, X-Requested-With)")
		}
	}
	if on, st := c.boolean("skip_auth_strip_headers", true); st != nil {
		if on {
			c.note(st, Dropped, "gatehouse always replaces client-sent identity headers")
		} else {
			c.note(st, Dropped, "gatehouse always replaces client-sent identity headers (stricter)")
		}
	}
	return nil
}

// readEmails reads an authenticated_emails_file: one address a line.
func (c *converter) readEmails(name string) ([]string, error) {
	if c.opts.ReadFile == nil {
		return nil, fmt.Errorf("reading files is off")
	}
	data, err := c.opts.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, strings.ToLower(l))
		}
	}
	return out, nil
}

func (c *converter) bearer() error {
	on, st := c.boolean("skip_jwt_bearer_tokens", false)
	issuers := c.get("extra_jwt_issuers")
	if on {
		c.note(st, Blocked, "oauth2-proxy accepted ID tokens of oidc.client_id as bearer tokens; gatehouse accepts only access tokens issued for an API audience (access.bearer: enabled, audiences): API clients are refused until that is set")
	}
	if issuers == nil {
		return nil
	}
	if !on {
		c.note(issuers, Dropped, "only used with skip_jwt_bearer_tokens")
		return nil
	}
	var list []map[string]any
	for _, pair := range issuers.Values {
		iss, aud, ok := strings.Cut(pair, "=")
		if !ok || iss == "" || aud == "" {
			return fmt.Errorf("%s: %q is not issuer=audience", issuers.Source, pair)
		}
		list = append(list, map[string]any{"issuer_url": iss, "audiences": []string{aud}})
	}
	c.d.set("access.bearer.issuers", list, from(issuers, "each issuer's tokens for that audience are accepted as access tokens"))
	return nil
}

func (c *converter) headers() error {
	proxied := len(c.upstreams) > 0
	hasUpstreams := proxied
	passUser, pst := c.boolean("pass_user_headers", true)
	passBasic, bst := c.boolean("pass_basic_auth", true)
	xauth, xst := c.boolean("set_xauthrequest", false)
	if len(c.upstreams) > 0 && !proxied && (passUser || passBasic) {
		c.notes = append(c.notes, Note{Setting: "pass_user_headers (on by default)", Severity: Attention,
			Text: "oauth2-proxy sent the app X-Forwarded-User, -Email, -Groups and -Preferred-Username; behind nginx's auth_request the app gets gatehouse's X-Auth-Request-* (or rename them with headers.*)"})
	}
	if proxied && (passUser || passBasic) {
		names := [][2]string{{"user", "X-Forwarded-User"}, {"email", "X-Forwarded-Email"}, {"groups", "X-Forwarded-Groups"}, {"preferred_username", "X-Forwarded-Preferred-Username"}}
		for i, n := range names {
			comment := []string{}
			if i == 0 {
				comment = append(comment, "the names oauth2-proxy sent the app (pass_user_headers, on by default); gatehouse removes any the client sent")
				for _, st := range []*Setting{pst, bst} {
					if st != nil {
						comment = append(comment, "from "+st.Source)
					}
				}
			}
			c.d.set("headers."+n[0], n[1], comment...)
		}
	}
	if pst != nil && !(hasUpstreams && (passUser || passBasic)) {
		c.note(pst, Dropped, "gatehouse sends its identity headers (headers.*) on every allow, named as configured")
	}
	if xst != nil {
		if xauth && hasUpstreams {
			c.note(xst, Attention, "gatehouse sends one set of identity headers to the app (headers.*, here X-Forwarded-*), not also X-Auth-Request-* on the response")
		} else {
			c.note(xst, Dropped, "gatehouse's forward-auth replies always carry X-Auth-Request-User, -Email, -Groups and -Preferred-Username")
		}
	}
	if on, st := c.boolean("prefer_email_to_user", false); on {
		c.oidc("user_claim", "email", from(st, "the user header carries the email"))
	}
	pw := c.get("basic_auth_password")
	setBasic, sbst := c.boolean("set_basic_auth", false)
	if pw != nil {
		c.note(pw, Attention, "gatehouse sends no Basic credentials to the app: an app that checked this shared password needs another check (assertion.enabled signs the identity)")
	}
	if setBasic {
		c.note(sbst, Attention, "gatehouse sends no Basic credentials: an app that read them needs the identity headers")
	} else if sbst != nil {
		c.note(sbst, Dropped, "off")
	}
	if bst != nil && !(hasUpstreams && (passUser || passBasic)) {
		c.note(bst, Dropped, "gatehouse sends no Basic credentials; the user headers it implied are sent")
	}
	if on, st := c.boolean("pass_access_token", false); on {
		c.d.set("headers.access_token", true, from(st))
		c.note(st, Attention, "gatehouse sends the access token in X-Auth-Request-Access-Token, not X-Forwarded-Access-Token: change the app, or the proxy's header mapping")
	}
	auth1, a1 := c.boolean("pass_authorization_header", false)
	auth2, a2 := c.boolean("set_authorization_header", false)
	if auth1 || auth2 {
		var srcs []string
		for _, st := range []*Setting{a1, a2} {
			if st != nil {
				srcs = append(srcs, st.Source)
			}
		}
		c.d.set("headers.authorization", true, "from "+strings.Join(srcs, ", ")+"; Authorization: Bearer <ID token>, as oauth2-proxy sent it")
		c.d.set("headers.token", "id", "the ID token, as oauth2-proxy sent")
	} else {
		for _, st := range []*Setting{a1, a2} {
			if st != nil {
				c.note(st, Dropped, "off")
			}
		}
	}
	return nil
}

func (c *converter) upstreamsSection() error {
	st := c.get("upstreams")
	if st == nil {
		for _, n := range []string{"pass_host_header", "proxy_websockets", "flush_interval", "upstream_timeout", "disable_keep_alives", "ssl_upstream_insecure_skip_verify"} {
			if ost := c.get(n); ost != nil {
				c.note(ost, Dropped, "no upstreams: gatehouse answers a proxy's checks only")
			}
		}
		return nil
	}
	passHost, hst := c.boolean("pass_host_header", true)
	timeout, tst := c.str("upstream_timeout")
	var ups []map[string]any
	for _, raw := range st.Values {
		u, err := url.Parse(raw)
		if err != nil {
			return fmt.Errorf("%s: %q is not a URL", st.Source, raw)
		}
		switch u.Scheme {
		case "http", "https":
		case "file", "static", "unix":
			c.note(st, Attention, "%s: gatehouse proxies to HTTP upstreams only; serve it from the proxy in front or a small web server", raw)
			continue
		default:
			return fmt.Errorf("%s: %q: scheme %q is not http, https, file, static or unix", st.Source, raw, u.Scheme)
		}
		if u.RawQuery != "" || u.User != nil {
			c.note(st, Attention, "%s: gatehouse's upstream URL has no query or user: not carried", raw)
			continue
		}
		c.upstreams = append(c.upstreams, u)
		up := map[string]any{"url": u.Scheme + "://" + u.Host}
		// oauth2-proxy routes by the URL's path and sends it unchanged.
		if p := strings.TrimSuffix(u.Path, "/"); p != "" {
			up["path_prefix"] = p
		}
		if !passHost {
			up["host_header"] = u.Host
		}
		if tst != nil {
			d, err := time.ParseDuration(timeout)
			if err != nil {
				return fmt.Errorf("%s: %q is not a duration such as 30s", tst.Source, timeout)
			}
			up["timeouts"] = map[string]any{"response_header": d.String()}
		}
		ups = append(ups, up)
	}
	if len(ups) > 0 {
		more := []string{"gatehouse's reverse-proxy mode (docs/reverse-proxy.md): allowed requests go to these, by path prefix"}
		if hst != nil {
			more = append(more, "pass_host_header from "+hst.Source)
		}
		if tst != nil {
			more = append(more, "upstream_timeout from "+tst.Source+" bounds the wait for the response headers")
		}
		comment := []string{from(st, more...)}
		c.d.set("upstreams", ups, comment...)
	}
	for _, n := range []string{"proxy_websockets", "flush_interval", "disable_keep_alives"} {
		if ost := c.get(n); ost != nil {
			c.note(ost, Dropped, "gatehouse's reverse proxy passes WebSockets and streamed responses through as they come")
		}
	}
	if on, ost := c.boolean("ssl_upstream_insecure_skip_verify", false); on {
		c.note(ost, Blocked, "gatehouse verifies the upstream's TLS certificate")
	}
	return nil
}

func (c *converter) pages() error {
	if st := c.get("skip_provider_button"); st != nil {
		c.note(st, Dropped, "gatehouse sends a browser straight to the provider, as skip_provider_button=true did; /oauth2/sign_in shows the provider button page when asked for")
	}
	if v, st := c.str("custom_sign_in_logo"); st != nil {
		if strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "https://") || v == "-" {
			c.note(st, Dropped, "gatehouse's pages load nothing from elsewhere; pages.logo_file takes a local file")
		} else {
			c.d.set("pages.logo_file", v, from(st))
		}
	}
	if st := c.get("custom_templates_dir"); st != nil {
		c.note(st, Attention, "gatehouse's templates are its own (pages.templates_dir takes gatehouse templates, see docs/pages.md); oauth2-proxy's are not read")
	}
	for _, n := range []string{"banner", "footer", "show_debug_on_error"} {
		if st := c.get(n); st != nil {
			c.note(st, Dropped, "gatehouse's pages take pages.product_name and pages.footer_links instead")
		}
	}
	return nil
}

// dropped notes the settings that only shaped oauth2-proxy's own
// operation.
func (c *converter) dropped() error {
	logging := []string{"auth_logging", "auth_logging_format", "request_logging", "request_logging_format", "standard_logging",
		"standard_logging_format", "errors_to_info_log", "exclude_logging_paths", "logging_local_time", "silence_ping_logging",
		"request_id_header", "logging_filename", "logging_max_size", "logging_max_age", "logging_max_backups", "logging_compress"}
	for _, n := range logging {
		if st := c.get(n); st != nil {
			c.note(st, Dropped, "gatehouse logs JSON lines on stderr (log.level, log.format)")
		}
	}
	reasons := map[string]string{
		"ping_user_agent":             "gatehouse answers health checks by path (/ping, /healthz, /readyz), not by User-Agent",
		"gcp_healthchecks":            "gatehouse answers health checks at /ping, /healthz and /readyz",
		"encode_state":                "gatehouse's state is its own",
		"allow_query_semicolons":      "gatehouse never reads the query",
		"config":                      "the file it names was read",
		"metrics_tls_cert_file":       "the admin listener's TLS is admin.tls",
		"metrics_tls_key_file":        "the admin listener's TLS is admin.tls",
		"bearer_token_login_fallback": "gatehouse refuses an invalid bearer token with 401",
	}
	for _, n := range slices.Sorted(mapsKeys(reasons)) {
		if st := c.get(n); st != nil {
			c.note(st, Dropped, "%s", reasons[n])
		}
	}
	if st := c.get("signature_key"); st != nil {
		c.note(st, Attention, "gatehouse sends no GAP-Signature; an app that checked it can verify gatehouse's signed identity assertion instead (assertion.enabled)")
	}
	if st := c.get("alpha_config"); st != nil {
		c.note(st, Blocked, "oauth2-proxy's alpha configuration is not read by this migration: its providers, upstreams and headers are not carried")
	}
	return nil
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// head is the comment at the top of the configuration: where it came
// from, what the environment must set, and every setting not carried.
func (c *converter) head() []string {
	h := []string{
		"gatehouse configuration, migrated from oauth2-proxy by `gatehouse migrate oauth2-proxy`.",
		"Each key says which oauth2-proxy setting it came from; the settings that were not",
		"carried are listed below with the reason. Check it with: gatehouse check-config --config FILE",
	}
	if len(c.env) > 0 {
		h = append(h, "", "Set in gatehouse's environment (secrets are never written here):")
		for _, e := range c.env {
			h = append(h, fmt.Sprintf("  %s: %s", e.Name, e.What))
		}
	}
	for _, sev := range []Severity{Blocked, Attention, Dropped} {
		first := true
		for _, n := range c.notes {
			if n.Severity != sev {
				continue
			}
			if first {
				h = append(h, "", strings.ToUpper(sev.String()[:1])+sev.String()[1:]+":")
				first = false
			}
			h = append(h, fmt.Sprintf("  - %s: %s", n.Setting, n.Text))
		}
	}
	return h
}
