package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/providers"
)

// TestProvidersDocExamples runs every configuration in docs/providers.md
// through gatehouse check-config, with the secret files it names created
// beside it, and checks that every preset has an example.
func TestProvidersDocExamples(t *testing.T) {
	data, err := os.ReadFile("../../docs/providers.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(data), -1)
	if len(blocks) < len(providers.Names()) {
		t.Fatalf("%d examples in docs/providers.md, fewer than the %d presets", len(blocks), len(providers.Names()))
	}
	files := regexp.MustCompile(`(?m)^\s*[a-z_]+_file:\s*(\S+)`)
	covered := map[string]bool{}
	for i, b := range blocks {
		dir := t.TempDir()
		for _, m := range files.FindAllStringSubmatch(b[1], -1) {
			p := filepath.Join(dir, m[1])
			content := "a-client-secret-from-the-provider-0123456789"
			if strings.Contains(m[1], "cookie") {
				content = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes
			}
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		cfg := filepath.Join(dir, "gatehouse.yaml")
		if err := os.WriteFile(cfg, []byte(b[1]), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{"check-config", "--config", cfg}, &out, &errb, func(string) (string, bool) { return "", false }); code != 0 {
			t.Errorf("example %d of docs/providers.md fails check-config (exit %d):\n%s%s\n%s", i+1, code, out.String(), errb.String(), b[1])
		}
		for _, m := range regexp.MustCompile(`preset: ([a-z0-9]+)`).FindAllStringSubmatch(b[1], -1) {
			covered[m[1]] = true
		}
	}
	for _, p := range providers.Names() {
		if !covered[p] {
			t.Errorf("docs/providers.md has no example with preset %s", p)
		}
	}
}
