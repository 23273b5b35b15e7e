package config

import (
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
)

// Upstream is one application gatehouse proxies to itself (reverse-proxy
// mode, internal/reverseproxy): requests for Host under PathPrefix are
// judged and, when allowed, sent to URL. With upstreams set, http.addr
// answers every request that is not one of gatehouse's own endpoints.
type Upstream struct {
	// Name names the application on the "not answering" page; optional.
	Name string `yaml:"name"`
	// Host is the host name the upstream serves, without port; empty
	// serves every host.
	Host string `yaml:"host"`
	// PathPrefix is matched on segment boundaries; empty means "/". The
	// path is sent unchanged, prefix included.
	PathPrefix string `yaml:"path_prefix"`
	// URL is the upstream's base URL, e.g. http://127.0.0.1:5050.
	URL string `yaml:"url"`
	// HostHeader replaces the Host header the upstream gets; empty sends
	// the client's (judged) host.
	HostHeader string           `yaml:"host_header"`
	Timeouts   UpstreamTimeouts `yaml:"timeouts"`
}

// UpstreamTimeouts bound the wait for an upstream; past either the client
// gets 504. Bodies, streams and websockets are not limited.
type UpstreamTimeouts struct {
	// Connect bounds the connection (and TLS handshake); default 5s.
	Connect time.Duration `yaml:"connect"`
	// ResponseHeader bounds the wait for the response headers once the
	// request is sent; default 60s.
	ResponseHeader time.Duration `yaml:"response_header"`
}

// validateUpstreams checks the reverse-proxy upstreams.
func validateUpstreams(errs *Errors, ups []Upstream) {
	seen := map[string]int{}
	for i, u := range ups {
		at := indexPath("upstreams", i)
		required(errs, at+".url", u.URL)
		if u.URL != "" {
			if p := checkURL(errs, at+".url", u.URL); p != nil && (p.Path != "" && p.Path != "/" || p.RawQuery != "" || p.Fragment != "") {
				errs.add(at+".url", "must be a base URL without path or query, e.g. http://127.0.0.1:5050 (the request's own path is sent)")
			}
		}
		prefix := u.PathPrefix
		if prefix == "" {
			prefix = "/"
		}
		if clean, ok := authz.NormalizePath(prefix); !ok || clean != prefix && clean+"/" != prefix || strings.ContainsAny(prefix, "%;?") {
			errs.add(at+".path_prefix", "must be a normalized path such as /api (no dot segments, \"//\", escapes or \";\")")
		}
		host := u.Host
		if host != "" {
			if _, err := authz.NewRequest("GET", "https", host, "/"); err != nil || strings.Contains(host, ":") {
				errs.add(at+".host", "must be a host name such as app.example.com, without port")
			}
		}
		if u.HostHeader != "" {
			if _, err := authz.NewRequest("GET", "https", u.HostHeader, "/"); err != nil {
				errs.add(at+".host_header", "must be a host name, with an optional port")
			}
		}
		if u.Timeouts.Connect < 0 {
			positive(errs, at+".timeouts.connect", u.Timeouts.Connect)
		}
		if u.Timeouts.ResponseHeader < 0 {
			positive(errs, at+".timeouts.response_header", u.Timeouts.ResponseHeader)
		}
		key := authz.CanonicalHost(host) + " " + strings.TrimSuffix(prefix, "/")
		if j, dup := seen[key]; dup {
			errs.add(at, "serves the same host and path_prefix as upstreams[%d]", j)
		} else {
			seen[key] = i
		}
	}
}
