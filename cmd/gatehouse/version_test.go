package main

import (
	"bytes"
	"context"
	"runtime/debug"
	"strings"
	"testing"
)

// TestBuildInfo: the toolchain's records fill version, commit and commit
// time; each -X stamp replaces its field; nothing known gives "(devel)".
func TestBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/gatehouse/gatehouse", Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-11-30T10:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	for _, tc := range []struct {
		name                   string
		stampV, stampC, stampD string
		bi                     *debug.BuildInfo
		want                   []string
	}{
		{"toolchain only", "", "", "", bi, []string{
			"gatehouse v1.4.0\n",
			"commit: 0123456789abcdef0123456789abcdef01234567 (with uncommitted changes)\n",
			"commit time: 2026-11-30T10:00:00Z\n",
			"go: go1.",
		}},
		{"stamped", "v2.0.0", "fedcba", "2026-12-01T12:00:00Z", bi, []string{
			"gatehouse v2.0.0\n", "commit: fedcba (with uncommitted changes)\n", "built: 2026-12-01T12:00:00Z\n",
		}},
		{"nothing known", "", "", "", nil, []string{"gatehouse (devel)\n", "commit: unknown\n", "commit time: unknown\n"}},
	} {
		var b bytes.Buffer
		readBuildInfo(tc.stampV, tc.stampC, tc.stampD, tc.bi, tc.bi != nil).write(&b)
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, w, b.String())
			}
		}
	}
}

// TestVersionCommand: "gatehouse version" and "--version" print the build
// information of the test binary; extra arguments are a usage error.
func TestVersionCommand(t *testing.T) {
	noenv := func(string) (string, bool) { return "", false }
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb, noenv); code != 0 ||
			!strings.HasPrefix(out.String(), "gatehouse ") || !strings.Contains(out.String(), "\ncommit: ") {
			t.Errorf("%v: code %d, stdout %q, stderr %q", args, code, out.String(), errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"version", "extra"}, &out, &errb, noenv); code != 2 {
		t.Errorf("version extra: code %d, want 2", code)
	}
}
