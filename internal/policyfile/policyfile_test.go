package policyfile

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/config"
)

// TestReload runs the poller in a synctest bubble: its ticker runs on the
// bubble's fake clock, and polls(n) lets exactly n intervals pass and waits
// until the poller is idle again, so every assertion follows a known number
// of polls, however loaded the machine.
func TestReload(t *testing.T) {
	synctest.Test(t, testReload)
}

func testReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("email_domains: [example.com]\n")
	cfg := config.Default()
	build := cfg.PolicyFromFile // the one step that checks and compiles
	first, err := build([]byte("email_domains: [example.com]\n"))
	if err != nil {
		t.Fatal(err)
	}
	var current atomic.Pointer[authz.Policy]
	current.Store(first)
	var logs bytes.Buffer
	const interval = 10 * time.Millisecond
	r := New(path, build, current.Store, Options{Interval: interval, Logger: slog.New(slog.NewTextHandler(&logs, nil))})

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	stopped := false
	stop := func() {
		if !stopped {
			cancel()
			<-done
			stopped = true
		}
	}
	defer stop()
	polls := func(n int) {
		time.Sleep(time.Duration(n) * interval)
		synctest.Wait()
	}

	// A change on disk is picked up by polling, once two polls agree.
	write("rules: [{name: lock, action: deny}]\n")
	polls(2)
	if p := current.Load(); len(p.Rules) != 1 || p.Rules[0].Name != "lock" {
		t.Fatalf("not reloaded after two polls; status %+v", r.Status())
	}
	if st := r.Status(); st.Generation != 2 || st.LastError != "" {
		t.Errorf("status %+v", st)
	}

	// A broken file keeps the old policy and shows in Status, once, however
	// many polls see it.
	good := current.Load()
	write("rules: [{action: perhaps}]\n")
	polls(2)
	if r.Status().LastError == "" {
		t.Fatalf("broken file not reported after two polls; status %+v", r.Status())
	}
	polls(10)
	st := r.Status()
	if current.Load() != good || !strings.Contains(st.LastError, "rules[0].action") || st.Failures != 1 || st.Generation != 2 {
		t.Errorf("after a broken file and ten more polls: status %+v", st)
	}
	if strings.Count(logs.String(), "not reloaded") != 1 {
		t.Errorf("a broken file must be reported once:\n%s", logs.String())
	}

	// Reload (SIGHUP) on a fixed file applies it and clears the error.
	stop()
	write("rules: [{name: open, action: allow}]\n")
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if p := current.Load(); p.Rules[0].Name != "open" || r.Status().LastError != "" || r.Status().Generation != 3 {
		t.Errorf("after Reload: %+v", r.Status())
	}
	// A missing file is an error that keeps the policy.
	_ = os.Remove(path)
	if err := r.Reload(); err == nil || current.Load().Rules[0].Name != "open" {
		t.Errorf("missing file: %v", err)
	}
}

// TestHalfWrittenFileIsNotApplied: a change is applied only when two polls
// in a row see the same content, so an editor's truncate-then-write is
// never caught in the middle.
func TestHalfWrittenFileIsNotApplied(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte("rules: [{name: lock, action: deny}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var applied []string
	cfg := config.Default()
	build := cfg.PolicyFromFile // the one step that checks and compiles
	r := New(path, build, func(p *authz.Policy) { applied = append(applied, fmt.Sprint(len(p.Rules))) }, Options{})
	// Truncated mid-write: valid YAML, but not the policy meant.
	_ = os.WriteFile(path, []byte("email_domains: [example.com]\n"), 0o600)
	r.poll()
	_ = os.WriteFile(path, []byte("email_domains: [example.com]\nrules: [{name: lock, action: deny}, {name: b, action: allow}]\n"), 0o600)
	r.poll()
	if len(applied) != 0 {
		t.Fatalf("applied an unstable file: %v", applied)
	}
	r.poll()
	if strings.Join(applied, ",") != "2" {
		t.Fatalf("stable file not applied: %v", applied)
	}
}
