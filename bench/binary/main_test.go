package main

import (
	"strings"
	"testing"
	"time"
)

const wrkOutput = `Running 5s test @ http://127.0.0.1:1/authz/forward-auth
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.01ms    3.10ms  48.21ms   90.11%
  Latency Distribution
     50%    1.76ms
     75%    2.50ms
     90%    4.00ms
     99%   24.64us
  185000 requests in 5.00s, 20.00MB read
  Socket errors: connect 0, read 2, write 1, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:  37218.42
Transfer/sec:      4.00MB
`

func TestParseWrk(t *testing.T) {
	m, err := parseWrk([]byte(wrkOutput))
	if err != nil {
		t.Fatal(err)
	}
	want := measurement{rps: 37218.42, requests: 185000, p50: 1760 * time.Microsecond, p99: 24640 * time.Nanosecond, non2xx: 7, errors: 6}
	if m != want {
		t.Errorf("parseWrk = %+v, want %+v", m, want)
	}
}

func TestParseWrkRefusesOutputWithoutLatencies(t *testing.T) {
	out := strings.Replace(wrkOutput, "     99%   24.64us\n", "", 1)
	if _, err := parseWrk([]byte(out)); err == nil {
		t.Error("parseWrk accepted output without a p99")
	}
	if _, err := parseWrk([]byte("wrk: connection refused")); err == nil {
		t.Error("parseWrk accepted output without Requests/sec")
	}
}

func TestSpread(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want spread
	}{
		{[]float64{0.9, 0.5, 0.7}, spread{0.7, 0.5, 0.9}},
		{[]float64{4, 1, 3, 2}, spread{2.5, 1, 4}},
		{[]float64{1.5}, spread{1.5, 1.5, 1.5}},
	} {
		if got := spreadOf(c.in); got != c.want {
			t.Errorf("spreadOf(%v) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

// TestRatiosPairRounds: each round's target is divided by the same round's
// base, never by another round's.
func TestRatiosPairRounds(t *testing.T) {
	r := results{}
	for _, m := range []struct {
		name string
		rps  float64
		p99  time.Duration
	}{{"a", 100, 10}, {"b", 200, 5}, {"a", 50, 10}, {"b", 50, 20}} {
		r.add(64, m.name, measurement{rps: m.rps, p99: m.p99})
	}
	rps, p99 := r.ratios(64, "a", "b")
	if len(rps) != 2 || rps[0] != 0.5 || rps[1] != 1 || p99[0] != 2 || p99[1] != 0.5 {
		t.Errorf("ratios = %v, %v; want [0.5 1], [2 0.5]", rps, p99)
	}
	var out strings.Builder
	report(&out, r, []int{64}, []string{"a", "b"}, []comparison{{title: "a / b", target: "a", base: "b", minRPS: 0.8, maxP99: 1.5}})
	if !strings.Contains(out.String(), "rps 0.75× (0.50–1.00)") || !strings.Contains(out.String(), "rps ≥0.80: NOT met") {
		t.Errorf("report:\n%s", out.String())
	}
}

func TestConfigIsProductionWiring(t *testing.T) {
	g := gatehouseInstance{name: "x", http: "127.0.0.1:1", admin: "127.0.0.1:2", noCache: true}
	cfg := g.config(sharedSettings{issuer: "http://127.0.0.1:3", redis: "127.0.0.1:6379", prefix: "p:", tokenFile: "/t"})
	for _, want := range []string{"store: redis", "cache_size: 0", "secure: true", "level: warn", "pprof: true"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
	if strings.Contains((gatehouseInstance{http: "h"}).config(sharedSettings{}), "cache_size") {
		t.Error("the cached instance sets cache_size: it should keep the default")
	}
}
