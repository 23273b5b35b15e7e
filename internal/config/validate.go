package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// validate returns every problem of a decoded configuration's settings
// other than the access policy's decision keys (compileAccess checks
// those): each section's validator adds what it finds, none stops another.
func (c *Config) validate() Errors {
	var errs Errors
	for _, section := range []func(*Errors){
		c.validateHTTP, c.validateGRPC, c.validateSPOE, c.validateAdmin, c.validateOIDC, c.validateCookie,
		c.validateSession, c.validateRedis, c.validateNetwork, c.validateHeaders,
		c.validateLog, c.validateTracing,
	} {
		section(&errs)
	}
	c.validateProviders(&errs)
	validateBearer(&errs, c)
	validateAssertion(&errs, &c.Assertion)
	validatePages(&errs, &c.Pages)
	validateUpstreams(&errs, c.Upstreams)
	return errs
}

// validateHTTP checks the public listener.
func (c *Config) validateHTTP(errs *Errors) {
	checkAddr(errs, "http.addr", c.HTTP.Addr, true)
	if c.HTTP.PublicURL != "" {
		if u := checkURL(errs, "http.public_url", c.HTTP.PublicURL); u != nil && (u.Path != "" && u.Path != "/" || u.RawQuery != "") {
			errs.add("http.public_url", "must be a base URL without path or query, e.g. https://auth.example.com")
		}
	}
	positive(errs, "http.shutdown_timeout", c.HTTP.ShutdownTimeout)
}

// validateGRPC checks the Envoy ext_authz listener.
func (c *Config) validateGRPC(errs *Errors) {
	checkAddr(errs, "grpc.addr", c.GRPC.Addr, false)
	if c.GRPC.MaxConcurrentStreams <= 0 {
		errs.add("grpc.max_concurrent_streams", "must be positive")
	}
	if c.GRPC.MaxRecvMsgSize < 4096 {
		errs.add("grpc.max_recv_msg_size", "must be at least 4096 bytes")
	}
	positive(errs, "grpc.keepalive_time", c.GRPC.KeepaliveTime)
	positive(errs, "grpc.keepalive_timeout", c.GRPC.KeepaliveTimeout)
	checkServerTLS(errs, "grpc.tls", c.GRPC.TLS)
}

// validateSPOE checks the HAProxy SPOE agent listener.
func (c *Config) validateSPOE(errs *Errors) {
	checkAddr(errs, "spoe.addr", c.SPOE.Addr, false)
	if c.SPOE.MaxFrameSize < 256 || c.SPOE.MaxFrameSize > 1<<20 {
		errs.add("spoe.max_frame_size", "must be between 256 and 1048576 bytes (HAProxy's default is 16380)")
	}
	if c.SPOE.Addr != "" && (c.SPOE.Addr == c.HTTP.Addr || c.SPOE.Addr == c.GRPC.Addr || c.SPOE.Addr == c.Admin.Addr) {
		errs.add("spoe.addr", "must differ from http.addr, grpc.addr and admin.addr")
	}
}

// validateAdmin checks the admin listener: it needs a credential and its
// own port.
func (c *Config) validateAdmin(errs *Errors) {
	checkAddr(errs, "admin.addr", c.Admin.Addr, false)
	checkServerTLS(errs, "admin.tls", c.Admin.TLS)
	if c.Admin.Addr != "" && c.Admin.TokenFile == "" && c.Admin.TLS.ClientCAFile == "" {
		errs.add("admin.addr", "the admin API needs admin.token_file or admin.tls.client_ca_file (mTLS)")
	}
	if c.Admin.Addr != "" && c.Admin.Addr == c.HTTP.Addr {
		errs.add("admin.addr", "must differ from http.addr: the admin API is never served on the public port")
	}
}

// validateOIDC checks the provider and client.
func (c *Config) validateOIDC(errs *Errors) {
	o := &c.OIDC
	if c.usesProviders() && !c.oidcSet() {
		positive(errs, "oidc.timeout", o.Timeout)
		return // the providers list is in force; validateProviders checks it
	}
	required(errs, "oidc.issuer_url", o.IssuerURL)
	if o.IssuerURL != "" {
		checkURL(errs, "oidc.issuer_url", o.IssuerURL)
	}
	required(errs, "oidc.client_id", o.ClientID)
	if o.ClientSecret == "" && o.ClientSecretFile == "" {
		errs.add("oidc.client_secret", "required (or oidc.client_secret_file)")
	}
	required(errs, "oidc.redirect_url", o.RedirectURL)
	if o.RedirectURL != "" {
		checkURL(errs, "oidc.redirect_url", o.RedirectURL)
	}
	if !slices.Contains(o.Scopes, "openid") {
		errs.add("oidc.scopes", `must include "openid"`)
	}
	required(errs, "oidc.user_claim", o.UserClaim)
	required(errs, "oidc.email_claim", o.EmailClaim)
	positive(errs, "oidc.timeout", o.Timeout)
}

