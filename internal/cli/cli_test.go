package cli

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	var out bytes.Buffer
	fs := NewFlagSet("gatehouse", "serve", "run the service", &out)
	addr := fs.String("addr", ":4180", "listen address")
	if err := ParseFlags(fs, []string{"-addr", ":9"}); err != nil || *addr != ":9" {
		t.Fatalf("ParseFlags = %v, addr %q", err, *addr)
	}
	for name, args := range map[string][]string{"unknown flag": {"-nope"}, "positional": {"extra"}} {
		out.Reset()
		fs := NewFlagSet("gatehouse", "serve", "run the service", &out)
		if err := ParseFlags(fs, args); !errors.Is(err, ErrUsage) {
			t.Errorf("%s: %v, want ErrUsage", name, err)
		}
		if !strings.Contains(out.String(), "Usage: gatehouse serve\n\nrun the service") {
			t.Errorf("%s: usage not printed: %q", name, out.String())
		}
	}
	fs = NewFlagSet("gatehouse", "serve", "", &out)
	if err := ParseFlags(fs, []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
}

func TestExitCode(t *testing.T) {
	var stderr bytes.Buffer
	for err, want := range map[error]int{nil: 0, flag.ErrHelp: 0, ErrUsage: 2, errors.New("boom"): 1} {
		stderr.Reset()
		if got := ExitCode("gatehouse", err, &stderr); got != want {
			t.Errorf("ExitCode(%v) = %d, want %d", err, got, want)
		}
	}
	stderr.Reset()
	ExitCode("gatehouse-dev", errors.New("boom"), &stderr)
	if stderr.String() != "gatehouse-dev: boom\n" {
		t.Fatalf("stderr = %q", stderr.String())
	}
}
