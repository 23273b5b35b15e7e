package spoa_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
	"github.com/gatehouse/gatehouse/internal/session/memstore"
	"github.com/gatehouse/gatehouse/internal/spoa"
	"github.com/gatehouse/gatehouse/internal/spop"
	"github.com/gatehouse/gatehouse/internal/spop/spoptest"
)

const (
	cookieName = "_gatehouse"
	host       = "app.example.com"
	loginURL   = "https://app.example.com/oauth2/start"
)

// flakyStore is a MemoryStore whose reads can be made to fail.
type flakyStore struct {
	*memstore.Store
	down atomic.Bool
}

var errDown = errors.New("store: connection refused")

func (s *flakyStore) Load(ctx context.Context, id string) (*session.Session, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.Load(ctx, id)
}

func (s *flakyStore) LoadIdentity(ctx context.Context, id string) (*session.Session, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.LoadIdentity(ctx, id)
}

func (s *flakyStore) LoadWithTokens(ctx context.Context, id string) (*session.Session, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.LoadWithTokens(ctx, id)
}

// fixture is an agent on a loopback listener, over a real checker with
// alice's session.
type fixture struct {
	addr   string
	store  *flakyStore
	alice  string // alice's Cookie header: theme=dark and the session cookie
	carol  string // the Cookie header of carol, who is in 200 groups
	cancel context.CancelFunc
	done   chan error
}

func newFixture(t testing.TB, opts spoa.Options) *fixture {
	t.Helper()
	key := make([]byte, cookie.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	codec, err := cookie.NewCodec([][]byte{key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := &flakyStore{Store: memstore.New(memstore.Options{})}
	t.Cleanup(func() { _ = st.Close() })
	policy := &authz.Policy{
		LoginURL:     loginURL,
		Skip:         []authz.Route{{PathPrefix: "/public"}},
		EmailDomains: []string{"example.com"},
		Headers:      authz.DefaultHeaderNames(),
	}
	checker := check.New(st, codec, cookie.Settings{Name: cookieName, Secure: true}, policy, check.Options{Timeout: 100 * time.Millisecond})
	add := func(user string, groups ...string) string {
		id, err := session.NewID()
		if err != nil {
			t.Fatal(err)
		}
		exp := time.Now().Add(time.Hour)
		if err := st.Save(context.Background(), &session.Session{ID: id, Issuer: "https://idp.example.com", Subject: "sub-" + user, User: user,
			Email: user + "@example.com", EmailVerified: true, Groups: groups, CreatedAt: time.Now(), ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
		sealed, err := codec.SealID(cookieName, id, exp)
		if err != nil {
			t.Fatal(err)
		}
		return cookieName + "=" + sealed
	}
	many := make([]string, 200)
	for i := range many {
		many[i] = fmt.Sprintf("group-with-a-long-name-%03d", i)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &fixture{addr: ln.Addr().String(), store: st, alice: "theme=dark; " + add("alice", "eng", "ops"), carol: add("carol", many...), cancel: cancel, done: make(chan error, 1)}
	agent := spoa.New(checker, opts)
	go func() { f.done <- agent.Run(ctx, ln) }()
	t.Cleanup(func() { f.stop(t) })
	return f
}

// stop ends Run and waits for it.
func (f *fixture) stop(t testing.TB) {
	t.Helper()
	f.cancel()
	select {
	case err, ok := <-f.done:
		if ok && err != nil {
			t.Errorf("Run: %v", err)
		}
		if ok {
			close(f.done)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func (f *fixture) dial(t *testing.T, o spoptest.HelloOptions) *spoptest.Client {
	t.Helper()
	c, err := spoptest.Dial(f.addr, o)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// request is what HAProxy's gatehouse-check message describes.
type request struct {
	method  string
	url     string
	http    bool // plain HTTP (ssl_fc false)
	headers [][2]string
	src     string
}

// message builds the gatehouse-check message as deploy/haproxy's SPOE
// configuration makes HAProxy send it.
func message(r request) spop.Message {
	if r.method == "" {
		r.method = "GET"
	}
	hdrs := r.headers
	if hdrs == nil {
		hdrs = [][2]string{{"host", host}}
	}
	src := netip.MustParseAddr("203.0.113.7")
	if r.src != "" {
		src = netip.MustParseAddr(r.src)
	}
	kind := spop.KindIPv4
	if src.Is6() {
		kind = spop.KindIPv6
	}
	return spop.Message{Name: spoa.MessageName, Args: []spop.KV{
		{Name: spoa.ArgMethod, Value: spop.StringValue(r.method)},
		{Name: spoa.ArgHTTPS, Value: spop.BoolValue(!r.http)},
		{Name: spoa.ArgURL, Value: spop.StringValue(r.url)},
		{Name: spoa.ArgHeaders, Value: spop.BinaryValue(spoptest.HeadersBin(hdrs))},
		{Name: spoa.ArgSource, Value: spop.Value{Kind: kind, Addr: src}},
	}}
}

// strs returns the variables as strings (integers in decimal).
func strs(t *testing.T, vars map[string]spop.Value) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range vars {
		switch v.Kind {
		case spop.KindString:
			out[k] = v.String()
		case spop.KindInt32, spop.KindInt64:
			out[k] = strconv.FormatInt(v.Int, 10)
		default:
			t.Fatalf("variable %s of kind %d", k, v.Kind)
		}
	}
	return out
}
