// Package deploy_test checks the shipped deployment files against the code:
// there is no Docker engine or Kubernetes cluster in CI, so every service,
// port, path, environment variable and mounted file they name is checked
// here, and the configurations they carry are loaded with gatehouse's own
// configuration loader and binary.
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

func readEnvFile(t *testing.T, path string) map[string]string {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(k, "#") {
			m[k] = v
		}
	}
	return m
}

var interp = regexp.MustCompile(`\$\{([A-Z_]+)(?::?[-?][^}]*)?\}`)

func TestCompose(t *testing.T) {
	dir := "compose"
	c := readYAMLDocs(t, filepath.Join(dir, "docker-compose.yml"))[0]
	dotenv := readEnvFile(t, filepath.Join(dir, ".env.example"))
	services, _ := c["services"].(doc)
	for _, name := range []string{"redis", "gatehouse", "app", "traefik"} {
		if services[name] == nil {
			t.Fatalf("service %q missing", name)
		}
	}
	if n, _ := get(services, "gatehouse", "deploy", "replicas").(int); n < 2 {
		t.Errorf("gatehouse replicas = %v, want >= 2", n)
	}
	if _, err := os.Stat(filepath.Join(dir, str(get(services, "gatehouse", "build", "context")), "Dockerfile")); err != nil {
		t.Errorf("build context has no Dockerfile: %v", err)
	}

	env := checkGatehouseEnv(t, dir, c, dotenv)
	// Traefik's files exist, and its addresses name compose services and
	// the ports they listen on.
	_, ghPort, _ := net.SplitHostPort(env["GATEHOUSE_HTTP_ADDR"])
	for _, v := range get(services, "traefik", "volumes").([]any) {
		src, _, _ := strings.Cut(str(v), ":")
		if _, err := os.Stat(filepath.Join(dir, src)); err != nil {
			t.Errorf("traefik mounts %s: %v", src, err)
		}
	}
	dyn := readYAMLDocs(t, filepath.Join(dir, "traefik-dynamic.yml"))[0]
	fa := str(get(dyn, "http", "middlewares", "gatehouse-auth", "forwardAuth", "address"))
	u, err := url.Parse(fa)
	if err != nil || u.Hostname() != "gatehouse" || u.Port() != ghPort || u.Path != "/authz/forward-auth" {
		t.Errorf("forwardAuth address %q does not reach the gatehouse service's /authz/forward-auth on %s", fa, ghPort)
	}
	if get(dyn, "http", "middlewares", "gatehouse-auth", "forwardAuth", "trustForwardHeader") != false {
		t.Error("trustForwardHeader must be false")
	}
	appCmd := strings.Join(toStrings(get(services, "app", "command")), " ")
	for name, want := range map[string]string{"gatehouse": "gatehouse:" + ghPort, "app": "app:" + portOf(appCmd)} {
		got := str(get(dyn, "http", "services", name, "loadBalancer", "servers", 0, "url"))
		if !strings.Contains(got, want) {
			t.Errorf("traefik service %s url %q, want host:port %s", name, got, want)
		}
	}
	checkAuthResponseHeaders(t, get(dyn, "http", "middlewares", "gatehouse-auth", "forwardAuth", "authResponseHeaders"))
}

