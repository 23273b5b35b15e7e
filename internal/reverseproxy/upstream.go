package reverseproxy

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
)

// Upstream is one application gatehouse proxies to.
type Upstream struct {
	// Name names the application on the upstream-unreachable page and in
	// logs; empty says "the application".
	Name string
	// Host is the host the upstream serves (matched without port, in any
	// letter case); empty serves every host.
	Host string
	// PathPrefix is the path prefix the upstream serves, matched on
	// segment boundaries against the normalized path ("/api" serves /api
	// and /api/x, not /apix); empty means "/". The path is sent as it is,
	// prefix included.
	PathPrefix string
	// URL is the upstream's base URL: http or https, a host and an
	// optional port, no path, query or user information.
	URL string
	// HostHeader, when set, is the Host header the upstream gets; empty
	// sends the host the client asked for (which the policy judged).
	HostHeader string
	// ConnectTimeout bounds connecting to the upstream (default 5s);
	// ResponseHeaderTimeout bounds the wait for its response headers once
	// the request is sent (default 60s). Past either the client gets 504.
	// A response body (a download, a stream, a websocket) has no limit.
	ConnectTimeout        time.Duration
	ResponseHeaderTimeout time.Duration
}

// Default timeouts of an Upstream.
const (
	DefaultConnectTimeout        = 5 * time.Second
	DefaultResponseHeaderTimeout = 60 * time.Second
)

// upstream is an Upstream ready to serve.
type upstream struct {
	name       string
	host       string // canonical, "" for any
	prefix     string // normalized, no trailing "/" except for "/"
	url        *url.URL
	hostHeader string
	transport  *http.Transport
	proxy      *httputil.ReverseProxy
}

// ParseURL checks an upstream's base URL as Upstream.URL describes it.
func ParseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, errors.New("must be a URL such as http://127.0.0.1:5050")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("must be an http:// or https:// URL")
	case u.Host == "" || u.Hostname() == "":
		return nil, errors.New("must name a host, e.g. http://127.0.0.1:5050")
	case u.User != nil:
		return nil, errors.New("must not hold user information")
	case u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, errors.New("must be a base URL without path, query or fragment: the request's own path is sent")
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// NormalizePrefix checks a path prefix as Upstream.PathPrefix describes it
// and returns it without a trailing "/" ("/" for the root).
func NormalizePrefix(p string) (string, error) {
	if p == "" || p == "/" {
		return "/", nil
	}
	clean, ok := authz.NormalizePath(p)
	if !ok || clean != p && clean+"/" != p || strings.ContainsAny(p, "%?;") {
		return "", errors.New("must be a normalized path such as /api (no dot segments, \"//\", escapes, \";\" or query)")
	}
	return strings.TrimSuffix(clean, "/"), nil
}

// NormalizeHost checks a host as Upstream.Host describes it and returns
// the form it is matched in.
func NormalizeHost(h string) (string, error) {
	if h == "" {
		return "", nil
	}
	if _, err := authz.NewRequest("GET", "https", h, "/"); err != nil || strings.Contains(h, ":") && !strings.HasPrefix(h, "[") {
		return "", errors.New("must be a host name such as app.example.com, without port")
	}
	return authz.CanonicalHost(h), nil
}

func (h *Handler) newUpstream(u Upstream) (*upstream, error) {
	base, err := ParseURL(u.URL)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	prefix, err := NormalizePrefix(u.PathPrefix)
	if err != nil {
		return nil, fmt.Errorf("path_prefix: %w", err)
	}
	host, err := NormalizeHost(u.Host)
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	connect := cmp.Or(u.ConnectTimeout, DefaultConnectTimeout)
	header := cmp.Or(u.ResponseHeaderTimeout, DefaultResponseHeaderTimeout)
	if connect < 0 || header < 0 {
		return nil, errors.New("timeouts must be positive")
	}
	up := &upstream{name: u.Name, host: host, prefix: prefix, url: base, hostHeader: u.HostHeader}
	up.transport = &http.Transport{
		Proxy:                 nil, // never an HTTP_PROXY from the environment
		DialContext:           (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   connect,
		ResponseHeaderTimeout: header,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		// The body is passed on as the client sent it; a compressed
		// response too.
		DisableCompression: true,
	}
	up.proxy = h.newReverseProxy(up)
	return up, nil
}

// sortUpstreams puts upstreams in matching order: those for a host before
// those for any host, then longer path prefixes first.
func sortUpstreams(ups []*upstream) {
	slices.SortStableFunc(ups, func(a, b *upstream) int {
		if (a.host == "") != (b.host == "") {
			if a.host == "" {
				return 1
			}
			return -1
		}
		return len(b.prefix) - len(a.prefix)
	})
}

// route returns the upstream for the judged request, nil when none serves
// it. It matches the normalized path, the one that is sent.
func (h *Handler) route(r *authz.Request) *upstream {
	host := authz.CanonicalHost(r.Host)
	for _, u := range h.upstreams {
		if u.host != "" && u.host != host {
			continue
		}
		if underPrefix(r.Path, u.prefix) {
			return u
		}
	}
	return nil
}

// underPrefix reports whether path is prefix or below it.
func underPrefix(path, prefix string) bool {
	if prefix == "/" {
		return true
	}
	return path == prefix || strings.HasPrefix(path, prefix) && path[len(prefix)] == '/'
}
