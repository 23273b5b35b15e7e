package envoy

import (
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/render"
)

// plainOKResponse is okResponse written the plain way, one message at a
// time: the reference the allocation-saving one must equal.
func plainOKResponse(d *authz.Decision, clientCookie string) *authv3.OkHttpResponse {
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
		ok.Headers = append(ok.Headers, &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: name, Value: h.Value},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		})
	}
	return ok
}

func plainMetadata(d *authz.Decision, route string) *structpb.Struct {
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

func TestResponseEqualsThePlainConstruction(t *testing.T) {
	const clientCookie = "theme=dark; _gatehouse=v"
	many := make([]authz.Header, 40)
	for i := range many {
		many[i] = authz.Header{Name: "X-Many-" + strings.Repeat("Ab", i), Value: strings.Repeat("v", i%3)}
	}
	cases := map[string]struct {
		headers []authz.Header
		route   string
	}{
		"identity set and removed": {headers: []authz.Header{
			{Name: "X-Auth-Request-User", Value: "alice"}, {Name: "X-Auth-Request-Email", Value: "alice@example.com"},
			{Name: "X-Auth-Request-Preferred-Username"}, {Name: "Cookie", Value: "theme=dark"},
		}},
		"cookie unchanged is left alone": {headers: []authz.Header{{Name: "cookie", Value: clientCookie}, {Name: "X-User", Value: "a"}}, route: "app"},
		"cookie removed":                 {headers: []authz.Header{{Name: "Cookie"}, {Name: "X-User", Value: "a"}}},
		"empty names skipped":            {headers: []authz.Header{{Name: "", Value: "x"}, {Name: "A", Value: "1"}, {Name: ""}, {Name: "B"}}},
		"non-ascii name":                 {headers: []authz.Header{{Name: "X-Ünï-İ", Value: "1"}, {Name: "X-Ok", Value: "2"}, {Name: "X-Gone-Ä"}}},
		"long name":                      {headers: []authz.Header{{Name: "X-" + strings.Repeat("Long", 20), Value: "1"}, {Name: "X-Next", Value: "2"}}},
		"lower case already":             {headers: []authz.Header{{Name: "x-a", Value: "1"}, {Name: "x-b"}}},
		"only removals":                  {headers: []authz.Header{{Name: "X-A"}, {Name: "X-B"}}},
		"no headers":                     {},
		"more than 16 headers":           {headers: many, route: "r"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			v := check.Verdict{Decision: authz.Decision{Outcome: authz.Allow, Reason: authz.ReasonAllowed, User: "alice", UpstreamHeaders: tc.headers}}
			got := toResponse(&v, tc.route, clientCookie)
			want := &authv3.CheckResponse{
				Status:          got.GetStatus(), // checked below
				HttpResponse:    &authv3.CheckResponse_OkResponse{OkResponse: plainOKResponse(&v.Decision, clientCookie)},
				DynamicMetadata: plainMetadata(&v.Decision, tc.route),
			}
			if got.GetStatus().GetCode() != 0 || got.GetStatus().GetMessage() != "" {
				t.Errorf("status = %v, want OK", got.GetStatus())
			}
			if !proto.Equal(got, want) {
				t.Errorf("toResponse =\n%v\nwant\n%v", got, want)
			}
		})
	}
}

func TestDeniedResponseMetadata(t *testing.T) {
	for _, route := range []string{"", "app"} {
		v := check.Verdict{
			Decision: authz.Decision{Outcome: authz.Forbidden, Reason: authz.ReasonNotAllowed, User: "bob"},
			Reply:    render.Reply{Status: 403},
		}
		got := toResponse(&v, route, "")
		if want := plainMetadata(&v.Decision, route); !proto.Equal(got.GetDynamicMetadata(), want) {
			t.Errorf("route %q: metadata = %v, want %v", route, got.GetDynamicMetadata(), want)
		}
	}
}