// checkGatehouseEnv checks that every GATEHOUSE_* variable of the compose
// file's gatehouse service is one the schema knows, that *_FILE variables
// name mounted compose secrets, and that the whole environment (with
// .env.example's values) is a valid configuration. It returns the
// environment as gatehouse would see it.
func checkGatehouseEnv(t *testing.T, dir string, c doc, dotenv map[string]string) map[string]string {
	t.Helper()
	services, _ := c["services"].(doc)
	env := map[string]string{}
	secretsDir := t.TempDir()
	composeSecrets, _ := c["secrets"].(doc)
	svcSecrets, _ := get(services, "gatehouse", "secrets").([]any)
	for k, v := range get(services, "gatehouse", "environment").(doc) {
		if len(config.UnknownEnv([]string{k + "="})) > 0 {
			t.Errorf("environment %s is not a gatehouse setting", k)
		}
		val := interp.ReplaceAllStringFunc(str(v), func(m string) string {
			name := interp.FindStringSubmatch(m)[1]
			if _, ok := dotenv[name]; !ok {
				t.Errorf("%s uses ${%s}, which .env.example does not set", k, name)
			}
			return dotenv[name]
		})
		if strings.HasSuffix(k, "_FILE") {
			name, ok := strings.CutPrefix(val, "/run/secrets/")
			if !ok || composeSecrets[name] == nil || !slices.Contains(svcSecrets, any(name)) {
				t.Errorf("%s = %s is not a compose secret mounted in the gatehouse service", k, val)
			}
			content := "client-secret"
			if strings.Contains(k, "COOKIE") {
				content = newKey(t)
			}
			p := filepath.Join(secretsDir, name)
			os.WriteFile(p, []byte(content+"\n"), 0o600)
			val = p
		}
		env[k] = val
	}
	if _, err := config.Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Errorf("compose environment is not a valid configuration: %v", err)
	}
	gen, _ := os.ReadFile(filepath.Join(dir, "secrets", "generate.sh"))
	for name, s := range composeSecrets {
		f := str(get(s, "file"))
		if !strings.HasPrefix(f, "./secrets/") || !strings.Contains(string(gen), strings.TrimPrefix(f, "./secrets/")) {
			t.Errorf("secret %s file %q is not created by secrets/generate.sh", name, f)
		}
	}

	return env
}

func portOf(cmd string) string {
	f := strings.Fields(cmd)
	for i, s := range f {
		if s == "--port" && i+1 < len(f) {
			return f[i+1]
		}
	}
	return "80"
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

func TestComposeEnvoyVariant(t *testing.T) {
	dir := "compose"
	c := readYAMLDocs(t, filepath.Join(dir, "docker-compose.envoy.yml"))[0]
	dotenv := readEnvFile(t, filepath.Join(dir, ".env.example"))
	env := checkGatehouseEnv(t, dir, c, dotenv)
	services, _ := c["services"].(doc)
	for _, name := range []string{"app", "envoy"} {
		if got := str(get(services, name, "network_mode")); got != "service:gatehouse" {
			t.Errorf("%s network_mode = %q, want service:gatehouse (the shipped envoy.yaml names 127.0.0.1)", name, got)
		}
	}
	var envoyCfg string
	for _, v := range get(services, "envoy", "volumes").([]any) {
		src, dst, _ := strings.Cut(str(v), ":")
		if strings.HasPrefix(dst, "/etc/envoy/envoy.yaml") {
			envoyCfg = filepath.Join(dir, src)
		}
	}
	if envoyCfg != filepath.Join("envoy", "envoy.yaml") {
		t.Fatalf("the envoy service must mount the shipped deploy/envoy/envoy.yaml, mounts %q", envoyCfg)
	}
	data, err := os.ReadFile(envoyCfg)
	if err != nil {
		t.Fatal(err)
	}
	_, grpcPort, _ := net.SplitHostPort(env["GATEHOUSE_GRPC_ADDR"])
	_, httpPort, _ := net.SplitHostPort(env["GATEHOUSE_HTTP_ADDR"])
	appPort := portOf(strings.Join(toStrings(get(services, "app", "command")), " "))
	for what, port := range map[string]string{"gatehouse gRPC": grpcPort, "gatehouse HTTP": httpPort, "app": appPort} {
		if !strings.Contains(string(data), "address: 127.0.0.1, port_value: "+port+" }") {
			t.Errorf("envoy.yaml has no 127.0.0.1:%s cluster for %s", port, what)
		}
	}
	published := toStrings(get(services, "gatehouse", "ports"))
	if len(published) != 1 || !strings.Contains(string(data), "port_value: "+strings.Split(published[0], ":")[1]+" }") {
		t.Errorf("published port %v is not Envoy's listener", published)
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
