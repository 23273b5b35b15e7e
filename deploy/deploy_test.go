// Package deploy_test checks the shipped deployment files against the code:
// there is no Docker engine or Kubernetes cluster in CI, so every service,
// port, path, environment variable and mounted file they name is checked
// here, and the configurations they carry are loaded with gatehouse's own
// configuration loader and binary. The compose files are checked in the
// deploy/check module, with compose-go.
package deploy_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse/gatehouse/internal/config"
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

type doc = map[string]any

func readYAMLDocs(t *testing.T, path string) []doc {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []doc
	for {
		var d doc
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
	return docs
}

// get walks a decoded YAML value by keys and list indexes.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(doc)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func newKey(t *testing.T) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func toStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		out = append(out, str(x))
	}
	return out
}

func checkAuthResponseHeaders(t *testing.T, v any) {
	t.Helper()
	d := config.Default()
	// Cookie: gatehouse answers the client's cookies minus its own, so the
	// app never receives the session cookie.
	// The access-token header: gatehouse sends it only when configured,
	// and Traefik deletes a listed header the client sent either way.
	want := []string{d.Headers.User, d.Headers.Email, d.Headers.Groups, d.Headers.PreferredUsername, config.AccessTokenHeader, "Cookie"}
	if got := toStrings(v); !slices.Equal(got, want) {
		t.Errorf("authResponseHeaders = %v, want %v", got, want)
	}
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

func TestKubernetes(t *testing.T) {
	byKind := map[string]doc{}
	for _, f := range []string{"gatehouse.yaml", "secret.example.yaml", "traefik-middleware.yaml", "envoy-gateway-security-policy.yaml"} {
		for _, d := range readYAMLDocs(t, filepath.Join("kubernetes", f)) {
			if str(d["apiVersion"]) == "" || str(d["kind"]) == "" || str(get(d, "metadata", "name")) == "" {
				t.Errorf("%s: a document lacks apiVersion, kind or metadata.name", f)
			}
			byKind[str(d["kind"])+"/"+str(get(d, "metadata", "name"))] = d
		}
	}
	dep := byKind["Deployment/gatehouse"]
	svc := byKind["Service/gatehouse"]
	pdb := byKind["PodDisruptionBudget/gatehouse"]
	cm := byKind["ConfigMap/gatehouse"]
	sec := byKind["Secret/gatehouse"]
	if dep == nil || svc == nil || pdb == nil || cm == nil || sec == nil {
		t.Fatalf("missing core objects; have %v", keys(byKind))
	}
	if n, _ := get(dep, "spec", "replicas").(int); n < 2 {
		t.Errorf("replicas = %d, want >= 2", n)
	}
	labels := get(dep, "spec", "template", "metadata", "labels").(doc)
	for name, sel := range map[string]any{
		"deployment selector": get(dep, "spec", "selector", "matchLabels"),
		"service selector":    get(svc, "spec", "selector"),
		"pdb selector":        get(pdb, "spec", "selector", "matchLabels"),
	} {
		if !reflect.DeepEqual(sel, any(labels)) {
			t.Errorf("%s %v does not match pod labels %v", name, sel, labels)
		}
	}

	ctr := get(dep, "spec", "template", "spec", "containers", 0)
	ports := map[string]int{}
	for _, p := range get(ctr, "ports").([]any) {
		ports[str(get(p, "name"))], _ = get(p, "containerPort").(int)
	}
	for probe, path := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz"} {
		if got := str(get(ctr, probe, "httpGet", "path")); got != path {
			t.Errorf("%s path = %q, want %q", probe, got, path)
		}
		if _, ok := ports[str(get(ctr, probe, "httpGet", "port"))]; !ok {
			t.Errorf("%s port is not a container port", probe)
		}
	}
	if get(ctr, "securityContext", "readOnlyRootFilesystem") != true || get(dep, "spec", "template", "spec", "securityContext", "runAsNonRoot") != true {
		t.Error("container must run as non-root with a read-only root file system")
	}

	// The configuration in the ConfigMap is valid for the real binary, with
	// the Secret's keys as the files it names.
	args := toStrings(get(ctr, "args"))
	cfgPath := args[slices.Index(args, "--config")+1]
	mounts := map[string]string{}
	for _, m := range get(ctr, "volumeMounts").([]any) {
		mounts[str(get(m, "name"))] = str(get(m, "mountPath"))
	}
	if mounts["config"] != cfgPath {
		t.Errorf("--config %s is not where the ConfigMap is mounted (%s)", cfgPath, mounts["config"])
	}
	yml := str(get(cm, "data", "gatehouse.yaml"))
	tmp := t.TempDir()
	secretKeys := get(sec, "stringData").(doc)
	for _, m := range regexp.MustCompile(regexp.QuoteMeta(mounts["secrets"])+`/([a-z-]+)`).FindAllStringSubmatch(yml, -1) {
		if _, ok := secretKeys[m[1]]; !ok {
			t.Errorf("config reads %s, which the Secret does not have", m[0])
		}
		content := "secret"
		if strings.Contains(m[1], "cookie") {
			content = newKey(t)
		}
		os.WriteFile(filepath.Join(tmp, m[1]), []byte(content), 0o600)
	}
	yml = strings.ReplaceAll(yml, mounts["secrets"], tmp)
	cfgFile := filepath.Join(tmp, "gatehouse.yaml")
	os.WriteFile(cfgFile, []byte(yml), 0o600)
	out, err := exec.Command(binary, "check-config", "--config", cfgFile).CombinedOutput()
	if err != nil {
		t.Errorf("ConfigMap configuration: %v\n%s", err, out)
	}
	cfg, err := config.Load(cfgFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	svcPorts := map[int]bool{}
	for _, p := range get(svc, "spec", "ports").([]any) {
		n, _ := get(p, "port").(int)
		svcPorts[n] = true
	}
	for _, addr := range []string{cfg.HTTP.Addr, cfg.GRPC.Addr} {
		_, port, _ := net.SplitHostPort(addr)
		found := false
		for _, p := range ports {
			if port == itoa(p) {
				found = true
			}
		}
		if !found || !svcPorts[atoi(port)] {
			t.Errorf("listen address %s has no matching container and service port", addr)
		}
	}

	mw := byKind["Middleware/gatehouse-auth"]
	u, err := url.Parse(str(get(mw, "spec", "forwardAuth", "address")))
	if err != nil || !strings.HasPrefix(u.Hostname(), "gatehouse.") || !svcPorts[atoi(u.Port())] || u.Path != "/authz/forward-auth" {
		t.Errorf("Traefik middleware address %v does not reach the gatehouse Service", u)
	}
	checkAuthResponseHeaders(t, get(mw, "spec", "forwardAuth", "authResponseHeaders"))
	sp := byKind["SecurityPolicy/gatehouse"]
	if get(sp, "spec", "extAuth", "failOpen") != false {
		t.Error("Envoy Gateway ext_authz must fail closed")
	}
	if p, _ := get(sp, "spec", "extAuth", "grpc", "backendRefs", 0, "port").(int); !svcPorts[p] {
		t.Errorf("SecurityPolicy port %d is not a Service port", p)
	}
}

func keys(m map[string]doc) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}
