package spoa

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/spop"
)

// MessageName is the spoe-message the agent answers.
const MessageName = "gatehouse-check"

// The arguments of MessageName, as deploy/haproxy/gatehouse.spoe.conf
// names them.
const (
	ArgMethod  = "method"  // method: the request line's method
	ArgHTTPS   = "https"   // ssl_fc: true when the client connection is TLS
	ArgURL     = "url"     // url: the request target (absolute for HTTP/2)
	ArgHeaders = "headers" // req.hdrs_bin: every request header
	ArgSource  = "src"     // src: the client's address
)

// maxHeaders bounds the headers read from one message (HAProxy's own
// default limit, tune.http.maxhdr, is 101).
const maxHeaders = 1024

// errBadRequest is wrapped by toRequest's errors.
var errBadRequest = errors.New("spoa: malformed check message")

// checkInput is what the agent reads from one message.
type checkInput struct {
	req           authz.Request
	cookie        string // the raw Cookie header(s); never logged
	authorization string // never logged
}

// header is one request header as HAProxy sent it.
type header struct{ name, value string }

// toRequest maps a gatehouse-check message to the core's request. It never
// panics; its errors wrap errBadRequest.
func toRequest(m *spop.Message) (checkInput, error) {
	method, ok := m.Arg(ArgMethod)
	if !ok || method.Kind != spop.KindString {
		return checkInput{}, fmt.Errorf("%w: no %s argument", errBadRequest, ArgMethod)
	}
	target, ok := m.Arg(ArgURL)
	if !ok || target.Kind != spop.KindString {
		return checkInput{}, fmt.Errorf("%w: no %s argument", errBadRequest, ArgURL)
	}
	raw, ok := m.Arg(ArgHeaders)
	if !ok || raw.Kind != spop.KindBinary && raw.Kind != spop.KindString {
		return checkInput{}, fmt.Errorf("%w: no %s argument", errBadRequest, ArgHeaders)
	}
	hdrs, err := parseHeaders(raw.Bytes)
	if err != nil {
		return checkInput{}, err
	}
	scheme := "http"
	if v, _ := m.Arg(ArgHTTPS); v.Kind == spop.KindBool && v.Bool {
		scheme = "https"
	}

	host, err := only(hdrs, "host")
	if err != nil {
		return checkInput{}, err
	}
	t := target.String()
	if t != "" && t[0] != '/' {
		// Absolute form: a request line with a URL, and every HTTP/2
		// request (HAProxy puts :scheme and :authority in the target).
		// HAProxy refuses an authority that differs from Host; refuse it
		// here too rather than judge one name and route on the other.
		authority, path, err := splitAbsolute(t)
		if err != nil {
			return checkInput{}, err
		}
		switch {
		case host == "":
			host = authority
		case !strings.EqualFold(host, authority):
			return checkInput{}, fmt.Errorf("%w: the target's authority differs from Host", errBadRequest)
		}
		t = path
	}
	req, err := authz.NewRequest(method.String(), scheme, host, t)
	if err != nil {
		return checkInput{}, errors.Join(errBadRequest, err)
	}
	in := checkInput{req: req}
	if err := in.req.SetMethodOverride(func(name string) string { return join(hdrs, name, ",") }); err != nil {
		return checkInput{}, errors.Join(errBadRequest, err)
	}
	for _, h := range hdrs {
		if strings.IndexByte(h.name, '_') >= 0 {
			in.req.UnderscoreHeaders = append(in.req.UnderscoreHeaders, h.name)
		}
	}
	in.req.Accept = join(hdrs, "accept", ", ")
	in.req.FetchMode = join(hdrs, "sec-fetch-mode", ",")
	in.req.RequestedWith = join(hdrs, "x-requested-with", ",")
	in.cookie = join(hdrs, "cookie", "; ")
	in.authorization = join(hdrs, "authorization", ", ")
	if src, ok := m.Arg(ArgSource); ok && (src.Kind == spop.KindIPv4 || src.Kind == spop.KindIPv6) {
		in.req.ClientIP = src.Addr.Unmap()
	}
	return in, nil
}

// splitAbsolute splits an absolute-form target into its authority and its
// path and query ("/" when it has none).
func splitAbsolute(t string) (authority, path string, err error) {
	scheme, rest, ok := strings.Cut(t, "://")
	if !ok || !(strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https")) {
		return "", "", fmt.Errorf("%w: request target is neither origin nor absolute form", errBadRequest)
	}
	i := strings.IndexAny(rest, "/?")
	if i < 0 || rest[i] == '?' {
		// No path: HAProxy sends such a target (an HTTP/2 "OPTIONS *", an
		// absolute URL without its "/") to the app as it is, so judging it
		// as "/" would judge another request than the one routed.
		return "", "", fmt.Errorf("%w: absolute request target without a path", errBadRequest)
	}
	return rest[:i], rest[i:], nil
}

// parseHeaders decodes req.hdrs_bin: pairs of length-prefixed name and
// value, ended by an empty name and an empty value.
func parseHeaders(b []byte) ([]header, error) {
	var hdrs []header
	for {
		name, n, err := lengthPrefixed(b)
		if err != nil {
			return nil, fmt.Errorf("%w: headers: %v", errBadRequest, err)
		}
		b = b[n:]
		value, n, err := lengthPrefixed(b)
		if err != nil {
			return nil, fmt.Errorf("%w: headers: %v", errBadRequest, err)
		}
		b = b[n:]
		if len(name) == 0 {
			if len(value) != 0 || len(b) != 0 {
				return nil, fmt.Errorf("%w: headers: data after the end marker", errBadRequest)
			}
			return hdrs, nil
		}
		if len(hdrs) == maxHeaders {
			return nil, fmt.Errorf("%w: more than %d headers", errBadRequest, maxHeaders)
		}
		hdrs = append(hdrs, header{name: string(name), value: string(value)})
	}
}

func lengthPrefixed(b []byte) ([]byte, int, error) {
	l, n, err := spop.Varint(b)
	if err != nil {
		return nil, 0, err
	}
	if l > uint64(len(b)-n) {
		return nil, 0, spop.ErrTruncated
	}
	return b[n : n+int(l)], n + int(l), nil
}

// join returns every value of the header name (any letter case) joined by
// sep, as a proxy that folds repeated headers would pass them on.
func join(hdrs []header, name, sep string) string {
	var out string
	found := false
	for _, h := range hdrs {
		if !strings.EqualFold(h.name, name) {
			continue
		}
		if found {
			out += sep
		}
		out += h.value
		found = true
	}
	return out
}

// only returns the one value of the header name; a repeated one is
// ambiguous and wraps errBadRequest.
func only(hdrs []header, name string) (string, error) {
	var v string
	n := 0
	for _, h := range hdrs {
		if strings.EqualFold(h.name, name) {
			v = h.value
			n++
		}
	}
	if n > 1 {
		return "", fmt.Errorf("%w: %s sent %d times", errBadRequest, name, n)
	}
	return v, nil
}