// validateCookie checks the session cookie's name, keys and domain. A
// key's value never appears in a message.
func (c *Config) validateCookie(errs *Errors) {
	if !validToken(c.Cookie.Name) {
		errs.add("cookie.name", "must be a non-empty cookie name (letters, digits, _ and -)")
	}
	if len(c.Cookie.Secrets) == 0 {
		errs.add("cookie.secrets", "required: at least one base64 key of 32 bytes (generate one with: openssl rand -base64 32)")
	}
	for i, s := range c.Cookie.Secrets {
		if _, err := decodeKey(s); err != nil {
			errs.add(indexPath("cookie.secrets", i), "%v (generate one with: openssl rand -base64 32)", err)
		}
	}
	if c.Cookie.Domain != "" && strings.ContainsAny(c.Cookie.Domain, "/:@ ") {
		errs.add("cookie.domain", "must be a domain such as .example.com")
	}
}

// validateSession checks session lifetimes, idle expiry, the local cache
// and the store's name.
func (c *Config) validateSession(errs *Errors) {
	s := &c.Session
	if s.Lifetime < time.Minute {
		errs.add("session.lifetime", "must be at least 1m")
	}
	positive(errs, "session.timeout", s.Timeout)
	if s.IdleTimeout < 0 || s.IdleTimeout > 0 && s.IdleTimeout < time.Minute {
		errs.add("session.idle_timeout", "must be 0 (off) or at least 1m")
	}
	if s.IdleWriteInterval < 0 || s.IdleTimeout > 0 && s.IdleWriteInterval > s.IdleTimeout/2 {
		errs.add("session.idle_write_interval", "must be between 0 and half of session.idle_timeout")
	}
	if s.CacheSize < 0 {
		errs.add("session.cache_size", "must not be negative (0 disables the cache)")
	}
	if s.CacheSize > 0 && s.CacheTTL <= 0 {
		errs.add("session.cache_ttl", "must be a positive duration such as 5s")
	}
	if s.Store != "memory" && s.Store != "redis" {
		errs.add("session.store", `must be "memory" or "redis", not %q`, s.Store)
	}
}

// validateRedis checks the Redis settings when session.store is "redis".
func (c *Config) validateRedis(errs *Errors) {
	if c.Session.Store != "redis" {
		return
	}
	if len(c.Redis.Addrs) == 0 {
		errs.add("redis.addrs", `required when session.store is "redis"`)
	}
	for i, a := range c.Redis.Addrs {
		checkAddr(errs, indexPath("redis.addrs", i), a, true)
	}
	if c.Redis.DB < 0 {
		errs.add("redis.db", "must not be negative")
	}
	if f := c.Redis.RecordFormat; f != "v3" && f != "v2" {
		errs.add("redis.record_format", `must be "v3" (the default) or "v2" (during a rolling upgrade from a release before v3), not %q`, f)
	}
	if c.Redis.DB != 0 && c.Redis.MasterName == "" && len(c.Redis.Addrs) > 1 {
		errs.add("redis.db", "Redis Cluster has only db 0")
	}
}

// validateNetwork checks trusted_proxies and the hosts a user may be sent
// back to.
func (c *Config) validateNetwork(errs *Errors) {
	for i, p := range c.TrustedProxies {
		if _, err := parsePrefix(p); err != nil {
			errs.add(indexPath("trusted_proxies", i), "not an IP address or CIDR: %q", p)
		}
	}
	for i, d := range c.Redirect.AllowedDomains {
		if d == "" || d == "." || strings.ContainsAny(d, "/:@\\ *?#") {
			errs.add(indexPath("redirect.allowed_domains", i), "must be a host (app.example.com) or a suffix (.example.com), not %q", d)
		}
	}
}

