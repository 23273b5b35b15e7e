package config

import (
	"testing"
)

// TestValidationMessages: each setting's check → its exact message, with
// every other setting valid (base, overlaid by the environment).
func TestValidationMessages(t *testing.T) {
	for name, tc := range map[string]struct {
		vars map[string]string
		want []string
	}{
		"http.addr": {map[string]string{"GATEHOUSE_HTTP_ADDR": "4180"}, []string{
			`http.addr: must be host:port, not "4180"`}},
		"http.addr empty": {map[string]string{"GATEHOUSE_HTTP_ADDR": ""}, []string{
			"http.addr: required, as host:port"}},
		"http.public_url": {map[string]string{"GATEHOUSE_HTTP_PUBLIC_URL": "https://auth.example.com/sso"}, []string{
			"http.public_url: must be a base URL without path or query, e.g. https://auth.example.com",
			"oidc.redirect_url: on app.example.com, but http.public_url is on auth.example.com: the provider sends people back to a host where gatehouse's /oauth2/ endpoints are not, or the login cookie is not; use https://auth.example.com/sso/oauth2/callback"}},
		"durations": {map[string]string{"GATEHOUSE_HTTP_SHUTDOWN_TIMEOUT": "0s", "GATEHOUSE_OIDC_TIMEOUT": "-1s"}, []string{
			"http.shutdown_timeout: must be a positive duration such as 250ms or 10s",
			"oidc.timeout: must be a positive duration such as 250ms or 10s"}},
		"grpc": {map[string]string{"GATEHOUSE_GRPC_ADDR": ":9000", "GATEHOUSE_GRPC_MAX_CONCURRENT_STREAMS": "0", "GATEHOUSE_GRPC_MAX_RECV_MSG_SIZE": "100", "GATEHOUSE_GRPC_TLS_CERT_FILE": "/c.pem"}, []string{
			"grpc.max_concurrent_streams: must be positive",
			"grpc.max_recv_msg_size: must be at least 4096 bytes",
			"grpc.tls: set both cert_file and key_file, or neither"}},
		"mTLS without TLS": {map[string]string{"GATEHOUSE_ADMIN_TLS_CLIENT_CA_FILE": "/ca.pem"}, []string{
			"admin.tls.client_ca_file: needs cert_file and key_file: mTLS runs over TLS"}},
		"admin without a credential": {map[string]string{"GATEHOUSE_ADMIN_ADDR": "127.0.0.1:4180"}, []string{
			"admin.addr: the admin API needs admin.token_file or admin.tls.client_ca_file (mTLS)",
			"admin.addr: must differ from http.addr: the admin API is never served on the public port"}},
		"oidc": {map[string]string{"GATEHOUSE_OIDC_ISSUER_URL": "ftp://x", "GATEHOUSE_OIDC_CLIENT_SECRET": "", "GATEHOUSE_OIDC_SCOPES": "email", "GATEHOUSE_OIDC_USER_CLAIM": " "}, []string{
			"oidc.client_secret: required (or oidc.client_secret_file)",
			`oidc.issuer_url: must be an absolute http(s) URL, not "ftp://x"`,
			`oidc.scopes: must include "openid"`,
			"oidc.user_claim: required"}},
		"cookie": {map[string]string{"GATEHOUSE_COOKIE_NAME": "a b", "GATEHOUSE_COOKIE_SECRETS": "c2hvcnQ=,%%", "GATEHOUSE_COOKIE_DOMAIN": "https://x"}, []string{
			"cookie.domain: must be a domain such as .example.com",
			"cookie.name: must be a non-empty cookie name (letters, digits, _ and -)",
			"cookie.secrets[0]: key decodes to 5 bytes, want 32 (generate one with: openssl rand -base64 32)",
			"cookie.secrets[1]: not valid base64 (generate one with: openssl rand -base64 32)"}},
		"session": {map[string]string{"GATEHOUSE_SESSION_LIFETIME": "30s", "GATEHOUSE_SESSION_IDLE_TIMEOUT": "10s", "GATEHOUSE_SESSION_CACHE_SIZE": "-1", "GATEHOUSE_SESSION_STORE": "postgres"}, []string{
			"session.cache_size: must not be negative (0 disables the cache)",
			"session.idle_timeout: must be 0 (off) or at least 1m",
			"session.lifetime: must be at least 1m",
			`session.store: must be "memory" or "redis", not "postgres"`}},
		"idle write interval and cache ttl": {map[string]string{"GATEHOUSE_SESSION_IDLE_TIMEOUT": "10m", "GATEHOUSE_SESSION_IDLE_WRITE_INTERVAL": "6m", "GATEHOUSE_SESSION_CACHE_TTL": "0s"}, []string{
			"session.cache_ttl: must be a positive duration such as 5s",
			"session.idle_write_interval: must be between 0 and half of session.idle_timeout"}},
		"redis": {map[string]string{"GATEHOUSE_SESSION_STORE": "redis", "GATEHOUSE_REDIS_ADDRS": "a:1,b", "GATEHOUSE_REDIS_DB": "2"}, []string{
			"redis.addrs[1]: must be host:port, not \"b\"",
			"redis.db: Redis Cluster has only db 0"}},
		"redis without addresses": {map[string]string{"GATEHOUSE_SESSION_STORE": "redis", "GATEHOUSE_REDIS_DB": "-1", "GATEHOUSE_REDIS_RECORD_FORMAT": "json"}, []string{
			`redis.addrs: required when session.store is "redis"`,
			"redis.db: must not be negative",
			`redis.record_format: must be "v3" (the default) or "v2" (during a rolling upgrade from a release before v3), not "json"`}},
		"network": {map[string]string{"GATEHOUSE_TRUSTED_PROXIES": "10.0.0.0/33", "GATEHOUSE_REDIRECT_ALLOWED_DOMAINS": "https://evil.example"}, []string{
			`redirect.allowed_domains[0]: must be a host (app.example.com) or a suffix (.example.com), not "https://evil.example"`,
			`trusted_proxies[0]: not an IP address or CIDR: "10.0.0.0/33"`}},
		"headers": {map[string]string{"GATEHOUSE_HEADERS_TOKEN": "refresh", "GATEHOUSE_HEADERS_USER": "X_User", "GATEHOUSE_HEADERS_EMAIL": "x-auth-request-groups", "GATEHOUSE_HEADERS_PREFERRED_USERNAME": "a:b"}, []string{
			"headers.groups: same header as headers.email",
			"headers.preferred_username: must be an HTTP header name",
			`headers.token: must be "access" or "id"`,
			`headers.user: must not contain _ (use -), not "X_User"`}},
		"log and tracing": {map[string]string{"GATEHOUSE_LOG_LEVEL": "loud", "GATEHOUSE_LOG_FORMAT": "xml", "GATEHOUSE_TRACING_SAMPLE_RATIO": "2", "GATEHOUSE_TRACING_ENDPOINT": "collector:4318"}, []string{
			"log.format: must be json or text",
			"log.level: must be debug, info, warn or error",
			`tracing.endpoint: must be an absolute http(s) URL, not "collector:4318"`,
			"tracing.sample_ratio: must be between 0 and 1"}},
		"assertion": {map[string]string{"GATEHOUSE_ASSERTION_ENABLED": "true", "GATEHOUSE_ASSERTION_LIFETIME": "2h"}, []string{
			"assertion.key_file: required when assertion.enabled (a PEM EC P-256 key: openssl ecparam -name prime256v1 -genkey -noout -out assertion.pem)",
			"assertion.lifetime: must be between 10s and 1h"}},
		"assertion with both": {map[string]string{"GATEHOUSE_ASSERTION_ENABLED": "true", "GATEHOUSE_ASSERTION_KEY_FILE": "/a.pem", "GATEHOUSE_ASSERTION_KEY_FILES": "/b.pem"}, []string{
			"assertion.key_files: set either assertion.key_file or assertion.key_files, not both"}},
		"bearer": {map[string]string{"GATEHOUSE_ACCESS_BEARER_ENABLED": "true", "GATEHOUSE_ACCESS_BEARER_CACHE_SIZE": "0", "GATEHOUSE_ACCESS_BEARER_TIMEOUT": "10s"}, []string{
			"access.bearer.audiences: required when access.bearer.enabled: the audiences of the APIs whose access tokens are accepted (not oidc.client_id)",
			"access.bearer.cache_size: must be positive",
			"access.bearer.timeout: must be at most 4s, below the shipped proxies' auth timeouts (nginx 5s)"}},
		"bearer audience is the client": {map[string]string{"GATEHOUSE_ACCESS_BEARER_ENABLED": "true", "GATEHOUSE_ACCESS_BEARER_AUDIENCES": "gatehouse"}, []string{
			"access.bearer.audiences[0]: is oidc.client_id, the audience of the ID and logout tokens gatehouse's login receives; a bearer token must be an access token for an API audience"}},
		"a list of sections from the environment": {map[string]string{"GATEHOUSE_ACCESS_RULES": "x"}, []string{
			"access.rules: from GATEHOUSE_ACCESS_RULES: cannot be set from the environment; use the config file"}},
		"values from the environment": {map[string]string{"GATEHOUSE_COOKIE_SECURE": "yes please", "GATEHOUSE_GRPC_MAX_RECV_MSG_SIZE": "1MB", "GATEHOUSE_TRACING_SAMPLE_RATIO": "half"}, []string{
			"cookie.secure: from GATEHOUSE_COOKIE_SECURE: want true or false",
			"grpc.max_recv_msg_size: from GATEHOUSE_GRPC_MAX_RECV_MSG_SIZE: want an integer",
			"tracing.sample_ratio: from GATEHOUSE_TRACING_SAMPLE_RATIO: want a number"}},
	} {
		t.Run(name, func(t *testing.T) {
			r := checkText(t, base, tc.vars)
			got := errorStrings(r.Errors)
			if name == "http.public_url" {
				got = append(got, warningStrings(r.Warnings)...)
			}
			sameLines(t, "problems", got, tc.want)
		})
	}
}
