// Package config loads gatehouse's configuration: one YAML file, overlaid by
// GATEHOUSE_* environment variables and *_file secrets, checked once into a
// typed value. Every problem is reported with the field's YAML path.
package config

import "time"

// Config is gatehouse's whole configuration. The yaml tags are the file's
// keys; the environment variable for a key is GATEHOUSE_ followed by its path
// in upper snake case (oidc.issuer_url → GATEHOUSE_OIDC_ISSUER_URL).
type Config struct {
	HTTP           HTTP     `yaml:"http"`
	GRPC           GRPC     `yaml:"grpc"`
	Admin          Admin    `yaml:"admin"`
	OIDC           OIDC     `yaml:"oidc"`
	Cookie         Cookie   `yaml:"cookie"`
	Session        Session  `yaml:"session"`
	Redis          Redis    `yaml:"redis"`
	TrustedProxies []string `yaml:"trusted_proxies"`
	Redirect       Redirect `yaml:"redirect"`
	Access         Access   `yaml:"access"`
	Headers        Headers  `yaml:"headers"`
	Log            Log      `yaml:"log"`
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

// ServerTLS configures TLS on a listener; with ClientCAFile, clients must
// present a certificate signed by it (mTLS).
type ServerTLS struct {
	CertFile     string `yaml:"cert_file"`
	KeyFile      string `yaml:"key_file"`
	ClientCAFile string `yaml:"client_ca_file"`
}

// Admin configures the admin listener (session API, metrics, pprof); empty
// Addr disables it. It is never served on the public port.
type Admin struct {
	Addr      string    `yaml:"addr"`
	TokenFile string    `yaml:"token_file"`
	TLS       ServerTLS `yaml:"tls"`
	Pprof     bool      `yaml:"pprof"`
}

// OIDC configures the OpenID Connect provider and client.
type OIDC struct {
	IssuerURL        string   `yaml:"issuer_url"`
	ClientID         string   `yaml:"client_id"`
	ClientSecret     string   `yaml:"client_secret" secret:"true"`
	ClientSecretFile string   `yaml:"client_secret_file"`
	RedirectURL      string   `yaml:"redirect_url"`
	Scopes           []string `yaml:"scopes"`
	UserClaim        string   `yaml:"user_claim"`
	EmailClaim       string   `yaml:"email_claim"`
	GroupsClaim      string   `yaml:"groups_claim"`
	// AllowUnverifiedEmail accepts email_verified: false. Off by default.
	AllowUnverifiedEmail bool          `yaml:"allow_unverified_email"`
	Timeout              time.Duration `yaml:"timeout"`
}

// Cookie configures the session cookie.
type Cookie struct {
	Name        string   `yaml:"name"`
	Domain      string   `yaml:"domain"`
	Secure      bool     `yaml:"secure"`
	Secrets     []string `yaml:"secrets" secret:"true"`
	SecretsFile string   `yaml:"secrets_file"`
}

// Session configures session lifetime and storage.
type Session struct {
	Lifetime time.Duration `yaml:"lifetime"`
	Store    string        `yaml:"store"`
	// Timeout bounds every store call on the check path; past it the check
	// answers 503.
	Timeout time.Duration `yaml:"timeout"`
}

// Redis configures the Redis session store: one address for a standalone
// server, several with MasterName for Sentinel, several without for Cluster.
type Redis struct {
	Addrs        []string `yaml:"addrs"`
	MasterName   string   `yaml:"master_name"`
	Username     string   `yaml:"username"`
	Password     string   `yaml:"password" secret:"true"`
	PasswordFile string   `yaml:"password_file"`
	DB           int      `yaml:"db"`
	KeyPrefix    string   `yaml:"key_prefix"`
	TLS          RedisTLS `yaml:"tls"`
}

// RedisTLS configures TLS to Redis.
type RedisTLS struct {
	Enabled    bool   `yaml:"enabled"`
	CAFile     string `yaml:"ca_file"`
	ServerName string `yaml:"server_name"`
}

// Redirect configures which return URLs are honoured after login or logout.
type Redirect struct {
	// AllowedDomains lists hosts ("app.example.com") and domain suffixes
	// (".example.com", which also admits example.com itself).
	AllowedDomains []string `yaml:"allowed_domains"`
}

// Access is the access policy.
type Access struct {
	EmailDomains          []string    `yaml:"email_domains"`
	Emails                []string    `yaml:"emails"`
	Groups                []string    `yaml:"groups"`
	AllowAnyAuthenticated bool        `yaml:"allow_any_authenticated"`
	Skip                  []SkipRoute `yaml:"skip"`
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
		OIDC: OIDC{
			Scopes:      []string{"openid", "email", "profile"},
			UserClaim:   "sub",
			EmailClaim:  "email",
			GroupsClaim: "groups",
			Timeout:     10 * time.Second,
		},
		Cookie:  Cookie{Name: "_gatehouse", Secure: true},
		Session: Session{Lifetime: 168 * time.Hour, Store: "memory", Timeout: 250 * time.Millisecond},
		Redis:   Redis{KeyPrefix: "gatehouse:"},
		TrustedProxies: []string{
			"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7",
		},
		Headers: Headers{
			User:              "X-Auth-Request-User",
			Email:             "X-Auth-Request-Email",
			Groups:            "X-Auth-Request-Groups",
			PreferredUsername: "X-Auth-Request-Preferred-Username",
		},
		Log: Log{Level: "info", Format: "json"},
	}
}
