// Package config loads gatehouse's configuration: one YAML file, overlaid by
// GATEHOUSE_* environment variables and *_file secrets, checked once into a
// typed value. Every problem is reported with the field's YAML path.
package config

import (
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
)

// Config is gatehouse's whole configuration. The yaml tags are the file's
// keys; the environment variable for a key is GATEHOUSE_ followed by its path
// in upper snake case (oidc.issuer_url → GATEHOUSE_OIDC_ISSUER_URL).
type Config struct {
	HTTP           HTTP      `yaml:"http"`
	GRPC           GRPC      `yaml:"grpc"`
	SPOE           SPOE      `yaml:"spoe"`
	Admin          Admin     `yaml:"admin"`
	OIDC           OIDC      `yaml:"oidc"`
	Cookie         Cookie    `yaml:"cookie"`
	Session        Session   `yaml:"session"`
	Redis          Redis     `yaml:"redis"`
	TrustedProxies []string  `yaml:"trusted_proxies"`
	Redirect       Redirect  `yaml:"redirect"`
	Access         Access    `yaml:"access"`
	Headers        Headers   `yaml:"headers"`
	Assertion      Assertion `yaml:"assertion"`
	Log            Log       `yaml:"log"`
	Tracing        Tracing   `yaml:"tracing"`
	Pages          Pages     `yaml:"pages"`
	// Upstreams, when set, turn on reverse-proxy mode: gatehouse proxies
	// allowed requests to them itself (see upstreams.go).
	Upstreams []Upstream `yaml:"upstreams"`

	// Providers are several sign-in providers, instead of OIDC; the first
	// is the default.
	Providers []Provider `yaml:"providers"`

	// policy is the access policy Load compiled; nil in a Config that
	// Load did not return.
	policy *authz.Policy
}

// Tracing configures OpenTelemetry tracing; off by default.
type Tracing struct {
	Enabled bool `yaml:"enabled"`
	// Endpoint is the OTLP/HTTP collector base URL, e.g. http://otel-collector:4318;
	// empty means the OTEL_EXPORTER_OTLP_* environment variables decide.
	Endpoint    string  `yaml:"endpoint"`
	SampleRatio float64 `yaml:"sample_ratio"`
}

