// Package deploy_test checks the Dockerfile against the code: its health
// check runs a real gatehouse command. The compose files and the Kubernetes
// manifests are checked in the deploy/check module (compose-go, kustomize
// and the Kubernetes API types), which keeps those libraries out of
// gatehouse's go.mod.
package deploy_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var binary string // gatehouse, built once by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatehouse-deploy-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "gatehouse")
	out, err := exec.Command("go", "build", "-o", binary, "../cmd/gatehouse").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	if strings.Count(df, "\nFROM ") < 1 || !strings.Contains(df, " AS build") {
		t.Error("Dockerfile is not multi-stage")
	}
	last := df[strings.LastIndex(df, "\nFROM "):]
	if !strings.Contains(last, "distroless/static") && !strings.Contains(last, "scratch") {
		t.Error("final stage is not distroless static or scratch")
	}
	if !strings.Contains(last, "USER nonroot") {
		t.Error("final stage does not run as non-root")
	}
	if !strings.Contains(df, "CGO_ENABLED=0") {
		t.Error("binary is not static")
	}
	m := regexp.MustCompile(`HEALTHCHECK[^\n]*\\\n\s*CMD \["/gatehouse", "([a-z-]+)"\]`).FindStringSubmatch(df)
	if m == nil {
		t.Fatal("no HEALTHCHECK running the binary")
	}
	// The health check command exists and works against nothing: it must
	// fail (exit 1), not be an unknown command (exit 2).
	cmd := exec.Command(binary, m[1], "--url", "http://127.0.0.1:1/healthz", "--timeout", "1s")
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("gatehouse %s against a closed port: %v, want exit 1", m[1], err)
	}
}
