package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/session/cookie"
)

// cookieName is gatehouse's default session cookie as it names it: a
// host-only Secure cookie gets the __Host- prefix.
func cookieName() (string, error) {
	cs, err := cookie.NewSettings("_gatehouse", "", true)
	return cs.Name, err
}

// buildGatehouse builds the shipped binary from this checkout into dir.
func buildGatehouse(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "gatehouse")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/gatehouse")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/gatehouse (run from the module root): %w\n%s", err, out)
	}
	return bin, nil
}

// serveConfig renders a gatehouse configuration on Redis at addrs (one
// address is standalone, several are a Cluster's seeds). The provider's
// address is a closed loopback port: discovery is lazy, checks of signed-in
// sessions do not need it, and the startup check's failure is only logged.
// cacheSize 0 sends every lookup to Redis.
func serveConfig(listen string, addrs []string, prefix, cookieSecret string, cacheSize int) string {
	q := make([]string, len(addrs))
	for i, a := range addrs {
		q[i] = strconv.Quote(a)
	}
	return fmt.Sprintf(`http:
  addr: %q
oidc:
  issuer_url: "https://127.0.0.1:1"
  client_id: bench
  client_secret: bench-client-secret
  redirect_url: "https://127.0.0.1:8443/oauth2/callback"
cookie:
  secrets: [%q]
session:
  store: redis
  timeout: 1s
  cache_size: %d
redis:
  addrs: [%s]
  key_prefix: %q
redirect:
  allowed_domains: [".example.com"]
access:
  email_domains: ["example.com"]
log:
  level: warn
`, listen, cookieSecret, cacheSize, strings.Join(q, ", "), prefix)
}

// startServe writes the configuration and runs `gatehouse serve`, waiting
// until a check with cookie is allowed.
func (ps *procs) startServe(ctx context.Context, bin, name, config, cookie string) (string, error) {
	path := filepath.Join(ps.dir, name+".yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		return "", err
	}
	listen := regexp.MustCompile(`addr: "([^"]+)"`).FindStringSubmatch(config)[1]
	cmd, err := ps.start(name, bin, "serve", "--config", path)
	if err != nil {
		return "", err
	}
	url := "http://" + listen + "/authz/forward-auth"
	deadline := time.Now().Add(30 * time.Second)
	for {
		if st, err := check(ctx, url, cookie); err == nil && st == http.StatusOK {
			return url, nil
		} else if time.Now().After(deadline) || cmd.ProcessState != nil {
			return "", fmt.Errorf("%s did not allow a signed-in check within 30s (last: %d %v); log:\n%s", name, st, err, ps.logTail(name))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// check sends one forward-auth check as Traefik would for a browser.
func check(ctx context.Context, url, cookie string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	for k, v := range checkHeaders(cookie) {
		req.Header.Set(k, v)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// noRedirects is a client that reports a redirect instead of following it.
var noRedirects = &http.Client{
	Timeout:       5 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// checkHeaders are the headers of every check; wrk sends the same.
func checkHeaders(cookie string) map[string]string {
	h := map[string]string{
		"X-Forwarded-Method": "GET", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.com",
		"X-Forwarded-Uri": "/dashboard?tab=runs", "X-Forwarded-For": "203.0.113.7", "Accept": "text/html",
	}
	if cookie != "" {
		h["Cookie"] = cookie
	}
	return h
}

// wrkScript picks, for every request, a random cookie from the file given
// as the script's argument, so the checks spread over many sessions.
const wrkScript = `
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local cookies = {}
function init(args)
  for line in io.lines(args[1]) do cookies[#cookies + 1] = line end
  math.randomseed(os.time() * 100 + tid)
end
function request()
  wrk.headers["Cookie"] = cookies[math.random(#cookies)]
  return wrk.format()
end
`

// wrkResult is one wrk run.
type wrkResult struct {
	rps      float64
	p50, p99 time.Duration
	requests int
	non2xx   int
	errors   int
}

var (
	reRPS      = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	reLat      = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$`)
	reNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	reRequests = regexp.MustCompile(`(\d+) requests in`)
	reSockErr  = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// runWrk runs wrk against url for d with conns connections, each request
// carrying one of the cookies in cookieFile.
func runWrk(ctx context.Context, url, script, cookieFile string, threads, conns int, d time.Duration) (wrkResult, error) {
	args := []string{"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", strconv.Itoa(max(1, int(d.Seconds()))) + "s",
		"--latency", "--timeout", "5s", "-s", script}
	for k, v := range checkHeaders("") {
		args = append(args, "-H", k+": "+v)
	}
	args = append(args, url, "--", cookieFile)
	out, err := exec.CommandContext(ctx, "wrk", args...).CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	return parseWrk(out)
}

// parseWrk reads wrk's --latency report.
func parseWrk(out []byte) (wrkResult, error) {
	var r wrkResult
	m := reRPS.FindSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no Requests/sec in wrk output: %s", out)
	}
	r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	units := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}
	for _, l := range reLat.FindAllSubmatch(out, -1) {
		f, _ := strconv.ParseFloat(string(l[2]), 64)
		d := time.Duration(f * float64(units[string(l[3])]))
		if string(l[1]) == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	if r.p50 == 0 || r.p99 == 0 {
		return r, fmt.Errorf("no latency distribution in wrk output: %s", out)
	}
	if m := reRequests.FindSubmatch(out); m != nil {
		r.requests, _ = strconv.Atoi(string(m[1]))
	}
	if m := reNon2xx.FindSubmatch(out); m != nil {
		r.non2xx, _ = strconv.Atoi(string(m[1]))
	}
	if m := reSockErr.FindSubmatch(out); m != nil {
		for _, g := range m[1:] {
			n, _ := strconv.Atoi(string(g))
			r.errors += n
		}
	}
	return r, nil
}
