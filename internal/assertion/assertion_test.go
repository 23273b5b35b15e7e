package assertion

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse/gatehouse/internal/authz"
)

const issuer = "https://auth.example.com"

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var alice = &authz.Identity{Subject: "u-1", User: "alice", Email: "alice@example.com", Groups: []string{"ops", "dev"}, PreferredUsername: "al"}

// upstream is an app that trusts gatehouse: it verifies assertions with
// go-oidc against the JWKS the Minter serves, for its own host.
func upstream(t *testing.T, jwksURL, host string) *oidc.IDTokenVerifier {
	return oidc.NewVerifier(issuer, oidc.NewRemoteKeySet(context.Background(), jwksURL),
		&oidc.Config{ClientID: host, SupportedSigningAlgs: []string{oidc.ES256}})
}

func TestUpstreamVerifiesAssertion(t *testing.T) {
	m, err := New([]*ecdsa.PrivateKey{newKey(t)}, Options{Issuer: issuer})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m)
	defer srv.Close()
	tok, err := m.Mint("session-1", "app.example.com", alice)
	if err != nil {
		t.Fatal(err)
	}
	v := upstream(t, srv.URL, "app.example.com")
	idt, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("upstream rejects a genuine assertion: %v", err)
	}
	var c struct {
		Email  string   `json:"email"`
		Groups []string `json:"groups"`
		NBF    int64    `json:"nbf"`
		IAT    int64    `json:"iat"`
		EXP    int64    `json:"exp"`
	}
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != "u-1" || c.Email != "alice@example.com" || strings.Join(c.Groups, ",") != "ops,dev" || c.EXP-c.IAT != 60 || c.NBF != c.IAT {
		t.Errorf("claims: sub %q %+v", idt.Subject, c)
	}
	if strings.Contains(tok, "session-1") {
		t.Error("assertion carries the session key")
	}

	// A tampered assertion is rejected.
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := strings.Replace(string(payload), `"alice@example.com"`, `"admin@example.com"`, 1)
	bad := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2]
	if _, err := v.Verify(context.Background(), bad); err == nil {
		t.Error("upstream accepts a tampered assertion")
	}
	// One signed by a key gatehouse does not publish is rejected.
	rogue, _ := New([]*ecdsa.PrivateKey{newKey(t)}, Options{Issuer: issuer})
	rtok, _ := rogue.Mint("s", "app.example.com", alice)
	if _, err := v.Verify(context.Background(), rtok); err == nil {
		t.Error("upstream accepts an assertion from an unpublished key")
	}
	// An assertion for another host is rejected by this host.
	other, _ := m.Mint("session-1", "files.example.com", alice)
	if _, err := v.Verify(context.Background(), other); err == nil {
		t.Error("upstream accepts an assertion addressed to another host")
	}
}

