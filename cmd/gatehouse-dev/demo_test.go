package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestModuleRoot: the demo recognises a gatehouse checkout from any folder
// inside it, and only gatehouse's module.
func TestModuleRoot(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "go.mod"), []byte("// a comment\nmodule "+modulePath+"\n\ngo 1.26.0\n"), 0o644)
	deep := filepath.Join(root, "cmd", "gatehouse-dev")
	os.MkdirAll(deep, 0o755)
	if got, ok := moduleRoot(deep); !ok || got != root {
		t.Errorf("moduleRoot(%s) = %q, %v; want %q", deep, got, ok, root)
	}
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/gatehouse-fork\n"), 0o644)
	if got, ok := moduleRoot(other); ok {
		t.Errorf("moduleRoot of another module = %q, want not found", got)
	}
	// A nested module (e.g. tools/) stops the walk: it is not gatehouse.
	nested := filepath.Join(root, "tools")
	os.MkdirAll(nested, 0o755)
	os.WriteFile(filepath.Join(nested, "go.mod"), []byte("module "+modulePath+"/tools\n"), 0o644)
	if _, ok := moduleRoot(nested); ok {
		t.Error("moduleRoot of a nested module: found, want not found")
	}
}

// TestFindGatehouse: --gatehouse must exist; outside a checkout the
// gatehouse on PATH is used, and with none the error says what to do.
func TestFindGatehouse(t *testing.T) {
	ctx := context.Background()
	if _, err := findGatehouse(ctx, filepath.Join(t.TempDir(), "nope"), io.Discard); err == nil || !strings.HasPrefix(err.Error(), "--gatehouse: ") {
		t.Errorf("a missing --gatehouse: %v", err)
	}
	t.Chdir(t.TempDir()) // not a checkout
	bin := t.TempDir()
	t.Setenv("PATH", bin)
	if _, err := findGatehouse(ctx, "", io.Discard); err == nil || !strings.Contains(err.Error(), "pass --gatehouse PATH") {
		t.Errorf("no gatehouse anywhere: %v", err)
	}
	fake := filepath.Join(bin, "gatehouse")
	os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755)
	if got, err := findGatehouse(ctx, "", io.Discard); err != nil || got != fake {
		t.Errorf("gatehouse on PATH: %q, %v; want %q", got, err, fake)
	}
}
