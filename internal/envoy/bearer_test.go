package envoy_test

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/bearer"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/envoy"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
)

// fakeVerifier accepts exactly one token.
type fakeVerifier struct{ good string }

func (f fakeVerifier) Verify(_ context.Context, tok string) (*authz.Identity, error) {
	if tok != f.good {
		return nil, fmt.Errorf("%w: unknown token", bearer.ErrInvalid)
	}
	return &authz.Identity{Subject: "svc", User: "ci-bot", Email: "ci-bot@example.com", EmailVerified: true}, nil
}

// TestAuthorizationHeaderReachesChecker shows the adapter passes Envoy's
// authorization header to the Checker as the bearer credential.
func TestAuthorizationHeaderReachesChecker(t *testing.T) {
	e := newEnv(t, 0)
	c := check.New(e.store, e.codec, cookie.Settings{Name: cookieName, Secure: true}, testPolicy(),
		check.Options{Bearer: fakeVerifier{good: "good-token"}})
	conn := serve(t, envoy.NewService(c, envoy.ServiceOptions{}), envoy.ServerOptions{})

	resp := call(t, conn, checkReq("GET", "app.example.com", "/api", map[string]string{"accept": apiAccept, "authorization": "Bearer good-token"}))
	ok := resp.GetOkResponse()
	if ok == nil || headerMap(ok.GetHeaders())["x-auth-request-user"].GetHeader().GetValue() != "ci-bot" {
		t.Fatalf("want allow as ci-bot, got %v", resp)
	}
	resp = call(t, conn, checkReq("GET", "app.example.com", "/api", map[string]string{"accept": apiAccept, "authorization": "Bearer forged"}))
	wantDenied(t, resp, codes.Unauthenticated, 401)
	if r := meta(resp, envoy.MetadataReason); r != string(authz.ReasonInvalidToken) {
		t.Errorf("reason = %q, want %q", r, authz.ReasonInvalidToken)
	}
}
