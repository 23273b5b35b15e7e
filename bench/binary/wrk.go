package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"time"
)

// measurement is one target's run.
type measurement struct {
	rps      float64
	p50, p99 time.Duration
	requests int
	non2xx   int
	errors   int   // socket errors and timeouts (wrk)
	firstErr error // the first failed gRPC call
}

var (
	reRPS    = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	reLat    = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$`)
	reNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	reReqs   = regexp.MustCompile(`(\d+) requests in `)
	reSock   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// parseWrk reads requests per second, p50, p99, non-2xx answers and socket
// errors from wrk --latency output.
func parseWrk(out []byte) (measurement, error) {
	var m measurement
	r := reRPS.FindSubmatch(out)
	if r == nil {
		return m, fmt.Errorf("no Requests/sec in wrk output: %s", out)
	}
	m.rps, _ = strconv.ParseFloat(string(r[1]), 64)
	units := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}
	found := 0
	for _, l := range reLat.FindAllSubmatch(out, -1) {
		f, err := strconv.ParseFloat(string(l[2]), 64)
		if err != nil {
			return m, fmt.Errorf("wrk latency %q: %w", l[0], err)
		}
		d := time.Duration(f * float64(units[string(l[3])]))
		if string(l[1]) == "50" {
			m.p50 = d
		} else {
			m.p99 = d
		}
		found++
	}
	if found != 2 {
		return m, fmt.Errorf("no 50%%/99%% latency lines in wrk output (run with --latency): %s", out)
	}
	if r := reReqs.FindSubmatch(out); r != nil {
		m.requests, _ = strconv.Atoi(string(r[1]))
	}
	if r := reNon2xx.FindSubmatch(out); r != nil {
		m.non2xx, _ = strconv.Atoi(string(r[1]))
	}
	if r := reSock.FindSubmatch(out); r != nil {
		for _, s := range r[1:] {
			n, _ := strconv.Atoi(string(s))
			m.errors += n
		}
	}
	return m, nil
}

// wrk runs wrk against url for d with the given headers.
func wrk(ctx context.Context, url string, conns, threads int, d time.Duration, headers []string) (measurement, error) {
	secs := max(1, int(d.Round(time.Second).Seconds()))
	args := []string{"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", strconv.Itoa(secs) + "s", "--latency", "--timeout", "5s"}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(secs)*time.Second+30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "wrk", append(args, url)...).CombinedOutput()
	if err != nil {
		return measurement{}, fmt.Errorf("wrk %s: %w: %s", url, err, out)
	}
	return parseWrk(out)
}
