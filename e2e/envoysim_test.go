//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	// Every typed_config type the shipped bootstrap names.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

// envoySim stands in for Envoy running deploy/envoy/envoy.yaml (there is
// no Envoy binary here): it turns a raw HTTP/1.1 request into the
// CheckRequest Envoy's ext_authz filter would send gatehouse, asks a real
// gatehouse over gRPC, and applies the OkHttpResponse to the request as
// Envoy would before the router forwards it to the app.
//
// What it assumes of Envoy, with the shipped settings (each of which it
// reads from the file and insists on):
//   - HTTP/1 codec: header names lower-cased; a name with "_" refused
//     (headers_with_underscores_action: REJECT_REQUEST); a target with '#'
//     refused (Envoy ≥ 1.19 default, http_reject_path_with_fragment); an
//     absolute-form target sets :authority from its authority; HTTP/1.1
//     without Host refused; repeated headers reach ext_authz joined by ","
//     (several Cookie headers are one cookie header, joined by "; ", as
//     Envoy's header map stores them, for ext_authz and the upstream).
//   - path_with_escaped_slashes_action: REJECT_REQUEST: %2F, %5C refused.
//   - normalize_path (RFC 3986 as Envoy does it, via Chromium's URL
//     canonicalizer): '\' read as '/', unreserved %XX decoded (so %2e is
//     '.'), other escapes upper-cased, bytes ≥ 0x80 percent-encoded, dot
//     segments resolved; merge_slashes: "//" merged. ";params" are kept.
//   - upgrades: "Upgrade: h2c" is stripped by the HTTP/1 codec (with
//     HTTP2-Settings and Connection); any other type not listed in
//     upgrade_configs is refused with 403 before the filters run.
//   - use_remote_address: x-forwarded-for gets the peer appended,
//     x-forwarded-proto is set from the connection (https here).
//   - the virtual host is chosen on :authority, case-insensitively; the
//     default one answers directly without a check; /oauth2/ goes to
//     gatehouse without a check (not the app, so not judged here).
//   - ext_authz sends every header when allowed_headers is unset (else only
//     those listed); on OK, headers are set or appended and
//     headers_to_remove removed; then the router removes the virtual
//     host's request_headers_to_remove.
type envoySim struct {
	appDomains    []string // lower case
	upgrades      []string // upgrade_configs types, lower case
	removeHeaders []string
	allowed       []string // ext_authz allowed_headers (exact); nil: all
	client        authv3.AuthorizationClient
	extensions    map[string]string
}

// newEnvoySim reads the shipped envoy.yaml, with app.example.com replaced
// by host, and checks the settings the simulation models.
func newEnvoySim(host string, client authv3.AuthorizationClient) (*envoySim, error) {
	b, err := os.ReadFile(filepath.Join("..", "deploy", "envoy", "envoy.yaml"))
	if err != nil {
		return nil, err
	}
	src := strings.ReplaceAll(string(b), "app.example.com", host)
	var doc any
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		return nil, fmt.Errorf("envoy.yaml: %w", err)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	bs := &bootstrapv3.Bootstrap{}
	if err := protojson.Unmarshal(js, bs); err != nil {
		return nil, fmt.Errorf("envoy.yaml: %w", err)
	}
	hcm := &hcmv3.HttpConnectionManager{}
	if err := bs.GetStaticResources().GetListeners()[0].GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(hcm); err != nil {
		return nil, err
	}
	if !hcm.GetNormalizePath().GetValue() || !hcm.GetMergeSlashes() ||
		hcm.GetPathWithEscapedSlashesAction() != hcmv3.HttpConnectionManager_REJECT_REQUEST ||
		hcm.GetCommonHttpProtocolOptions().GetHeadersWithUnderscoresAction() != corev3.HttpProtocolOptions_REJECT_REQUEST ||
		!hcm.GetUseRemoteAddress().GetValue() {
		return nil, fmt.Errorf("envoy.yaml no longer has the path and header settings this simulation models")
	}
	ea := &extauthzv3.ExtAuthz{}
	if err := hcm.GetHttpFilters()[0].GetTypedConfig().UnmarshalTo(ea); err != nil {
		return nil, err
	}
	sim := &envoySim{client: client, extensions: map[string]string{}}
	for _, u := range hcm.GetUpgradeConfigs() {
		sim.upgrades = append(sim.upgrades, strings.ToLower(u.GetUpgradeType()))
	}
	if ah := ea.GetAllowedHeaders(); ah != nil {
		sim.allowed = []string{}
		for _, p := range ah.GetPatterns() {
			sim.allowed = append(sim.allowed, strings.ToLower(p.GetExact()))
		}
	}
	vhs := hcm.GetRouteConfig().GetVirtualHosts()
	app := vhs[0]
	for _, d := range app.GetDomains() {
		if d == "*" {
			return nil, fmt.Errorf("envoy.yaml: the app's virtual host matches every host")
		}
		sim.appDomains = append(sim.appDomains, strings.ToLower(d))
	}
	sim.removeHeaders = app.GetRequestHeadersToRemove()
	for _, r := range app.GetRoutes() {
		if r.GetMatch().GetPrefix() != "/" {
			continue
		}
		per := &extauthzv3.ExtAuthzPerRoute{}
		if err := r.GetTypedPerFilterConfig()["envoy.filters.http.ext_authz"].UnmarshalTo(per); err != nil {
			return nil, err
		}
		sim.extensions = per.GetCheckSettings().GetContextExtensions()
	}
	return sim, nil
}

