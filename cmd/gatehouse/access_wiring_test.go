package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/assertion"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
	"github.com/gatehouse/gatehouse/internal/session/memstore"
)

func TestAccessWiring(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalECPrivateKey(key)
	keyFile := writeTemp(t, "assertion.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})))
	pf := writeTemp(t, "policy.yaml", "email_domains: [example.com]\n")
	cfgFile := writeTemp(t, "gatehouse.yaml", docsBase+`
access:
  policy_file: `+pf+`
  bearer:
    enabled: true
    audiences: [https://api.example.com]
assertion:
  enabled: true
  key_file: `+keyFile+`
headers:
  token: id
`)
	cfg, err := config.Load(cfgFile, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	w, err := newAccessWiring(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	opts := w.checkOptions(check.Options{})
	if opts.Bearer == nil || opts.Assertion == nil || !opts.SendIDToken {
		t.Fatalf("options %+v", opts)
	}
	rec := httptest.NewRecorder()
	w.jwks().ServeHTTP(rec, httptest.NewRequest("GET", assertion.JWKSPath, nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"crv":"P-256"`) {
		t.Errorf("JWKS: %d %s", rec.Code, rec.Body)
	}

	codec, _ := cookie.NewCodec(cfg.CookieKeys(), nil)
	policy, err := cfg.Policy()
	if err != nil {
		t.Fatal(err)
	}
	checker := check.New(memstore.New(memstore.Options{}), codec, cookie.Settings{Name: "_gh"}, policy, opts)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := w.watch(cfg, checker, slog.New(slog.DiscardHandler), nil)
	if r == nil {
		t.Fatal("no reloader for a policy file")
	}
	if err := os.WriteFile(pf, []byte("rules: [{name: closed, action: deny}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err != nil { // what SIGHUP does
		t.Fatal(err)
	}
	d := checker.Check(ctx, &authz.Request{Method: "GET", Scheme: "https", Host: "a.example.com", Path: "/"}, check.Credentials{})
	if d.Rule != "closed" {
		t.Errorf("reloaded policy not in force: %s", d.Rule)
	}

	// Without the optional parts nothing is built.
	cfg2, err := config.Load(writeTemp(t, "g2.yaml", docsBase), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	w2, err := newAccessWiring(cfg2, nil)
	if err != nil || w2.jwks() != nil || w2.watch(cfg2, checker, nil, nil) != nil {
		t.Errorf("unexpected wiring: %+v %v", w2, err)
	}
	if o := w2.checkOptions(check.Options{}); o.Bearer != nil || o.Assertion != nil {
		t.Errorf("options %+v", o)
	}
	// An unreadable key file is a startup error naming the setting.
	cfg.Assertion.KeyFile = filepath.Join(t.TempDir(), "missing.pem")
	if _, err := newAccessWiring(cfg, nil); err == nil || !strings.Contains(err.Error(), "assertion.key_files") {
		t.Errorf("missing key: %v", err)
	}
}