// validateHeaders checks the upstream header names: HTTP tokens without
// "_", no two alike (in any letter case), and the token choice.
func (c *Config) validateHeaders(errs *Errors) {
	if c.Headers.Token != "access" && c.Headers.Token != "id" {
		errs.add("headers.token", `must be "access" or "id"`)
	}
	names := map[string]string{}
	for _, h := range c.upstreamHeaders() {
		if !validToken(h.name) {
			errs.add(h.path, "must be an HTTP header name")
			continue
		}
		if strings.Contains(h.name, "_") {
			// nginx drops such headers by default, and apps that fold "_"
			// into "-" could not tell them from a client's look-alike.
			errs.add(h.path, "must not contain _ (use -), not %q", h.name)
			continue
		}
		key := strings.ToLower(h.name)
		if other, dup := names[key]; dup {
			errs.add(h.path, "same header as %s", other)
		}
		names[key] = h.path
	}
}

// upstreamHeader is a header gatehouse sends upstream and the setting
// that names it.
type upstreamHeader struct{ path, name string }

// upstreamHeaders lists every header c sends upstream, in the order their
// duplicates are reported.
func (c *Config) upstreamHeaders() []upstreamHeader {
	hdrs := []upstreamHeader{
		{"headers.user", c.Headers.User}, {"headers.email", c.Headers.Email},
		{"headers.groups", c.Headers.Groups}, {"headers.preferred_username", c.Headers.PreferredUsername},
	}
	if c.Headers.AccessToken {
		hdrs = append(hdrs, upstreamHeader{"headers.access_token", AccessTokenHeader})
	}
	if c.Headers.Authorization {
		hdrs = append(hdrs, upstreamHeader{"headers.authorization", "Authorization"})
	}
	if c.Assertion.Enabled {
		hdrs = append(hdrs, upstreamHeader{"assertion.header", c.Assertion.Header})
	}
	return hdrs
}

// validateLog checks the log level and format.
func (c *Config) validateLog(errs *Errors) {
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		errs.add("log.level", "must be debug, info, warn or error")
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		errs.add("log.format", "must be json or text")
	}
}

// validateTracing checks the sampling ratio and the collector URL.
func (c *Config) validateTracing(errs *Errors) {
	if c.Tracing.SampleRatio < 0 || c.Tracing.SampleRatio > 1 {
		errs.add("tracing.sample_ratio", "must be between 0 and 1")
	}
	if c.Tracing.Endpoint != "" {
		checkURL(errs, "tracing.endpoint", c.Tracing.Endpoint)
	}
}

// validateAssertion checks the identity assertion settings when
// assertions are on.
func validateAssertion(errs *Errors, a *Assertion) {
	if !a.Enabled {
		return
	}
	if a.Lifetime < 10*time.Second || a.Lifetime > time.Hour {
		errs.add("assertion.lifetime", "must be between 10s and 1h")
	}
	switch {
	case a.KeyFile != "" && len(a.KeyFiles) > 0:
		errs.add("assertion.key_files", "set either assertion.key_file or assertion.key_files, not both")
	case a.KeyFile == "" && len(a.KeyFiles) == 0:
		errs.add("assertion.key_file", "required when assertion.enabled (a PEM EC P-256 key: openssl ecparam -name prime256v1 -genkey -noout -out assertion.pem)")
	}
	for i, f := range a.KeyFiles {
		required(errs, indexPath("assertion.key_files", i), f)
	}
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != 32 {
				return nil, fmt.Errorf("key decodes to %d bytes, want 32", len(k))
			}
			return k, nil
		}
	}
	return nil, errors.New("not valid base64")
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func checkServerTLS(errs *Errors, path string, t ServerTLS) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		errs.add(path, "set both cert_file and key_file, or neither")
	}
	if t.ClientCAFile != "" && t.CertFile == "" {
		errs.add(path+".client_ca_file", "needs cert_file and key_file: mTLS runs over TLS")
	}
}

func required(errs *Errors, path, v string) {
	if strings.TrimSpace(v) == "" {
		errs.add(path, "required")
	}
}

func positive(errs *Errors, path string, d time.Duration) {
	if d <= 0 {
		errs.add(path, "must be a positive duration such as 250ms or 10s")
	}
}

func checkURL(errs *Errors, path, raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		errs.add(path, "must be an absolute http(s) URL, not %q", raw)
		return nil
	}
	return u
}

func checkAddr(errs *Errors, path, addr string, req bool) {
	if addr == "" {
		if req {
			errs.add(path, "required, as host:port")
		}
		return
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		errs.add(path, "must be host:port, not %q", addr)
	}
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func indexPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }
