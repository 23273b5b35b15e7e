package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/admin/admintest"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/testpki"
)

const cliToken = "cli-test-token-0123456789abcdefghijklmnop"

func cliHandle(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

// cliServer starts an admin server with a token and returns its address, the
// token file and the fake store behind it (3 sessions of alice, 1 of bob).
func cliServer(t *testing.T, opts admin.Options) (string, string, *admintest.Manager) {
	t.Helper()
	m := admintest.NewManager()
	created := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	for i := range 3 {
		m.Add(&session.Session{Handle: cliHandle(fmt.Sprint("alice", i)), Issuer: "https://idp", Subject: "alice-sub",
			Email: "alice@example.com", Groups: []string{"dev", "ops"}, CreatedAt: created, ExpiresAt: created.Add(time.Hour)})
	}
	m.Add(&session.Session{Handle: cliHandle("bob"), Issuer: "https://idp", Subject: "bob-sub",
		Email: "bob@example.com\x1b[31m", CreatedAt: created, ExpiresAt: created.Add(time.Hour)})
	tokFile := filepath.Join(t.TempDir(), "admin-token")
	if err := os.WriteFile(tokFile, []byte(cliToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts.TokenFile = tokFile
	srv, err := admin.NewServer(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), tokFile, m
}

// runSessions runs "gatehouse sessions args..." with env as the environment.
func runSessions(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	err := sessionsCmd(ctx, args, &stdout, &stderr, lookup)
	return stdout.String(), stderr.String(), err
}

func TestSessionsCLI(t *testing.T) {
	addr, tok, m := cliServer(t, admin.Options{})
	env := map[string]string{envAdminAddr: addr, envAdminTokenFile: tok}

	t.Run("list table", func(t *testing.T) {
		out, _, err := runSessions(t, env, "list", "--email", "alice@example.com")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[0], "HANDLE") || !strings.Contains(out, cliHandle("alice1")) ||
			!strings.Contains(out, "2026-11-01T09:00:00Z") {
			t.Fatalf("table:\n%s", out)
		}
	})
	t.Run("list pages through everything", func(t *testing.T) {
		out, errOut, err := runSessions(t, env, "list", "--subject", "alice-sub", "--max", "2", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var got []map[string]any
		if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 2 || !strings.Contains(errOut, "--max") {
			t.Fatalf("json %q (%v), stderr %q", out, err, errOut)
		}
		out, _, err = runSessions(t, env, "list", "--subject", "alice-sub", "--json")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 3 || got[0]["issuer"] != "https://idp" {
			t.Fatalf("json %q: %v", out, err)
		}
	})
	t.Run("control characters are not printed", func(t *testing.T) {
		out, _, err := runSessions(t, env, "list", "--subject", "bob-sub")
		if err != nil || strings.Contains(out, "\x1b") || !strings.Contains(out, "bob@example.com?[31m") {
			t.Fatalf("%q, %v", out, err)
		}
	})
	t.Run("get", func(t *testing.T) {
		out, _, err := runSessions(t, env, "get", cliHandle("alice0"))
		if err != nil || !strings.Contains(out, "groups:") || !strings.Contains(out, "dev, ops") {
			t.Fatalf("%s, %v", out, err)
		}
	})
	t.Run("revoke", func(t *testing.T) {
		h := cliHandle("alice2")
		out, _, err := runSessions(t, env, "revoke", h, "--admin-addr", addr)
		if err != nil || !strings.Contains(out, "revoked session "+h) || m.Has(h) {
			t.Fatalf("%q, %v, still stored: %v", out, err, m.Has(h))
		}
		_, _, err = runSessions(t, env, "revoke", h)
		if err == nil || !strings.Contains(err.Error(), "NotFound") {
			t.Fatalf("second revoke: %v", err)
		}
	})
	t.Run("revoke-user", func(t *testing.T) {
		out, _, err := runSessions(t, env, "revoke-user", "--email", "alice@example.com", "--json")
		if err != nil || strings.TrimSpace(out) != "{\n  \"revoked_count\": 2\n}" || m.Has(cliHandle("alice0")) || !m.Has(cliHandle("bob")) {
			t.Fatalf("%q, %v", out, err)
		}
		out, _, err = runSessions(t, env, "list", "--email", "alice@example.com")
		if err != nil || strings.TrimSpace(out) != "no sessions" {
			t.Fatalf("%q, %v", out, err)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad")
		os.WriteFile(bad, []byte(strings.Repeat("z", 40)), 0o600)
		_, _, err := runSessions(t, env, "list", "--email", "bob@example.com", "--token-file", bad)
		if err == nil || !strings.Contains(err.Error(), "Unauthenticated") {
			t.Fatalf("err = %v", err)
		}
		_, _, err = runSessions(t, map[string]string{envAdminAddr: addr}, "list", "--email", "bob@example.com")
		if err == nil || !strings.Contains(err.Error(), "Unauthenticated") {
			t.Fatalf("no token: err = %v", err)
		}
	})
}

func TestSessionsCLIMTLS(t *testing.T) {
	pki := testpki.New(t, "cli")
	srvTLS, err := admin.ServerTLS(pki.ServerCertFile, pki.ServerKeyFile, pki.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	addr, tok, _ := cliServer(t, admin.Options{TLS: srvTLS})
	env := map[string]string{envAdminAddr: addr, envAdminTokenFile: tok}
	out, _, err := runSessions(t, env, "list", "--email", "alice@example.com",
		"--ca-file", pki.CAFile, "--cert-file", pki.ClientCertFile, "--key-file", pki.ClientKeyFile)
	if err != nil || !strings.Contains(out, cliHandle("alice0")) {
		t.Fatalf("%q, %v", out, err)
	}
	_, _, err = runSessions(t, env, "list", "--email", "alice@example.com", "--ca-file", pki.CAFile)
	if err == nil {
		t.Fatal("listed without a client certificate")
	}
}

func TestSessionsCLIUsage(t *testing.T) {
	env := map[string]string{}
	for _, args := range [][]string{{"--help"}, {"list", "--help"}, {"revoke", "--help"}, {"revoke-user", "-h"}, {"get", "--help"}} {
		_, errOut, err := runSessions(t, env, args...)
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(errOut, "Usage: gatehouse sessions") {
			t.Errorf("%v: err %v, help %q", args, err, errOut)
		}
		if len(args) > 1 && !strings.Contains(errOut, "-admin-addr") {
			t.Errorf("%v: help lacks the connection flags:\n%s", args, errOut)
		}
	}
	for _, args := range [][]string{{}, {"bogus"}, {"list"}, {"revoke"}, {"revoke-user", "--issuer", "x"},
		{"list", "--email", "a", "extra"}, {"list", "--email", "a", "--max", "0"}, {"revoke", "h", "extra"}} {
		_, _, err := runSessions(t, env, args...)
		if !errors.Is(err, errUsage) {
			t.Errorf("%v: err %v, want a usage error", args, err)
		}
	}
	// Default address comes from the environment, else 127.0.0.1:4181.
	_, errOut, _ := runSessions(t, map[string]string{envAdminAddr: "10.9.8.7:1"}, "list", "--help")
	if !strings.Contains(errOut, "10.9.8.7:1") {
		t.Errorf("help does not show the address from the environment:\n%s", errOut)
	}
	_, errOut, _ = runSessions(t, env, "list", "--help")
	if !strings.Contains(errOut, defaultAdminAddr) {
		t.Errorf("help does not show the default address:\n%s", errOut)
	}
}
