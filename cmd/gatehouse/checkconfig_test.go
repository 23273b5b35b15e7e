package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/oidctest"
)

// TestReadmeCheckConfigExample runs the README's check-config example
// literally: the bad.yaml it shows, the command it shows, and compares the
// output with the one it shows, so the two cannot drift apart.
func TestReadmeCheckConfigExample(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	block := regexp.MustCompile("(?s)```\n(\\$ gatehouse check-config [^\n]*)\n(.*?)```\n")
	m := block.FindStringSubmatchIndex(readme)
	if m == nil {
		t.Fatal("README.md has no ``` block starting with \"$ gatehouse check-config\"")
	}
	command, want := readme[m[2]:m[3]], readme[m[4]:m[5]]
	args := strings.Fields(strings.TrimPrefix(command, "$ gatehouse "))
	var file string
	for i, a := range args {
		if a == "--config" && i+1 < len(args) {
			file = args[i+1]
		}
	}
	yamlBlocks := regexp.MustCompile("(?s)```yaml\n(.*?)```\n").FindAllStringSubmatch(readme[:m[0]], -1)
	if file == "" || len(yamlBlocks) == 0 {
		t.Fatalf("the example %q needs a --config file shown in a ```yaml block before it", command)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, file), []byte(yamlBlocks[len(yamlBlocks)-1][1]), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	var out bytes.Buffer
	code := run(context.Background(), args, &out, &out, func(string) (string, bool) { return "", false })
	if out.String() != want {
		t.Errorf("README's example prints something else.\nREADME:\n%s\nactual:\n%s", want, out.String())
	}
	if !strings.Contains(want, "(3 problems)") || code != 1 {
		t.Errorf("the example should show three problems at once and exit 1; exit %d", code)
	}
}

// goodEnv is a valid environment-only configuration against provider p.
func goodEnv(t *testing.T, p *oidctest.Provider) map[string]string {
	return map[string]string{
		"GATEHOUSE_OIDC_ISSUER_URL":    p.Issuer(),
		"GATEHOUSE_OIDC_CLIENT_ID":     "gatehouse",
		"GATEHOUSE_OIDC_CLIENT_SECRET": "a-secret-of-our-own",
		"GATEHOUSE_OIDC_REDIRECT_URL":  "http://127.0.0.1:4180/oauth2/callback",
		"GATEHOUSE_COOKIE_SECURE":      "false",
		"GATEHOUSE_COOKIE_SECRETS":     randomKey(t),
		"GATEHOUSE_ACCESS_EMAILS":      "ann@example.com",
	}
}

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// TestCheckConfigEnvironmentOnlyAndProbe: without --config the environment
// alone is checked; --probe passes against a live provider and fails, with
// exit 1 and one line per failure, against a wrong issuer and a Redis that
// does not answer.
func TestCheckConfigEnvironmentOnlyAndProbe(t *testing.T) {
	p := oidctest.Start(t, oidctest.Options{})
	env := goodEnv(t, p)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"check-config", "--probe"}, &out, &errb, lookupIn(env)); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	if want := "no --config file: checking the GATEHOUSE_* environment alone\nenvironment: configuration is valid\nprobes passed\n"; out.String() != want {
		t.Errorf("stdout %q, want %q", out.String(), want)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	env["GATEHOUSE_OIDC_ISSUER_URL"] = p.Issuer() + "/"
	env["GATEHOUSE_SESSION_STORE"] = "redis"
	env["GATEHOUSE_REDIS_ADDRS"] = closed
	out.Reset()
	errb.Reset()
	code := run(context.Background(), []string{"check-config", "--probe", "--probe-timeout", "2s"}, &out, &errb, lookupIn(env))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if code != 1 || len(lines) != 4 || errb.String() != "gatehouse: probes failed (see above)\n" ||
		!strings.HasPrefix(lines[2], `probe failed: oidc.issuer_url: discovery at `+p.Issuer()+`//.well-known/openid-configuration`) &&
			!strings.HasPrefix(lines[2], `probe failed: oidc.issuer_url: discovery at `+p.Issuer()+`/.well-known/openid-configuration names the issuer "`+p.Issuer()+`", not "`+p.Issuer()+`/"`) ||
		!strings.HasPrefix(lines[3], "probe failed: redis.addrs: no answer from ["+closed+"] with the configured credentials and TLS: ") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
}

// TestStartupProbeLogsEachFailureOnce: serve's startup probe logs every
// failure once, by setting, and does not stop anything.
func TestStartupProbeLogsEachFailureOnce(t *testing.T) {
	p := oidctest.Start(t, oidctest.Options{})
	env := goodEnv(t, p)
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	env["GATEHOUSE_OIDC_ISSUER_URL"] = p.Issuer() + "/"
	cfg, err := config.Load("", lookupIn(env))
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	a, err := newApp(cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	cfg.Admin.Addr, cfg.Admin.TokenFile = "127.0.0.1:0", token // only probed, never served here
	stop := a.startupProbe(context.Background())
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "admin.token_file") || !strings.Contains(logs.String(), "oidc.issuer_url") {
		if time.Now().After(deadline) {
			t.Fatalf("no failure logged:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	got := logs.String()
	for _, want := range []string{
		`"level":"ERROR","msg":"startup check failed","setting":"admin.token_file","problem":"admin: token file ` + token + `: token is 5 bytes, shorter than 32"`,
		`"level":"ERROR","msg":"startup check failed","setting":"oidc.issuer_url"`,
	} {
		if strings.Count(got, want) != 1 {
			t.Errorf("want once %s\nin:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "startup check failed"); n != 2 {
		t.Errorf("%d failures logged, want 2:\n%s", n, got)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger writing while a test reads.
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

// TestServeLogsWarningsAndProbeFailures: "gatehouse serve" logs the
// configuration's warnings and each startup probe failure once, and keeps
// serving.
func TestServeLogsWarningsAndProbeFailures(t *testing.T) {
	p := oidctest.Start(t, oidctest.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := goodEnv(t, p)
	env["GATEHOUSE_HTTP_ADDR"] = addr
	env["GATEHOUSE_OIDC_ISSUER_URL"] = p.Issuer() + "/" // discovery names the issuer without the slash
	env["GATEHOUSE_OIDC_CLIENT_SECRET"] = "example-client-secret"
	env["GATEHOUSE_HTTP_SHUTDOWN_TIMEOUT"] = "2s"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve"}, &logs, &logs, lookupIn(env)) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "startup check failed") {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d:\n%s", code, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no startup check failure logged:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("not serving after a failed probe: %v", err)
	}
	resp.Body.Close()
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d", code)
	}
	got := logs.String()
	for want, n := range map[string]int{
		`"msg":"configuration warning","setting":"oidc.client_secret","problem":"is an example value`:                                                           1,
		`"msg":"startup check failed","setting":"oidc.issuer_url","problem":"discovery at ` + p.Issuer() + `/.well-known/openid-configuration names the issuer`: 1,
		"startup check failed": 1,
	} {
		if c := strings.Count(got, want); c != n {
			t.Errorf("%d times, want %d: %s\nin:\n%s", c, n, want, got)
		}
	}
}
