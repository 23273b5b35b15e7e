package admin_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	adminv1 "github.com/gatehouse/gatehouse/gen/gatehouse/admin/v1"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/admin/admintest"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/testpki"
)

const testToken = "0123456789abcdefghijklmnopqrstuvwxyzABCD" // 40 bytes

// handle returns a well-formed handle derived from name.
func handle(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func writeToken(t *testing.T, tok string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// serve starts an admin server on 127.0.0.1 and returns its address.
func serve(t *testing.T, mgr admin.Manager, opts admin.Options) string {
	t.Helper()
	srv, err := admin.NewServer(mgr, opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// bearerCreds sends a fixed authorization value (or none if empty).
type bearerCreds string

func (b bearerCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	if b == "" {
		return nil, nil
	}
	return map[string]string{"authorization": string(b)}, nil
}
func (bearerCreds) RequireTransportSecurity() bool { return false }

// client dials addr in clear text, sending authz as the authorization header.
func client(t *testing.T, addr, authz string) adminv1.SessionServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(bearerCreds(authz)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return adminv1.NewSessionServiceClient(conn)
}

func tokenServer(t *testing.T, mgr admin.Manager) (adminv1.SessionServiceClient, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	addr := serve(t, mgr, admin.Options{
		TokenFile: writeToken(t, testToken),
		Logger:    slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	return client(t, addr, "Bearer "+testToken), logs
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func wantCode(t *testing.T, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("code = %v (%v), want %v", got, err, want)
	}
}

var (
	created = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	expires = created.Add(168 * time.Hour)
)

// population: alice has 7 sessions (two issuers, one of them with her email
// in another case, one with a changed email), bob has 2.
func population() *admintest.Manager {
	m := admintest.NewManager()
	for i := range 5 {
		m.Add(&session.Session{Handle: handle(fmt.Sprint("alice-a", i)), Issuer: "https://idp-a", Subject: "alice-a",
			Email: "alice@example.com", User: "alice", Groups: []string{"dev"}, SID: fmt.Sprint("sid-", i),
			CreatedAt: created, ExpiresAt: expires, IDToken: "secret-id-token", RefreshToken: "secret-refresh"})
	}
	m.Add(&session.Session{Handle: handle("alice-b0"), Issuer: "https://idp-b", Subject: "alice-b", Email: "Alice@Example.com", CreatedAt: created, ExpiresAt: expires})
	m.Add(&session.Session{Handle: handle("alice-b1"), Issuer: "https://idp-b", Subject: "alice-b", Email: "alice@example.com", CreatedAt: created, ExpiresAt: expires})
	// Same user as alice-a, but signed in before an email change.
	m.Add(&session.Session{Handle: handle("alice-a-old"), Issuer: "https://idp-a", Subject: "alice-a", Email: "alice@old.example", CreatedAt: created, ExpiresAt: expires})
	for i := range 2 {
		m.Add(&session.Session{Handle: handle(fmt.Sprint("bob", i)), Issuer: "https://idp-a", Subject: "bob", Email: "bob@example.com", CreatedAt: created, ExpiresAt: expires})
	}
	return m
}

func TestListByEmailPaginates(t *testing.T) {
	c, _ := tokenServer(t, population())
	seen := map[string]bool{}
	token := ""
	var sizes []int
	for range 10 {
		resp, err := c.ListSessions(ctx(t), &adminv1.ListSessionsRequest{Email: "alice@example.com", PageSize: 3, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(resp.Sessions))
		for _, s := range resp.Sessions {
			if !strings.EqualFold(s.Email, "alice@example.com") {
				t.Errorf("listed %s with email %q", s.Handle, s.Email)
			}
			if seen[s.Handle] {
				t.Errorf("handle %s on two pages", s.Handle)
			}
			seen[s.Handle] = true
		}
		if token = resp.NextPageToken; token == "" {
			break
		}
	}
	if fmt.Sprint(sizes) != "[3 3 1]" || len(seen) != 7 {
		t.Fatalf("page sizes %v, %d distinct sessions; want [3 3 1] and 7", sizes, len(seen))
	}

	// Narrowed by issuer and by subject.
	resp, err := c.ListSessions(ctx(t), &adminv1.ListSessionsRequest{Email: "alice@example.com", Issuer: "https://idp-b"})
	if err != nil || len(resp.Sessions) != 2 || resp.NextPageToken != "" {
		t.Fatalf("by email+issuer: %v, %v", resp, err)
	}
	resp, err = c.ListSessions(ctx(t), &adminv1.ListSessionsRequest{Subject: "alice-a"})
	if err != nil || len(resp.Sessions) != 6 {
		t.Fatalf("by subject: %d sessions, %v; want 6", len(resp.GetSessions()), err)
	}
	// Default page size is 50: everything on one page.
	resp, err = c.ListSessions(ctx(t), &adminv1.ListSessionsRequest{Email: "alice@example.com"})
	if err != nil || len(resp.Sessions) != 7 || resp.NextPageToken != "" {
		t.Fatalf("default page: %d sessions, next %q, %v", len(resp.GetSessions()), resp.GetNextPageToken(), err)
	}
}

func TestListPageSizeLimits(t *testing.T) {
	m := admintest.NewManager()
	for i := range 600 {
		m.Add(&session.Session{Handle: handle(fmt.Sprint("s", i)), Issuer: "i", Subject: "many", ExpiresAt: expires})
	}
	c, _ := tokenServer(t, m)
	resp, err := c.ListSessions(ctx(t), &adminv1.ListSessionsRequest{Subject: "many"})
	if err != nil || len(resp.Sessions) != admin.DefaultPageSize || resp.NextPageToken == "" {
		t.Fatalf("default: %d sessions, %v; want %d and a next page", len(resp.GetSessions()), err, admin.DefaultPageSize)
	}
	resp, err = c.ListSessions(ctx(t), &adminv1.ListSessionsRequest{Subject: "many", PageSize: admin.MaxPageSize})
	if err != nil || len(resp.Sessions) != admin.MaxPageSize {
		t.Fatalf("max: %d sessions, %v", len(resp.GetSessions()), err)
	}
	for _, n := range []int32{-1, admin.MaxPageSize + 1} {
		_, err = c.ListSessions(ctx(t), &adminv1.ListSessionsRequest{Subject: "many", PageSize: n})
		wantCode(t, err, codes.InvalidArgument)
	}
}

func TestGetSession(t *testing.T) {
	c, _ := tokenServer(t, population())
	resp, err := c.GetSession(ctx(t), &adminv1.GetSessionRequest{Handle: handle("alice-a2")})
	if err != nil {
		t.Fatal(err)
	}
	s := resp.Session
	if s.Handle != handle("alice-a2") || s.Issuer != "https://idp-a" || s.Subject != "alice-a" ||
		s.Email != "alice@example.com" || s.User != "alice" || s.Sid != "sid-2" ||
		fmt.Sprint(s.Groups) != "[dev]" || !s.CreatedAt.AsTime().Equal(created) || !s.ExpiresAt.AsTime().Equal(expires) {
		t.Fatalf("session = %v", s)
	}
	if strings.Contains(s.String(), "secret") {
		t.Fatalf("session carries a token: %v", s)
	}

	_, err = c.GetSession(ctx(t), &adminv1.GetSessionRequest{Handle: handle("nobody")})
	wantCode(t, err, codes.NotFound)
	for _, h := range []string{"", "../../etc", strings.Repeat("a", 200), "abc def"} {
		_, err = c.GetSession(ctx(t), &adminv1.GetSessionRequest{Handle: h})
		wantCode(t, err, codes.InvalidArgument)
	}
}

func TestRevokeSession(t *testing.T) {
	m := population()
	c, _ := tokenServer(t, m)
	before := m.Len()
	if _, err := c.RevokeSession(ctx(t), &adminv1.RevokeSessionRequest{Handle: handle("bob0")}); err != nil {
		t.Fatal(err)
	}
	if m.Has(handle("bob0")) || m.Len() != before-1 {
		t.Fatalf("bob0 still there or others gone: has=%v len=%d", m.Has(handle("bob0")), m.Len())
	}
	_, err := c.RevokeSession(ctx(t), &adminv1.RevokeSessionRequest{Handle: handle("bob0")})
	wantCode(t, err, codes.NotFound)
	_, err = c.GetSession(ctx(t), &adminv1.GetSessionRequest{Handle: handle("bob0")})
	wantCode(t, err, codes.NotFound)
}

func TestRevokeUserSessions(t *testing.T) {
	t.Run("by email ends every session of each matching user", func(t *testing.T) {
		m := population()
		c, _ := tokenServer(t, m)
		resp, err := c.RevokeUserSessions(ctx(t), &adminv1.RevokeUserSessionsRequest{Email: "ALICE@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		// 5 + the old-email session of alice-a, and 2 of alice-b.
		if resp.RevokedCount != 8 || m.Len() != 2 || !m.Has(handle("bob0")) || !m.Has(handle("bob1")) {
			t.Fatalf("revoked %d, left %d (bob0 %v bob1 %v); want 8 revoked and both of bob's left",
				resp.RevokedCount, m.Len(), m.Has(handle("bob0")), m.Has(handle("bob1")))
		}
	})
	t.Run("by email and issuer", func(t *testing.T) {
		m := population()
		c, _ := tokenServer(t, m)
		resp, err := c.RevokeUserSessions(ctx(t), &adminv1.RevokeUserSessionsRequest{Email: "alice@example.com", Issuer: "https://idp-b"})
		if err != nil || resp.RevokedCount != 2 || !m.Has(handle("alice-a0")) {
			t.Fatalf("revoked %d, %v; alice-a0 kept: %v", resp.GetRevokedCount(), err, m.Has(handle("alice-a0")))
		}
	})
	t.Run("by issuer and subject", func(t *testing.T) {
		m := population()
		c, _ := tokenServer(t, m)
		resp, err := c.RevokeUserSessions(ctx(t), &adminv1.RevokeUserSessionsRequest{Issuer: "https://idp-a", Subject: "bob"})
		if err != nil || resp.RevokedCount != 2 || m.Has(handle("bob1")) || !m.Has(handle("alice-a0")) {
			t.Fatalf("revoked %d, %v", resp.GetRevokedCount(), err)
		}
	})
	t.Run("by subject alone", func(t *testing.T) {
		m := population()
		c, _ := tokenServer(t, m)
		resp, err := c.RevokeUserSessions(ctx(t), &adminv1.RevokeUserSessionsRequest{Subject: "alice-b"})
		if err != nil || resp.RevokedCount != 2 || m.Has(handle("alice-b0")) {
			t.Fatalf("revoked %d, %v", resp.GetRevokedCount(), err)
		}
	})
	t.Run("nobody", func(t *testing.T) {
		m := population()
		c, _ := tokenServer(t, m)
		resp, err := c.RevokeUserSessions(ctx(t), &adminv1.RevokeUserSessionsRequest{Email: "eve@example.com"})
		if err != nil || resp.RevokedCount != 0 || m.Len() != 10 {
			t.Fatalf("revoked %d, %v, left %d", resp.GetRevokedCount(), err, m.Len())
		}
	})
	t.Run("needs a user", func(t *testing.T) {
		c, _ := tokenServer(t, population())
		_, err := c.RevokeUserSessions(ctx(t), &adminv1.RevokeUserSessionsRequest{Issuer: "https://idp-a"})
		wantCode(t, err, codes.InvalidArgument)
	})
}

func TestBadPageTokens(t *testing.T) {
	c, _ := tokenServer(t, population())
	first, err := c.ListSessions(ctx(t), &adminv1.ListSessionsRequest{Email: "alice@example.com", PageSize: 2})
	if err != nil || first.NextPageToken == "" {
		t.Fatalf("first page: %v, %v", first, err)
	}
	for name, req := range map[string]*adminv1.ListSessionsRequest{
		"garbage":         {Email: "alice@example.com", PageToken: "not a token!"},
		"base64 garbage":  {Email: "alice@example.com", PageToken: "eyJ2IjoyfQ"},
		"huge":            {Email: "alice@example.com", PageToken: strings.Repeat("A", 5000)},
		"other email":     {Email: "bob@example.com", PageToken: first.NextPageToken},
		"added issuer":    {Email: "alice@example.com", Issuer: "https://idp-a", PageToken: first.NextPageToken},
		"truncated token": {Email: "alice@example.com", PageToken: first.NextPageToken[:len(first.NextPageToken)-3]},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.ListSessions(ctx(t), req)
			wantCode(t, err, codes.InvalidArgument)
		})
	}
	_, err = c.ListSessions(ctx(t), &adminv1.ListSessionsRequest{Issuer: "https://idp-a"})
	wantCode(t, err, codes.InvalidArgument)
	_, err = c.ListSessions(ctx(t), &adminv1.ListSessionsRequest{Email: strings.Repeat("a", 2000)})
	wantCode(t, err, codes.InvalidArgument)
}

func TestStoreFailureIsUnavailable(t *testing.T) {
	m := population()
	c, logs := tokenServer(t, m)
	m.FailWith(errors.New("dial tcp 10.1.2.3:6379: connection refused"))
	calls := map[string]func() error{
		"list": func() error {
			_, err := c.ListSessions(ctx(t), &adminv1.ListSessionsRequest{Email: "alice@example.com"})
			return err
		},
		"get": func() error {
			_, err := c.GetSession(ctx(t), &adminv1.GetSessionRequest{Handle: handle("bob0")})
			return err
		},
		"revoke": func() error {
			_, err := c.RevokeSession(ctx(t), &adminv1.RevokeSessionRequest{Handle: handle("bob0")})
			return err
		},
		"revoke user": func() error {
			_, err := c.RevokeUserSessions(ctx(t), &adminv1.RevokeUserSessionsRequest{Issuer: "https://idp-a", Subject: "bob"})
			return err
		},
	}
	for name, call := range calls {
		err := call()
		wantCode(t, err, codes.Unavailable)
		if strings.Contains(err.Error(), "10.1.2.3") {
			t.Errorf("%s: store detail leaked to the client: %v", name, err)
		}
	}
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("store failure detail missing from the server log:\n%s", logs.String())
	}
	m.FailWith(nil)
	if _, err := c.GetSession(ctx(t), &adminv1.GetSessionRequest{Handle: handle("bob0")}); err != nil {
		t.Fatalf("after the store recovered: %v", err)
	}
}

func TestUnauthenticated(t *testing.T) {
	m := population()
	logs := &syncBuffer{}
	addr := serve(t, m, admin.Options{
		TokenFile: writeToken(t, testToken),
		Logger:    slog.New(slog.NewJSONHandler(logs, nil)),
	})
	for name, authz := range map[string]string{
		"no token":           "",
		"wrong token":        "Bearer " + strings.Repeat("x", len(testToken)),
		"shorter token":      "Bearer " + testToken[:len(testToken)-1],
		"longer token":       "Bearer " + testToken + "x",
		"prefix token":       "Bearer " + testToken[:32],
		"not bearer":         "Basic " + testToken,
		"no scheme":          testToken,
		"empty bearer":       "Bearer ",
		"token of other len": "Bearer short",
	} {
		t.Run(name, func(t *testing.T) {
			c := client(t, addr, authz)
			_, err := c.ListSessions(ctx(t), &adminv1.ListSessionsRequest{Email: "alice@example.com"})
			wantCode(t, err, codes.Unauthenticated)
			_, err = c.RevokeUserSessions(ctx(t), &adminv1.RevokeUserSessionsRequest{Email: "alice@example.com"})
			wantCode(t, err, codes.Unauthenticated)
		})
	}
	if m.Len() != 10 {
		t.Fatalf("an unauthenticated call changed the store: %d sessions left", m.Len())
	}

	// Two authorization headers, one of them right, are refused too.
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	md := metadata.Pairs("authorization", "Bearer "+testToken, "authorization", "Bearer wrong")
	_, err = adminv1.NewSessionServiceClient(conn).GetSession(metadata.NewOutgoingContext(ctx(t), md),
		&adminv1.GetSessionRequest{Handle: handle("bob0")})
	wantCode(t, err, codes.Unauthenticated)

	// The right token works on the same server, and with a lower-case scheme.
	if _, err := client(t, addr, "bearer "+testToken).GetSession(ctx(t), &adminv1.GetSessionRequest{Handle: handle("bob0")}); err != nil {
		t.Fatalf("right token: %v", err)
	}

	out := logs.String()
	if strings.Contains(out, testToken[:16]) {
		t.Fatalf("the token reached the log:\n%s", out)
	}
	for _, want := range []string{`"method":"/gatehouse.admin.v1.SessionService/ListSessions"`, `"code":"Unauthenticated"`,
		`"reason":"wrong bearer token"`, `"peer":"127.0.0.1:`, `"code":"OK"`, `"auth":"token"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}

func TestNewServerRefusesWeakConfig(t *testing.T) {
	m := admintest.NewManager()
	pki := testpki.New(t, "a")
	for name, opts := range map[string]admin.Options{
		"nothing":                 {},
		"empty token file":        {TokenFile: writeToken(t, "")},
		"short token":             {TokenFile: writeToken(t, strings.Repeat("k", admin.MinTokenLen-1))},
		"token with spaces":       {TokenFile: writeToken(t, strings.Repeat("k ", admin.MinTokenLen))},
		"missing token file":      {TokenFile: filepath.Join(t.TempDir(), "absent")},
		"tls without client auth": {TLS: &tls.Config{Certificates: []tls.Certificate{pki.Server}}},
		"optional client certs": {TLS: &tls.Config{Certificates: []tls.Certificate{pki.Server},
			ClientCAs: pki.Pool, ClientAuth: tls.VerifyClientCertIfGiven}},
		"required but unverified client certs": {TLS: &tls.Config{Certificates: []tls.Certificate{pki.Server},
			ClientCAs: pki.Pool, ClientAuth: tls.RequireAnyClientCert}},
		"verified without CAs": {TLS: &tls.Config{Certificates: []tls.Certificate{pki.Server},
			ClientAuth: tls.RequireAndVerifyClientCert}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := admin.NewServer(m, opts); err == nil {
				t.Fatal("NewServer accepted it")
			} else if strings.Contains(err.Error(), "kkkk") {
				t.Fatalf("error shows the token: %v", err)
			}
		})
	}
	if _, err := admin.NewServer(nil, admin.Options{TokenFile: writeToken(t, testToken)}); err == nil {
		t.Fatal("NewServer accepted a nil manager")
	}
	if _, err := admin.NewServer(m, admin.Options{TokenFile: writeToken(t, strings.Repeat("k", admin.MinTokenLen))}); err != nil {
		t.Fatalf("a %d-byte token: %v", admin.MinTokenLen, err)
	}
}

func mtlsClient(t *testing.T, addr string, cfg *tls.Config, authz string) adminv1.SessionServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)),
		grpc.WithPerRPCCredentials(bearerCreds(authz)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return adminv1.NewSessionServiceClient(conn)
}

func TestMTLS(t *testing.T) {
	pki := testpki.New(t, "gatehouse")
	other := testpki.New(t, "stranger")
	srvTLS, err := admin.ServerTLS(pki.ServerCertFile, pki.ServerKeyFile, pki.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, population(), admin.Options{TLS: srvTLS})
	get := func(c adminv1.SessionServiceClient) error {
		_, err := c.GetSession(ctx(t), &adminv1.GetSessionRequest{Handle: handle("bob0")})
		return err
	}
	refused := func(t *testing.T, err error) {
		t.Helper()
		if c := status.Code(err); c != codes.Unavailable && c != codes.Unauthenticated {
			t.Fatalf("code = %v (%v), want the handshake refused", c, err)
		}
	}
	t.Run("no client certificate", func(t *testing.T) {
		refused(t, get(mtlsClient(t, addr, &tls.Config{RootCAs: pki.Pool}, "")))
	})
	t.Run("certificate from another CA", func(t *testing.T) {
		refused(t, get(mtlsClient(t, addr, &tls.Config{RootCAs: pki.Pool, Certificates: []tls.Certificate{other.Client}}, "")))
	})
	t.Run("a token instead of a certificate", func(t *testing.T) {
		refused(t, get(mtlsClient(t, addr, &tls.Config{RootCAs: pki.Pool}, "Bearer "+testToken)))
	})
	t.Run("plain text", func(t *testing.T) {
		refused(t, get(client(t, addr, "")))
	})
	t.Run("verified certificate", func(t *testing.T) {
		if err := get(mtlsClient(t, addr, &tls.Config{RootCAs: pki.Pool, Certificates: []tls.Certificate{pki.Client}}, "")); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMTLSAndTokenBothRequired(t *testing.T) {
	pki := testpki.New(t, "gatehouse")
	srvTLS, err := admin.ServerTLS(pki.ServerCertFile, pki.ServerKeyFile, pki.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, population(), admin.Options{TLS: srvTLS, TokenFile: writeToken(t, testToken)})
	withCert := &tls.Config{RootCAs: pki.Pool, Certificates: []tls.Certificate{pki.Client}}
	_, err = mtlsClient(t, addr, withCert, "").GetSession(ctx(t), &adminv1.GetSessionRequest{Handle: handle("bob0")})
	wantCode(t, err, codes.Unauthenticated)
	_, err = mtlsClient(t, addr, withCert, "Bearer "+testToken).GetSession(ctx(t), &adminv1.GetSessionRequest{Handle: handle("bob0")})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTokenOverServerTLS(t *testing.T) {
	pki := testpki.New(t, "gatehouse")
	srvTLS, err := admin.ServerTLS(pki.ServerCertFile, pki.ServerKeyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, population(), admin.Options{TLS: srvTLS, TokenFile: writeToken(t, testToken)})
	c, err := admin.Dial(admin.ClientOptions{Addr: addr, CAFile: pki.CAFile, TokenFile: writeToken(t, testToken)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.GetSession(ctx(t), &adminv1.GetSessionRequest{Handle: handle("bob0")}); err != nil {
		t.Fatal(err)
	}
	noTok, err := admin.Dial(admin.ClientOptions{Addr: addr, CAFile: pki.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	defer noTok.Close()
	_, err = noTok.GetSession(ctx(t), &adminv1.GetSessionRequest{Handle: handle("bob0")})
	wantCode(t, err, codes.Unauthenticated)
}

func TestDialRefusesClearTextTokenOffLoopback(t *testing.T) {
	tok := writeToken(t, testToken)
	for _, addr := range []string{"192.0.2.10:4181", "admin.example.com:4181"} {
		if _, err := admin.Dial(admin.ClientOptions{Addr: addr, TokenFile: tok}); err == nil {
			t.Errorf("%s: Dial would send the token in clear text", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:4181", "[::1]:4181", "localhost:4181"} {
		c, err := admin.Dial(admin.ClientOptions{Addr: addr, TokenFile: tok})
		if err != nil {
			t.Errorf("%s: %v", addr, err)
			continue
		}
		c.Close()
	}
	if _, err := admin.Dial(admin.ClientOptions{Addr: "127.0.0.1:1", CertFile: "x.pem"}); err == nil {
		t.Error("Dial accepted a certificate without its key")
	}
}
