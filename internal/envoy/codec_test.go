//go:build vtprotobuf

package envoy

import (
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/render"
)

// TestCodecMarshalsTheSameMessage checks that what the codec writes
// decodes, with protobuf-go, to the message it was given: allows and
// denials (small, and above gRPC's buffer pooling threshold), and a
// message without generated marshalling.
func TestCodecMarshalsTheSameMessage(t *testing.T) {
	c, err := newCodec()
	if err != nil {
		t.Fatal(err)
	}
	allow := check.Verdict{Decision: authz.Decision{Outcome: authz.Allow, Reason: authz.ReasonAllowed, User: "alice", UpstreamHeaders: []authz.Header{
		{Name: "X-Auth-Request-User", Value: "alice"}, {Name: "X-Auth-Request-Email", Value: "alice@example.com"},
		{Name: "X-Auth-Request-Groups"}, {Name: "Cookie", Value: "theme=dark"},
	}}}
	deny := func(body string) *check.Verdict {
		return &check.Verdict{
			Decision: authz.Decision{Outcome: authz.Unauthenticated, Reason: authz.ReasonNoSession},
			Reply: render.Reply{Status: 302, Body: body, Headers: []authz.Header{
				{Name: "Location", Value: "https://auth.example.com/oauth2/start?rd=x"}, {Name: "Set-Cookie", Value: "a=b"}, {Name: "Set-Cookie", Value: "c=d"},
			}},
		}
	}
	msgs := map[string]proto.Message{
		"allow":            toResponse(&allow, "app", ""),
		"denial":           toResponse(deny("<p>sign in</p>"), "", ""),
		"large denial":     toResponse(deny(strings.Repeat("x", 64<<10)), "app", ""),
		"empty":            &authv3.CheckResponse{},
		"not vtprotobuf's": &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING},
	}
	for name, m := range msgs {
		t.Run(name, func(t *testing.T) {
			data, err := c.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			b := data.Materialize()
			data.Free()
			if want := proto.Size(m); len(b) != want {
				t.Errorf("marshalled %d bytes, protobuf-go's size is %d", len(b), want)
			}
			got := m.ProtoReflect().New().Interface()
			if err := proto.Unmarshal(b, got); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, m) {
				t.Errorf("decoded\n%v\nwant\n%v", got, m)
			}
		})
	}
}