// envoyOutcome is what the simulated Envoy did with one request.
type envoyOutcome struct {
	status   int         // the client's status (200 when forwarded)
	upstream *rawRequest // the request the app receives; nil if not forwarded
}

// handle runs one raw request through the simulated Envoy.
func (e *envoySim) handle(ctx context.Context, raw []byte) (envoyOutcome, error) {
	r, err := readHead(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return envoyOutcome{status: 400}, nil
	}
	hdrs := map[string][]string{}
	var order []string
	for _, h := range r.Headers {
		n := strings.ToLower(h[0])
		if n == "" || strings.ContainsAny(n, " \t_") {
			return envoyOutcome{status: 400}, nil // invalid name, or underscores rejected
		}
		if _, seen := hdrs[n]; !seen {
			order = append(order, n)
		}
		if n == "cookie" && len(hdrs[n]) > 0 {
			hdrs[n][0] += "; " + h[1] // Envoy's header map joins cookies into one
			continue
		}
		hdrs[n] = append(hdrs[n], h[1])
	}
	// Upgrades: the HTTP/1 codec strips an h2c upgrade; any other type
	// not in upgrade_configs is refused with 403 before any filter runs.
	if ups := hdrs["upgrade"]; len(ups) > 0 {
		v := strings.ToLower(strings.Join(ups, ","))
		if slices.Contains(strings.Split(strings.ReplaceAll(v, " ", ""), ","), "h2c") {
			delete(hdrs, "upgrade")
			delete(hdrs, "http2-settings")
			delete(hdrs, "connection")
		} else if !slices.Contains(e.upgrades, v) {
			return envoyOutcome{status: 403}, nil
		}
	}
	authority := ""
	if v := hdrs["host"]; len(v) > 0 {
		authority = v[0]
	}
	target := r.Target
	if !strings.HasPrefix(target, "/") {
		i := strings.Index(target, "://")
		if i < 0 {
			return envoyOutcome{status: 400}, nil
		}
		rest := target[i+3:]
		j := strings.IndexAny(rest, "/?")
		if j < 0 {
			authority, target = rest, "/"
		} else {
			authority, target = rest[:j], rest[j:]
			if target[0] == '?' {
				target = "/" + target
			}
		}
	}
	if authority == "" && r.Proto == "HTTP/1.1" {
		return envoyOutcome{status: 400}, nil
	}
	if strings.Contains(target, "#") {
		return envoyOutcome{status: 400}, nil
	}
	path, query, hasQuery := strings.Cut(target, "?")
	lp := strings.ToLower(path)
	if strings.Contains(lp, "%2f") || strings.Contains(lp, "%5c") {
		return envoyOutcome{status: 400}, nil
	}
	path = envoyNormalize(path)
	if hasQuery {
		path += "?" + query
	}

	// Route: the app's virtual host, or the refusing default.
	if !e.servesHost(authority) {
		return envoyOutcome{status: 421}, nil
	}
	if strings.HasPrefix(path, "/oauth2/") {
		return envoyOutcome{status: 200}, nil // gatehouse's own pages, not the app
	}

	// What the HCM adds before the filters run.
	xff := "127.0.0.1"
	if v := hdrs["x-forwarded-for"]; len(v) > 0 {
		xff = strings.Join(v, ",") + ",127.0.0.1"
	}
	set := func(n, v string) {
		if _, seen := hdrs[n]; !seen {
			order = append(order, n)
		}
		hdrs[n] = []string{v}
	}
	set("x-forwarded-for", xff)
	set("x-forwarded-proto", "https")
	set("x-request-id", randHex(8))

	check := map[string]string{":authority": authority, ":path": path, ":method": r.Method, ":scheme": "https"}
	for _, n := range order {
		if n == "host" {
			continue
		}
		if len(hdrs[n]) == 0 || e.allowed != nil && !containsFold(e.allowed, n) {
			continue
		}
		check[n] = strings.Join(hdrs[n], ",")
	}
	cr := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "127.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 40000}}}}},
		Destination: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "127.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 8080}}}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: check["x-request-id"], Method: r.Method, Headers: check, Path: path, Host: authority,
			Scheme: "https", Protocol: r.Proto,
		}},
		ContextExtensions: e.extensions,
	}}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := e.client.Check(ctx, cr)
	if err != nil {
		return envoyOutcome{}, fmt.Errorf("ext_authz Check: %w", err)
	}
	if codes.Code(resp.GetStatus().GetCode()) != codes.OK {
		st := int(resp.GetDeniedResponse().GetStatus().GetCode())
		if st == 0 {
			st = 403
		}
		return envoyOutcome{status: st}, nil
	}
	ok := resp.GetOkResponse()
	for _, hv := range ok.GetHeaders() {
		n, v := strings.ToLower(hv.GetHeader().GetKey()), hv.GetHeader().GetValue()
		appendIt := hv.GetAppend().GetValue()
		if hv.GetAppend() == nil {
			switch hv.GetAppendAction() {
			case corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD:
				appendIt = true
			case corev3.HeaderValueOption_ADD_IF_ABSENT:
				if len(hdrs[n]) > 0 {
					continue
				}
			case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS:
				if len(hdrs[n]) == 0 {
					continue
				}
			}
		}
		if _, seen := hdrs[n]; !seen {
			order = append(order, n)
		}
		if appendIt {
			hdrs[n] = append(hdrs[n], v)
		} else {
			hdrs[n] = []string{v}
		}
	}
	for _, n := range ok.GetHeadersToRemove() {
		if n = strings.ToLower(n); n != "host" && !strings.HasPrefix(n, ":") {
			delete(hdrs, n)
		}
	}
	for _, n := range e.removeHeaders {
		delete(hdrs, strings.ToLower(n))
	}
	up := &rawRequest{Method: r.Method, Target: path, Proto: "HTTP/1.1", Headers: [][2]string{{"host", authority}}}
	for _, n := range order {
		if n == "host" {
			continue
		}
		for _, v := range hdrs[n] {
			up.Headers = append(up.Headers, [2]string{n, v})
		}
	}
	return envoyOutcome{status: 200, upstream: up}, nil
}

// servesHost: :authority matches one of the app's domains, letter case
// ignored.
func (e *envoySim) servesHost(authority string) bool {
	return containsFold(e.appDomains, authority)
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// envoyNormalize is Envoy's normalize_path and merge_slashes as modelled
// above: '\' → '/', unreserved escapes decoded, others upper-cased, bytes
// ≥ 0x80 and controls percent-encoded, dot segments resolved, "//" merged.
func envoyNormalize(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\':
			b.WriteByte('/')
		case c == '%' && i+2 < len(p) && isHexDigit(p[i+1]) && isHexDigit(p[i+2]):
			d := unhex(p[i+1])<<4 | unhex(p[i+2])
			if isUnreserved(d) {
				b.WriteByte(d)
			} else {
				fmt.Fprintf(&b, "%%%02X", d)
			}
			i += 2
		case c >= 0x80 || c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return resolveDots(b.String())
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0
}
