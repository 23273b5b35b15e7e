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
	resp := &authv3.CheckResponse{DynamicMetadata: metadata(&v.Decision, route)}
	if v.Outcome == authz.Allow {
		resp.Status = &rpcstatus.Status{Code: int32(codes.OK)}
		resp.HttpResponse = &authv3.CheckResponse_OkResponse{OkResponse: okResponse(&v.Decision, clientCookie)}
		return resp
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
	resp.Status = &rpcstatus.Status{Code: int32(code), Message: string(v.Reason)}
	resp.HttpResponse = &authv3.CheckResponse_DeniedResponse{DeniedResponse: deniedResponse(&v.Reply)}
	return resp
}

// okResponse sets every identity header that has a value, overwriting what
// the client sent, and removes every identity header that has none. The
// Cookie header without gatehouse's cookies is handled the same way, and
// left alone when nothing was removed from it.
func okResponse(d *authz.Decision, clientCookie string) *authv3.OkHttpResponse {
	ok := &authv3.OkHttpResponse{}
	for _, h := range d.UpstreamHeaders {
		if h.Name == "" || h.Value == clientCookie && strings.EqualFold(h.Name, check.UpstreamCookieHeader) {
			continue
		}
		name := strings.ToLower(h.Name)
		if h.Value == "" {
			ok.HeadersToRemove = append(ok.HeadersToRemove, name)
			continue
		}
		ok.Headers = append(ok.Headers, headerOption(name, h.Value, corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD))
	}
	return ok
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

// metadata is the dynamic metadata of a response. It never holds a cookie
// or token: only the stable reason code, the outcome, the user and the
// route label.
func metadata(d *authz.Decision, route string) *structpb.Struct {
	f := map[string]*structpb.Value{
		MetadataReason:  structpb.NewStringValue(string(d.Reason)),
		MetadataOutcome: structpb.NewStringValue(d.Outcome.String()),
		MetadataUser:    structpb.NewStringValue(d.User),
	}
	if route != "" {
		f[MetadataRoute] = structpb.NewStringValue(route)
	}
	return &structpb.Struct{Fields: f}
}
