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

// envoyRequest is a request as Envoy holds it after its HTTP/1 codec and
// the connection manager: lower-case header names in arrival order.
type envoyRequest struct {
	method, proto   string
	authority, path string // path is normalized and carries the query
	hdrs            map[string][]string
	order           []string
}

// set replaces the header n.
func (er *envoyRequest) set(n, v string) {
	if _, seen := er.hdrs[n]; !seen {
		er.order = append(er.order, n)
	}
	er.hdrs[n] = []string{v}
}

// handle runs one raw request through the simulated Envoy.
func (e *envoySim) handle(ctx context.Context, raw []byte) (envoyOutcome, error) {
	er, status := e.decode(raw)
	if er == nil {
		return envoyOutcome{status: status}, nil
	}
	if !e.servesHost(er.authority) {
		return envoyOutcome{status: 421}, nil // the refusing default virtual host
	}
	if strings.HasPrefix(er.path, "/oauth2/") {
		return envoyOutcome{status: 200}, nil // gatehouse's own pages, not the app
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := e.client.Check(ctx, e.checkRequest(er))
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
	e.apply(er, resp.GetOkResponse())
	return envoyOutcome{status: 200, upstream: er.upstream()}, nil
}

// decode is the HTTP/1 codec and the connection manager: it returns the
// request as the filters see it, or nil and the status of Envoy's own
// refusal.
func (e *envoySim) decode(raw []byte) (*envoyRequest, int) {
	r, err := readHead(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return nil, 400
	}
	er := &envoyRequest{method: r.Method, proto: r.Proto, hdrs: map[string][]string{}}
	for _, h := range r.Headers {
		n := strings.ToLower(h[0])
		if n == "" || strings.ContainsAny(n, " \t_") {
			return nil, 400 // invalid name, or underscores rejected
		}
		if _, seen := er.hdrs[n]; !seen {
			er.order = append(er.order, n)
		}
		if n == "cookie" && len(er.hdrs[n]) > 0 {
			er.hdrs[n][0] += "; " + h[1] // Envoy's header map joins cookies into one
			continue
		}
		er.hdrs[n] = append(er.hdrs[n], h[1])
	}
	if st := e.upgrade(er); st != 0 {
		return nil, st
	}
	if v := er.hdrs["host"]; len(v) > 0 {
		er.authority = v[0]
	}
	target := r.Target
	if !strings.HasPrefix(target, "/") {
		authority, rest, ok := splitAbsolute(target)
		if !ok {
			return nil, 400
		}
		er.authority, target = authority, rest
	}
	if er.authority == "" && r.Proto == "HTTP/1.1" {
		return nil, 400
	}
	if strings.Contains(target, "#") {
		return nil, 400
	}
	path, query, hasQuery := strings.Cut(target, "?")
	if lp := strings.ToLower(path); strings.Contains(lp, "%2f") || strings.Contains(lp, "%5c") {
		return nil, 400
	}
	er.path = envoyNormalize(path)
	if hasQuery {
		er.path += "?" + query
	}
	// What the connection manager adds before the filters run.
	xff := "127.0.0.1"
	if v := er.hdrs["x-forwarded-for"]; len(v) > 0 {
		xff = strings.Join(v, ",") + ",127.0.0.1"
	}
	er.set("x-forwarded-for", xff)
	er.set("x-forwarded-proto", "https")
	er.set("x-request-id", randHex(8))
	return er, 0
}

// upgrade: the HTTP/1 codec strips an h2c upgrade; any other type not in
// upgrade_configs is refused with 403 before any filter runs.
func (e *envoySim) upgrade(er *envoyRequest) int {
	ups := er.hdrs["upgrade"]
	if len(ups) == 0 {
		return 0
	}
	v := strings.ToLower(strings.Join(ups, ","))
	if slices.Contains(strings.Split(strings.ReplaceAll(v, " ", ""), ","), "h2c") {
		delete(er.hdrs, "upgrade")
		delete(er.hdrs, "http2-settings")
		delete(er.hdrs, "connection")
		return 0
	}
	if !slices.Contains(e.upgrades, v) {
		return 403
	}
	return 0
}

// splitAbsolute splits an absolute-form target into its authority and the
// origin-form rest ("/" when it has no path).
func splitAbsolute(target string) (authority, rest string, ok bool) {
	i := strings.Index(target, "://")
	if i < 0 {
		return "", "", false
	}
	after := target[i+3:]
	j := strings.IndexAny(after, "/?")
	switch {
	case j < 0:
		return after, "/", true
	case after[j] == '?':
		return after[:j], "/" + after[j:], true
	}
	return after[:j], after[j:], true
}

// checkRequest is the CheckRequest the ext_authz filter sends: every
// header (or those allowed_headers lists), repeated ones joined by ",",
// the pseudo-headers, the peer and the route's context extensions.
func (e *envoySim) checkRequest(er *envoyRequest) *authv3.CheckRequest {
	check := map[string]string{":authority": er.authority, ":path": er.path, ":method": er.method, ":scheme": "https"}
	for _, n := range er.order {
		if n == "host" || len(er.hdrs[n]) == 0 || e.allowed != nil && !containsFold(e.allowed, n) {
			continue
		}
		check[n] = strings.Join(er.hdrs[n], ",")
	}
	peer := func(port uint32) *authv3.AttributeContext_Peer {
		return &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "127.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port}}}}}
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      peer(40000),
		Destination: peer(8080),
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: er.hdrs["x-request-id"][0], Method: er.method, Headers: check, Path: er.path, Host: er.authority,
			Scheme: "https", Protocol: er.proto,
		}},
		ContextExtensions: e.extensions,
	}}
}

// apply is what Envoy does with an OK answer: headers set, appended or
// added as each option says, headers_to_remove removed (never Host or a
// pseudo-header), then the router's request_headers_to_remove.
func (e *envoySim) apply(er *envoyRequest, ok *authv3.OkHttpResponse) {
	for _, hv := range ok.GetHeaders() {
		n, v := strings.ToLower(hv.GetHeader().GetKey()), hv.GetHeader().GetValue()
		appendIt := hv.GetAppend().GetValue()
		if hv.GetAppend() == nil {
			switch hv.GetAppendAction() {
			case corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD:
				appendIt = true
			case corev3.HeaderValueOption_ADD_IF_ABSENT:
				if len(er.hdrs[n]) > 0 {
					continue
				}
			case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS:
				if len(er.hdrs[n]) == 0 {
					continue
				}
			}
		}
		if !appendIt {
			er.set(n, v)
			continue
		}
		if _, seen := er.hdrs[n]; !seen {
			er.order = append(er.order, n)
		}
		er.hdrs[n] = append(er.hdrs[n], v)
	}
	for _, n := range ok.GetHeadersToRemove() {
		if n = strings.ToLower(n); n != "host" && !strings.HasPrefix(n, ":") {
			delete(er.hdrs, n)
		}
	}
	for _, n := range e.removeHeaders {
		delete(er.hdrs, strings.ToLower(n))
	}
}

// upstream is the request the router sends the app.
func (er *envoyRequest) upstream() *rawRequest {
	up := &rawRequest{Method: er.method, Target: er.path, Proto: "HTTP/1.1", Headers: [][2]string{{"host", er.authority}}}
	for _, n := range er.order {
		if n == "host" {
			continue
		}
		for _, v := range er.hdrs[n] {
			up.Headers = append(up.Headers, [2]string{n, v})
		}
	}
	return up
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