func TestRotation(t *testing.T) {
	oldKey, nextKey := newKey(t), newKey(t)
	// Step 1: the next key is published before it signs.
	before, _ := New([]*ecdsa.PrivateKey{oldKey, nextKey}, Options{Issuer: issuer})
	// Step 2: it signs; the old key stays published.
	after, _ := New([]*ecdsa.PrivateKey{nextKey, oldKey}, Options{Issuer: issuer})
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			D   string `json:"d"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(before.JWKS(), &set); err != nil || len(set.Keys) != 2 {
		t.Fatalf("JWKS = %s", before.JWKS())
	}
	for _, k := range set.Keys {
		if k.D != "" {
			t.Fatal("JWKS publishes a private key")
		}
	}
	jwksBefore := httptest.NewServer(before)
	defer jwksBefore.Close()
	jwksAfter := httptest.NewServer(after)
	defer jwksAfter.Close()
	newTok, _ := after.Mint("s", "app.example.com", alice)
	oldTok, _ := before.Mint("s", "app.example.com", alice)
	// An upstream holding the JWKS from before the switch accepts new assertions,
	if _, err := upstream(t, jwksBefore.URL, "app.example.com").Verify(context.Background(), newTok); err != nil {
		t.Errorf("pre-published next key: %v", err)
	}
	// and one holding the JWKS from after it accepts assertions still in flight.
	if _, err := upstream(t, jwksAfter.URL, "app.example.com").Verify(context.Background(), oldTok); err != nil {
		t.Errorf("old key still published: %v", err)
	}
}

func TestCache(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m, _ := New([]*ecdsa.PrivateKey{newKey(t)}, Options{Issuer: issuer, Lifetime: time.Minute, CacheSize: 2, Now: func() time.Time { return now }})
	a1, _ := m.Mint("s1", "app", alice)
	if a2, _ := m.Mint("s1", "app", alice); a2 != a1 {
		t.Error("assertion not reused within half its lifetime")
	}
	if b, _ := m.Mint("s1", "api", alice); b == a1 {
		t.Error("assertion reused for another host")
	}
	changed := *alice
	changed.Groups = []string{"ops"}
	if c, _ := m.Mint("s1", "app", &changed); c == a1 {
		t.Error("assertion reused after the identity changed")
	}
	now = now.Add(31 * time.Second)
	if a3, _ := m.Mint("s1", "app", alice); a3 == a1 {
		t.Error("assertion reused past half its lifetime")
	}
	for i := range 5 {
		_, _ = m.Mint(string(rune('a'+i)), "app", alice)
	}
	if n := m.cache.Len(); n > 2 {
		t.Errorf("cache holds %d, max 2", n)
	}
}

// TestCacheBoundKeepsRecentlyUsed: the cache never holds more than
// CacheSize assertions, and the one a session keeps using is not the one
// dropped to make room for others (least recently used goes first).
func TestCacheBoundKeepsRecentlyUsed(t *testing.T) {
	const size = 10
	now := time.Unix(1_800_000_000, 0)
	m, err := New([]*ecdsa.PrivateKey{newKey(t)}, Options{Issuer: issuer, Lifetime: time.Minute, CacheSize: size, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	hot, _ := m.Mint("hot", "app", alice)
	for i := range 200 {
		if got, _ := m.Mint("hot", "app", alice); got != hot {
			t.Fatalf("after %d other sessions the assertion in use was dropped", i)
		}
		if _, err := m.Mint(fmt.Sprint("s", i), "app", alice); err != nil {
			t.Fatal(err)
		}
		if n := m.cache.Len(); n > size {
			t.Fatalf("cache holds %d, bound %d", n, size)
		}
	}
}

func TestLoadKeyFiles(t *testing.T) {
	dir := t.TempDir()
	k := newKey(t)
	sec1, _ := x509.MarshalECPrivateKey(k)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(k)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	rsa8, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384b, _ := x509.MarshalECPrivateKey(p384)
	write := func(name string, blocks ...*pem.Block) string {
		var b []byte
		for _, bl := range blocks {
			b = append(b, pem.EncodeToMemory(bl)...)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := []string{
		write("sec1.pem", &pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}}, &pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}),
		write("pkcs8.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
	}
	keys, err := LoadKeyFiles(good)
	if err != nil || len(keys) != 2 || !keys[0].Equal(k) || !keys[1].Equal(k) {
		t.Fatalf("keys %v, %v", keys, err)
	}
	for _, bad := range []string{
		write("rsa.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: rsa8}),
		write("p384.pem", &pem.Block{Type: "EC PRIVATE KEY", Bytes: p384b}),
		write("empty.pem"),
		filepath.Join(dir, "missing.pem"),
		// A good key followed by more than a key file can be: not read whole.
		write("huge.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}, &pem.Block{Type: "COMMENT", Bytes: make([]byte, 64<<10)}),
	} {
		if _, err := LoadKeyFiles([]string{bad}); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if _, err := New([]*ecdsa.PrivateKey{k, k}, Options{Issuer: issuer}); err == nil {
		t.Error("duplicate key accepted")
	}
}

func BenchmarkMintCached(b *testing.B) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	m, _ := New([]*ecdsa.PrivateKey{k}, Options{Issuer: issuer})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Mint("s", "app.example.com", alice); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMintUncached(b *testing.B) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	m, _ := New([]*ecdsa.PrivateKey{k}, Options{Issuer: issuer, Now: func() time.Time { now = now.Add(time.Minute); return now }})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Mint("s", "app.example.com", alice); err != nil {
			b.Fatal(err)
		}
	}
}