// HTTP configures the public HTTP listener (forward-auth, auth-request, /oauth2/).
type HTTP struct {
	Addr string `yaml:"addr"`
	// PublicURL is the external base URL of gatehouse's /oauth2/ endpoints,
	// e.g. https://auth.example.com. Empty means the endpoints are reached on
	// each protected host itself (the proxy routes /oauth2/ to gatehouse).
	PublicURL       string        `yaml:"public_url"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// GRPC configures the Envoy ext_authz listener; empty Addr disables it.
type GRPC struct {
	Addr                 string        `yaml:"addr"`
	Reflection           bool          `yaml:"reflection"`
	MaxConcurrentStreams int           `yaml:"max_concurrent_streams"`
	MaxRecvMsgSize       int           `yaml:"max_recv_msg_size"`
	KeepaliveTime        time.Duration `yaml:"keepalive_time"`
	KeepaliveTimeout     time.Duration `yaml:"keepalive_timeout"`
	TLS                  ServerTLS     `yaml:"tls"`
}

// SPOE configures the HAProxy SPOE agent listener (SPOP over TCP); empty
// Addr disables it.
type SPOE struct {
	Addr string `yaml:"addr"`
	// MaxFrameSize is the largest SPOP frame the agent accepts; the
	// handshake lowers it to HAProxy's when that is smaller.
	MaxFrameSize int `yaml:"max_frame_size"`
}

// ServerTLS configures TLS on a listener; with ClientCAFile, clients must
// present a certificate signed by it (mTLS).
type ServerTLS struct {
	CertFile     string `yaml:"cert_file" path:"file"`
	KeyFile      string `yaml:"key_file" path:"file"`
	ClientCAFile string `yaml:"client_ca_file" path:"file"`
}

// Admin configures the admin listener (session API, metrics, pprof); empty
// Addr disables it. It is never served on the public port.
type Admin struct {
	Addr      string    `yaml:"addr"`
	TokenFile string    `yaml:"token_file" path:"file"`
	TLS       ServerTLS `yaml:"tls"`
	Pprof     bool      `yaml:"pprof"`
}

// OIDC configures the OpenID Connect provider and client.
type OIDC struct {
	IssuerURL        string   `yaml:"issuer_url"`
	ClientID         string   `yaml:"client_id"`
	ClientSecret     string   `yaml:"client_secret" secret:"true"`
	ClientSecretFile string   `yaml:"client_secret_file" path:"file"`
	RedirectURL      string   `yaml:"redirect_url"`
	Scopes           []string `yaml:"scopes"`
	UserClaim        string   `yaml:"user_claim"`
	EmailClaim       string   `yaml:"email_claim"`
	GroupsClaim      string   `yaml:"groups_claim"`
	// AllowUnverifiedEmail accepts email_verified: false. Off by default.
	AllowUnverifiedEmail bool          `yaml:"allow_unverified_email"`
	Timeout              time.Duration `yaml:"timeout"`
}

// Provider is one entry of providers: an OpenID Connect provider users may
// sign in through, its client, and optionally a preset that fills the
// issuer, scopes and claim names. oidc.timeout applies to every provider.
type Provider struct {
	// ID names the provider in sessions, rules (access.rules[].providers)
	// and URLs: /oauth2/start?provider=ID, /oauth2/callback/ID.
	ID string `yaml:"id"`
	// Preset is google, entra, gitlab, keycloak, okta or auth0.
	Preset string `yaml:"preset"`
	// Name labels the provider's button on the sign-in page.
	Name             string   `yaml:"name"`
	IssuerURL        string   `yaml:"issuer_url"`
	ClientID         string   `yaml:"client_id"`
	ClientSecret     string   `yaml:"client_secret" secret:"true"`
	ClientSecretFile string   `yaml:"client_secret_file" path:"file"`
	RedirectURL      string   `yaml:"redirect_url"`
	Scopes           []string `yaml:"scopes"`
	UserClaim        string   `yaml:"user_claim"`
	EmailClaim       string   `yaml:"email_claim"`
	// GroupsClaim may be a dotted path into nested claims
	// (realm_access.roles).
	GroupsClaim          string `yaml:"groups_claim"`
	AllowUnverifiedEmail bool   `yaml:"allow_unverified_email"`
	// Preset settings: see docs/providers.md.
	BaseURL  string   `yaml:"base_url"`
	Tenant   string   `yaml:"tenant"`
	Realm    string   `yaml:"realm"`
	Domain   string   `yaml:"domain"`
	Domains  []string `yaml:"domains"`
	GraphURL string   `yaml:"graph_url"`

	// Filled in from the preset by Load.
	ExtraGroupsClaims []string          `yaml:"-"`
	AuthParams        map[string]string `yaml:"-"`
	// OAuth2 marks a provider that is not an OpenID provider (GitHub).
	OAuth2 bool `yaml:"-"`
}

// Cookie configures the session cookie.
type Cookie struct {
	Name        string   `yaml:"name"`
	Domain      string   `yaml:"domain"`
	Secure      bool     `yaml:"secure"`
	Secrets     []string `yaml:"secrets" secret:"true"`
	SecretsFile string   `yaml:"secrets_file" path:"file"`
}

// Session configures session lifetime and storage.
type Session struct {
	Lifetime time.Duration `yaml:"lifetime"`
	Store    string        `yaml:"store"`
	// Timeout bounds every store call on the check path; past it the check
	// answers 503.
	Timeout time.Duration `yaml:"timeout"`
	// IdleTimeout ends a session unused for this long; 0 disables it.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// IdleWriteInterval is how often a session's last use is written to the
	// store at most; 0 means max(idle_timeout/10, 1m).
	IdleWriteInterval time.Duration `yaml:"idle_write_interval"`
	// CacheSize bounds the local cache of Redis session lookups (entries);
	// 0 disables the cache.
	CacheSize int `yaml:"cache_size"`
	// CacheTTL is how long a cached lookup is used; revocations evict it on
	// every replica at once.
	CacheTTL time.Duration `yaml:"cache_ttl"`
}

// Redis configures the Redis session store: one address for a standalone
// server, several with MasterName for Sentinel, several without for Cluster.
type Redis struct {
	Addrs        []string `yaml:"addrs"`
	MasterName   string   `yaml:"master_name"`
	Username     string   `yaml:"username"`
	Password     string   `yaml:"password" secret:"true"`
	PasswordFile string   `yaml:"password_file" path:"file"`
	DB           int      `yaml:"db"`
	KeyPrefix    string   `yaml:"key_prefix"`
	TLS          RedisTLS `yaml:"tls"`
	// RecordFormat is the format session records are written in: "v3"
	// (the default), or "v2" while replicas of a release before v3 still
	// share the store (a rolling upgrade). Both are always read.
	RecordFormat string `yaml:"record_format"`
}

// RedisTLS configures TLS to Redis.
type RedisTLS struct {
	Enabled    bool   `yaml:"enabled"`
	CAFile     string `yaml:"ca_file" path:"file"`
	ServerName string `yaml:"server_name"`
}

// Redirect configures which return URLs are honoured after login or logout.
type Redirect struct {
	// AllowedDomains lists hosts ("app.example.com") and domain suffixes
	// (".example.com", which also admits example.com itself).
	AllowedDomains []string `yaml:"allowed_domains"`
}

// Access is the access policy. Its decision keys (email_domains, emails,
// groups, allow_any_authenticated, skip, rules) may instead live in a
// separate file named by PolicyFile, which is reloaded on change.
type Access struct {
	// PolicyFile names a YAML file holding the decision keys; when set,
	// they must not also be set here. Only in the main configuration.
	PolicyFile            string      `yaml:"policy_file" path:"file"`
	EmailDomains          []string    `yaml:"email_domains"`
	Emails                []string    `yaml:"emails"`
	Groups                []string    `yaml:"groups"`
	AllowAnyAuthenticated bool        `yaml:"allow_any_authenticated"`
	Skip                  []SkipRoute `yaml:"skip"`
	// Rules are checked in order after Skip; the first match decides. When
	// none matches, the lists above decide.
	Rules []Rule `yaml:"rules"`
	// Bearer configures API clients' JWTs. Only in the main configuration.
	Bearer Bearer `yaml:"bearer"`
}

// Rule is one access rule: every condition it sets must match, then its
// action decides.
type Rule struct {
	Name string `yaml:"name"`
	// Hosts are exact hosts or "*.example.com" (any subdomain).
	Hosts []string `yaml:"hosts"`
	// Paths are path prefixes matched on segment boundaries.
	Paths []string `yaml:"paths"`
	// PathRegex is a regular expression matched on the normalized path,
	// never on the query string.
	PathRegex   string   `yaml:"path_regex"`
	Methods     []string `yaml:"methods"`
	ClientCIDRs []string `yaml:"client_cidrs"`
	// Providers, when set, are the IDs of the providers whose sessions
	// the rule accepts (authenticate and require rules).
	Providers []string `yaml:"providers"`
	// Action is allow, authenticate, require or deny.
	Action  string  `yaml:"action"`
	Require Require `yaml:"require"`
}

// Require is the allow-list of a "require" rule: a user on any list passes.
type Require struct {
	Emails       []string            `yaml:"emails"`
	EmailDomains []string            `yaml:"email_domains"`
	Groups       []string            `yaml:"groups"`
	Claims       map[string][]string `yaml:"claims"`
}

// Bearer configures API clients that send "Authorization: Bearer <JWT>":
// access tokens for an API audience, never ID or logout tokens.
type Bearer struct {
	// Enabled accepts access tokens of oidc.issuer_url whose audience is
	// one of Audiences, which is then required. oidc.client_id is never
	// one: it is the audience of ID tokens.
	Enabled   bool     `yaml:"enabled"`
	Audiences []string `yaml:"audiences"`
	// Timeout bounds each token check, discovery and key fetch included;
	// past it the check answers 503 issuer_unavailable. At most 4s, below
	// the shipped proxies' auth timeouts.
	Timeout time.Duration `yaml:"timeout"`
	// Issuers are further trusted issuers; they are accepted even when
	// Enabled is false.
	Issuers []BearerIssuer `yaml:"issuers"`
	// CacheTTL bounds how long a verified token is remembered (never past
	// its expiry); CacheSize bounds how many.
	CacheTTL  time.Duration `yaml:"cache_ttl"`
	CacheSize int           `yaml:"cache_size"`
}

// BearerIssuer is one trusted token issuer.
type BearerIssuer struct {
	IssuerURL string   `yaml:"issuer_url"`
	Audiences []string `yaml:"audiences"`
	// JWKSURL skips discovery and reads the keys from here.
	JWKSURL string `yaml:"jwks_url"`
	// ClientID is oidc.client_id when IssuerURL is oidc.issuer_url: tokens
	// for that audience are ID or logout tokens. Set by BearerIssuers.
	ClientID string `yaml:"-"`
	// Provider is the ID of the sign-in provider with this issuer, if
	// any. Set by BearerIssuers.
	Provider string `yaml:"-"`
}

// SkipRoute selects requests that need no login. Fields left empty match
// anything; the path is matched without its query string.
type SkipRoute struct {
	Methods   []string `yaml:"methods"`
	Host      string   `yaml:"host"`
	Path      string   `yaml:"path"`
	PathRegex string   `yaml:"path_regex"`
}

// Headers names the identity headers sent to the upstream.
type Headers struct {
	User              string `yaml:"user"`
	Email             string `yaml:"email"`
	Groups            string `yaml:"groups"`
	PreferredUsername string `yaml:"preferred_username"`
	// AccessToken sends the token in X-Auth-Request-Access-Token.
	AccessToken bool `yaml:"access_token"`
	// Authorization sends "Authorization: Bearer <token>".
	Authorization bool `yaml:"authorization"`
	// Token says which of the session's tokens is sent: "access" (default)
	// or "id". For a bearer request it is the request's own token.
	Token string `yaml:"token"`
}

// Assertion configures the signed identity assertion, a short-lived ES256
// JWT sent to the upstream, whose keys are published at
// /.well-known/jwks.json.
type Assertion struct {
	Enabled bool `yaml:"enabled"`
	// Header carries the assertion; default X-Gatehouse-Assertion.
	Header string `yaml:"header"`
	// Issuer is the "iss" claim; default http.public_url, else "gatehouse".
	Issuer string `yaml:"issuer"`
	// Lifetime of one assertion; default 60s.
	Lifetime time.Duration `yaml:"lifetime"`
	// KeyFile is one PEM EC P-256 private key. KeyFiles is several: the
	// first signs, the others are only published (a next key before it is
	// used, an old one until its assertions expired). Set one of the two.
	KeyFile  string   `yaml:"key_file" path:"file"`
	KeyFiles []string `yaml:"key_files" path:"file"`
}

// AssertionKeyFiles returns the configured key files, the signing key first.
func (a *Assertion) AssertionKeyFiles() []string {
	if a.KeyFile != "" {
		return []string{a.KeyFile}
	}
	return a.KeyFiles
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Default returns the configuration used for every key a file leaves out.
func Default() Config {
	return Config{
		HTTP: HTTP{Addr: "127.0.0.1:4180", ShutdownTimeout: 10 * time.Second},
		GRPC: GRPC{
			MaxConcurrentStreams: 1000,
			MaxRecvMsgSize:       1 << 20,
			KeepaliveTime:        2 * time.Minute,
			KeepaliveTimeout:     20 * time.Second,
		},
		SPOE: SPOE{MaxFrameSize: 16380},
		OIDC: OIDC{
			Scopes:      []string{"openid", "email", "profile"},
			UserClaim:   "sub",
			EmailClaim:  "email",
			GroupsClaim: "groups",
			Timeout:     10 * time.Second,
		},
		Cookie: Cookie{Name: "_gatehouse", Secure: true},
		Session: Session{Lifetime: 168 * time.Hour, Store: "memory", Timeout: 250 * time.Millisecond,
			CacheSize: 10000, CacheTTL: 5 * time.Second},
		Redis: Redis{KeyPrefix: "gatehouse:", RecordFormat: "v3"},
		TrustedProxies: []string{
			"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7",
		},
		Headers: Headers{
			User:              "X-Auth-Request-User",
			Email:             "X-Auth-Request-Email",
			Groups:            "X-Auth-Request-Groups",
			PreferredUsername: "X-Auth-Request-Preferred-Username",
			Token:             "access",
		},
		Access:    Access{Bearer: Bearer{CacheTTL: time.Minute, CacheSize: 10000, Timeout: 2 * time.Second}},
		Assertion: Assertion{Header: "X-Gatehouse-Assertion", Lifetime: 60 * time.Second},
		Log:       Log{Level: "info", Format: "json"},
		Tracing:   Tracing{SampleRatio: 1},
	}
}
