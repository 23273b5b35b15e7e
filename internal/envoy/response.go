package envoy

import (
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/render"
)

// Dynamic metadata keys set on every CheckResponse. Envoy stores them under
// the filter's namespace (envoy.filters.http.ext_authz) for access logs and
// later filters.
const (
	MetadataReason  = "reason"
	MetadataOutcome = "outcome"
	MetadataUser    = "user"
	MetadataRoute   = "route"
)

// toResponse turns a verdict into Envoy's reply. The mapping is fixed:
//
//  1. Allow           → OK, OkHttpResponse (identity headers overwritten or removed);
//  2. Unauthenticated → UNAUTHENTICATED, the 302 to login or the 401;
//  3. Unavailable     → UNAVAILABLE, the 503 (fail closed);
//  4. Forbidden       → PERMISSION_DENIED with 403, INVALID_ARGUMENT with 400;
//  5. anything else   → PERMISSION_DENIED with the decision's status.
//
// clientCookie is the Cookie header the client sent: when the decision's
// upstream Cookie (check.UpstreamCookieHeader) equals it, it is not repeated.
func toResponse(v *check.Verdict, route, clientCookie string) *authv3.CheckResponse {
	if v.Outcome == authz.Allow {
		a := new(allowed)
		a.resp.DynamicMetadata = a.meta.set(&v.Decision, route)
		a.resp.Status = &a.status // code OK
		a.ok.OkResponse = okResponse(&a.okResp, &v.Decision, clientCookie)
		a.resp.HttpResponse = &a.ok
		return &a.resp
	}
	code := codes.PermissionDenied
	switch {
	case v.Outcome == authz.Unauthenticated:
		code = codes.Unauthenticated
	case v.Outcome == authz.Unavailable:
		code = codes.Unavailable
	case v.Reply.Status == 400:
		code = codes.InvalidArgument
	}
	var m meta
	resp := &authv3.CheckResponse{DynamicMetadata: m.set(&v.Decision, route)}
	resp.Status = &rpcstatus.Status{Code: int32(code), Message: string(v.Reason)}
	resp.HttpResponse = &authv3.CheckResponse_DeniedResponse{DeniedResponse: deniedResponse(&v.Reply)}
	return resp
}

// allowed holds every message of an allow's CheckResponse but the header
// lists, so that the answer to most calls is one allocation instead of a
// dozen (the messages are only ever used through pointers into it).
type allowed struct {
	resp   authv3.CheckResponse
	status rpcstatus.Status
	ok     authv3.CheckResponse_OkResponse
	okResp authv3.OkHttpResponse
	meta   meta
}

// okHeader is one header an OkHttpResponse sets, with its value.
type okHeader struct {
	opt corev3.HeaderValueOption
	val corev3.HeaderValue
}

// okResponse fills ok: it sets every identity header that has a value,
// overwriting what the client sent, and removes every identity header that
// has none. The Cookie header without gatehouse's cookies is handled the
// same way, and left alone when nothing was removed from it. The header
// lists are allocated once at their final sizes, and the lower-case names
// share one string.
func okResponse(ok *authv3.OkHttpResponse, d *authz.Decision, clientCookie string) *authv3.OkHttpResponse {
	hs := d.UpstreamHeaders
	skip := func(h *authz.Header) bool {
		return h.Name == "" || h.Value == clientCookie && strings.EqualFold(h.Name, check.UpstreamCookieHeader)
	}
	var nSet, nRemove, nameLen int
	for i := range hs {
		switch {
		case skip(&hs[i]):
			continue
		case hs[i].Value == "":
			nRemove++
		default:
			nSet++
		}
		nameLen += len(hs[i].Name)
	}
	names := lowerNames{}
	names.b.Grow(nameLen)
	ends := make([]int, 0, 16)
	for i := range hs {
		if !skip(&hs[i]) {
			ends = append(ends, names.add(hs[i].Name))
		}
	}
	all := names.b.String()
	var set []okHeader
	if nSet > 0 {
		set = make([]okHeader, 0, nSet)
		ok.Headers = make([]*corev3.HeaderValueOption, 0, nSet)
	}
	if nRemove > 0 {
		ok.HeadersToRemove = make([]string, 0, nRemove)
	}
	j, from := 0, 0
	for i := range hs {
		if skip(&hs[i]) {
			continue
		}
		name := all[from:ends[j]]
		from = ends[j]
		j++
		if hs[i].Value == "" {
			ok.HeadersToRemove = append(ok.HeadersToRemove, name)
			continue
		}
		set = append(set, okHeader{})
		h := &set[len(set)-1]
		h.val.Key, h.val.Value = name, hs[i].Value
		h.opt.Header = &h.val
		h.opt.AppendAction = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
		ok.Headers = append(ok.Headers, &h.opt)
	}
	return ok
}

// lowerNames writes header names in lower case, one after the other, into
// one string.
type lowerNames struct{ b strings.Builder }

// add writes name in lower case, as strings.ToLower would, and returns
// the length written so far: the end of name in the final string.
func (l *lowerNames) add(name string) int {
	var buf [64]byte
	if len(name) > len(buf) {
		l.b.WriteString(strings.ToLower(name))
		return l.b.Len()
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 0x80:
			l.b.WriteString(strings.ToLower(name))
			return l.b.Len()
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	l.b.Write(buf[:len(name)])
	return l.b.Len()
}

// deniedResponse carries the reply's status, headers and body to the
// client. Set-Cookie is appended (there may be several); every other
// header, Location included, overwrites whatever Envoy would send.
func deniedResponse(d *render.Reply) *authv3.DeniedHttpResponse {
	status := d.Status
	if status < 300 || status > 599 {
		status = 403 // a denial must never look like success
	}
	dr := &authv3.DeniedHttpResponse{
		Status: &typev3.HttpStatus{Code: typev3.StatusCode(status)},
		Body:   d.Body,
	}
	for _, h := range d.Headers {
		name := strings.ToLower(h.Name)
		action := corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
		if name == "set-cookie" {
			action = corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
		}
		dr.Headers = append(dr.Headers, headerOption(name, h.Value, action))
	}
	return dr
}

func headerOption(name, value string, action corev3.HeaderValueOption_HeaderAppendAction) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: name, Value: value},
		AppendAction: action,
	}
}

// meta is the dynamic metadata of a response, with its values.
type meta struct {
	st   structpb.Struct
	vals [4]structpb.Value
	strs [4]structpb.Value_StringValue
}

// set fills m and returns its Struct. It never holds a cookie or token:
// only the stable reason code, the outcome, the user and the route label.
func (m *meta) set(d *authz.Decision, route string) *structpb.Struct {
	n := 3
	if route != "" {
		n = 4
	}
	m.st.Fields = make(map[string]*structpb.Value, n)
	m.str(0, MetadataReason, string(d.Reason))
	m.str(1, MetadataOutcome, d.Outcome.String())
	m.str(2, MetadataUser, d.User)
	if route != "" {
		m.str(3, MetadataRoute, route)
	}
	return &m.st
}

func (m *meta) str(i int, key, value string) {
	m.strs[i].StringValue = value
	m.vals[i].Kind = &m.strs[i]
	m.st.Fields[key] = &m.vals[i]
}
