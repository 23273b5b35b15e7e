package main

import (
	"strings"
	"testing"
	"time"
)

// TestRunSmoke runs the load client briefly: every gatehouse call must be
// allowed (run fails otherwise) and the report must name both servers. It
// asserts nothing about speed.
func TestRunSmoke(t *testing.T) {
	var out strings.Builder
	if err := run(&out, options{concurrency: 4, duration: 200 * time.Millisecond, conns: 1, host: "app.example.com"}); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"gatehouse", "noop", "ratio gatehouse/noop"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	var out strings.Builder
	for _, o := range []options{
		{concurrency: 0, duration: time.Second, conns: 1},
		{concurrency: 1, duration: time.Hour, conns: 1},
		{concurrency: 1, duration: time.Second, conns: 1, target: "127.0.0.1:1"},
	} {
		if err := run(&out, o); err == nil {
			t.Errorf("run(%+v) succeeded", o)
		}
	}
}
