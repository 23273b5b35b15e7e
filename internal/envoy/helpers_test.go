package envoy_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/envoy"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
)

const (
	cookieName = "_gatehouse"
	loginURL   = "https://auth.example.com/oauth2/start"
)

// fakeStore is a session.Store held in a map. err makes every Load fail;
// hang makes every Load block until its context ends.
type fakeStore struct {
	mu       sync.Mutex
	sessions map[string]*session.Session
	err      error
	hang     bool
}

var _ session.Store = (*fakeStore)(nil)

func (f *fakeStore) Save(_ context.Context, s *session.Session) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sessions == nil {
		f.sessions = map[string]*session.Session{}
	}
	c := *s
	f.sessions[s.ID] = &c
	return nil
}

func (f *fakeStore) Load(ctx context.Context, id string) (*session.Session, error) {
	f.mu.Lock()
	hang, err, s := f.hang, f.err, f.sessions[id]
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, session.ErrNotFound
	}
	c := *s
	return &c, nil
}

func (f *fakeStore) Delete(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.sessions, id)
	return nil
}

func (f *fakeStore) Ping(context.Context) error { return nil }

// env is a Checker over a fakeStore with a real cookie codec.
type env struct {
	store   *fakeStore
	codec   *cookie.Codec
	checker *check.Checker
}

func testPolicy() *authz.Policy {
	return &authz.Policy{
		LoginURL:     loginURL,
		Skip:         []authz.Route{{PathPrefix: "/public"}},
		EmailDomains: []string{"example.com"},
		Headers:      authz.DefaultHeaderNames(),
	}
}

func newEnv(t testing.TB, timeout time.Duration) *env {
	t.Helper()
	key := make([]byte, cookie.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	codec, err := cookie.NewCodec([][]byte{key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := &fakeStore{}
	c := check.New(st, codec, cookie.Settings{Name: cookieName, Secure: true}, testPolicy(), check.Options{Timeout: timeout})
	return &env{store: st, codec: codec, checker: c}
}

// login saves a session for email and returns the Cookie header naming it.
func (e *env) login(t testing.TB, email string, verified bool, groups ...string) string {
	t.Helper()
	id, err := session.NewID()
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	s := &session.Session{ID: id, Subject: "sub-" + email, User: strings.Split(email, "@")[0], Email: email, EmailVerified: verified, Groups: groups, ExpiresAt: exp}
	if err := e.store.Save(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	v, err := e.codec.SealID(cookieName, id, exp)
	if err != nil {
		t.Fatal(err)
	}
	return "theme=dark; " + cookieName + "=" + v
}

// serve starts svc on 127.0.0.1 and returns a client connection to it.
func serve(t *testing.T, svc *envoy.Service, opts envoy.ServerOptions, dial ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	srv, _ := envoy.NewServer(svc, opts)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	if len(dial) == 0 {
		dial = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	conn, err := grpc.NewClient(lis.Addr().String(), dial...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// checkReq builds the CheckRequest Envoy sends for a request.
func checkReq(method, host, path string, headers map[string]string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "203.0.113.7", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 51234}},
		}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "1", Method: method, Host: host, Path: path, Scheme: "https", Protocol: "HTTP/1.1", Headers: headers,
		}},
	}}
}

// applyOK applies an OkHttpResponse to request headers the way Envoy does:
// removals first, then each header by its append action.
func applyOK(t *testing.T, in map[string]string, ok *authv3.OkHttpResponse) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for k, v := range in {
		out[strings.ToLower(k)] = []string{v}
	}
	for _, k := range ok.GetHeadersToRemove() {
		delete(out, k)
	}
	for _, h := range ok.GetHeaders() {
		k := strings.ToLower(h.GetHeader().GetKey())
		switch h.GetAppendAction() {
		case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD:
			out[k] = []string{h.GetHeader().GetValue()}
		default:
			t.Fatalf("identity header %q set with append action %v", k, h.GetAppendAction())
		}
	}
	return out
}

func tlsDial(cfg *tls.Config) grpc.DialOption {
	return grpc.WithTransportCredentials(credentials.NewTLS(cfg))
}

var errStoreDown = errors.New("redis: connection refused")
