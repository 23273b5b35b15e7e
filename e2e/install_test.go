//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

const modulePath = "github.com/gatehouse/gatehouse"

// committedTree extracts the commit at HEAD into a new folder: what a
// module proxy would serve for a tag there (uncommitted files excluded).
func committedTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var tarball bytes.Buffer
	git := exec.Command("git", "archive", "--format=tar", "HEAD")
	git.Dir, git.Stdout, git.Stderr = "..", &tarball, os.Stderr
	if err := git.Run(); err != nil {
		t.Fatalf("git archive HEAD: %v", err)
	}
	x := exec.Command("tar", "-x", "-C", dir)
	x.Stdin = &tarball
	if out, err := x.CombinedOutput(); err != nil {
		t.Fatalf("tar -x: %v\n%s", err, out)
	}
	return dir
}

// publish writes version of the module in src into proxy, in the layout
// of a GOPROXY (list, .info, .mod, .zip), with the zip made by
// golang.org/x/mod/zip as the go command and proxy.golang.org make it.
func publish(t *testing.T, proxy, src, version string) {
	t.Helper()
	dir := filepath.Join(proxy, modulePath, "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join(src, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	info, _ := json.Marshal(map[string]string{"Version": version, "Time": time.Now().UTC().Format(time.RFC3339)})
	f, err := os.Create(filepath.Join(dir, version+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	if err := modzip.CreateFromDir(f, module.Version{Path: modulePath, Version: version}, src); err != nil {
		t.Fatalf("module zip of %s: %v", src, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	list, _ := os.ReadFile(filepath.Join(dir, "list"))
	for name, data := range map[string][]byte{
		"list":            append(list, version+"\n"...),
		version + ".info": info,
		version + ".mod":  mod,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// goInstall runs go install pkgs in an empty folder outside the module,
// as a user would, with proxy in front of the local module cache and the
// configured proxy (for the dependencies), into gobin.
func goInstall(t *testing.T, proxy, gobin string, pkgs ...string) ([]byte, error) {
	t.Helper()
	upstream := strings.TrimSpace(goEnv(t, "GOPROXY"))
	cache := filepath.Join(goEnv(t, "GOMODCACHE"), "cache", "download")
	cmd := exec.CommandContext(t.Context(), "go", append([]string{"install", "-trimpath"}, pkgs...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(),
		"GOBIN="+gobin,
		"GOPROXY=file://"+proxy+",file://"+cache+","+upstream,
		"GONOSUMDB="+modulePath, // the test's version is not in the checksum database
		"GOMODCACHE="+filepath.Join(t.TempDir(), "modcache"),
		"GOFLAGS=-modcacherw", // so that t.TempDir can remove the module cache
		"GOTOOLCHAIN=local",
		"GOWORK=off",
	)
	return cmd.CombinedOutput()
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// TestGoInstall serves the committed tree as a module version from a local
// GOPROXY and runs the README's go install line against it: it catches a
// replace directive, a file that was never committed, or a nested module
// the build needs. The installed gatehouse reports the version it was
// installed at and links no demo code; the installed gatehouse-dev runs
// the demo with the gatehouse beside it, through a browser-like login.
func TestGoInstall(t *testing.T) {
	src := committedTree(t)
	proxy := t.TempDir()
	const version = "v0.99.0"
	publish(t, proxy, src, version)

	gobin := t.TempDir()
	start := time.Now()
	out, err := goInstall(t, proxy, gobin, modulePath+"/cmd/gatehouse@"+version, modulePath+"/cmd/gatehouse-dev@"+version)
	if err != nil {
		t.Fatalf("go install @%s: %v\n%s", version, err, out)
	}
	t.Logf("go install of gatehouse and gatehouse-dev @%s: %s", version, time.Since(start).Round(time.Second))

	gh := filepath.Join(gobin, "gatehouse")
	v, err := exec.Command(gh, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(v), "gatehouse "+version+"\n") {
		t.Fatalf("gatehouse version: %v\n%s", err, v)
	}
	m, err := exec.Command("go", "version", "-m", gh).CombinedOutput()
	if err != nil || !strings.Contains(string(m), "\tmod\t"+modulePath+"\t"+version) {
		t.Fatalf("go version -m: %v\n%s", err, m)
	}
	if strings.Contains(string(m), "zitadel") || strings.Contains(string(m), "internal/oidctest") {
		t.Fatalf("the installed gatehouse links the demo's provider:\n%s", m)
	}

	t.Run("a replace directive fails go install", func(t *testing.T) {
		bad := committedTree(t)
		f, err := os.OpenFile(filepath.Join(bad, "go.mod"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(f, "\nreplace golang.org/x/oauth2 => ../oauth2")
		f.Close()
		publish(t, proxy, bad, "v0.99.1")
		out, err := goInstall(t, proxy, t.TempDir(), modulePath+"/cmd/gatehouse@v0.99.1")
		if err == nil || !strings.Contains(string(out), "replace") {
			t.Fatalf("go install with a replace directive: %v\n%s", err, out)
		}
	})

	t.Run("demo from the installed binaries", func(t *testing.T) {
		logs := demoLogin(t, filepath.Join(gobin, "gatehouse-dev"))
		if !strings.Contains(logs, "gatehouse-dev: running "+gh+" serve on 127.0.0.1:") {
			t.Fatalf("the demo did not run the gatehouse beside it (%s):\n%s", gh, logs)
		}
	})
}

// demoLogin runs "gatehouse-dev demo" outside any checkout (so it runs the
// gatehouse beside it), signs alice in and sees bob refused, the way a
// browser does, then stops it with SIGINT as Ctrl-C would. It returns the
// demo's log.
func demoLogin(t *testing.T, bin string) string {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "demo", "--addr", "127.0.0.1:0", "--provider-addr", "127.0.0.1:0")
	cmd.Dir = t.TempDir()
	var logs syncBuffer
	cmd.Stderr = &logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	open := regexp.MustCompile(`Open:\s+(http://\S+)`)
	var page string
	sc := bufio.NewScanner(stdout)
	for page == "" && sc.Scan() {
		if m := open.FindStringSubmatch(sc.Text()); m != nil {
			page = m[1]
		}
	}
	if page == "" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the demo printed no URL; its log:\n%s", logs.String())
	}
	go io.Copy(io.Discard, stdout)

	body := browserLogin(t, page, "alice", "alice")
	if !strings.Contains(body, "Signed in as alice@example.com") {
		t.Fatalf("alice: %s\nlog:\n%s", body, logs.String())
	}
	if body := browserLogin(t, page, "bob", "bob"); !strings.HasPrefix(body, "403 ") {
		t.Fatalf("bob was not refused: %s", body)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demo after SIGINT: %v\nlog:\n%s", err, logs.String())
	}
	return logs.String()
}

// browserLogin opens page with a new cookie jar, follows the redirects to
// the provider's login form, submits it and follows the redirects back,
// and returns the last page's status line and body.
func browserLogin(t *testing.T, page, user, password string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	get := func(u string) *http.Response {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Accept", "text/html")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := get(page)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	form := resp.Request.URL
	id := regexp.MustCompile(`name="id" value="([^"]+)"`).FindSubmatch(b)
	if form.Path != "/login" || id == nil {
		t.Fatalf("%s: expected the provider's login form, got %s %d: %s", page, form, resp.StatusCode, b)
	}
	req, _ := http.NewRequest("POST", form.Scheme+"://"+form.Host+"/login",
		strings.NewReader(url.Values{"id": {string(id[1])}, "username": {user}, "password": {password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ = io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s\n%s", resp.StatusCode, resp.Request.URL, b)
}

// syncBuffer is a bytes.Buffer that a process may write while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRelease runs scripts/release.sh (make release) for linux/amd64 twice
// into two folders: the archives and SHA256SUMS are byte-identical, the
// archive holds the binary, README and the systemd unit, and the binary
// reports the version, commit and commit time it was stamped with.
func TestRelease(t *testing.T) {
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	commit := strings.TrimSpace(string(head))
	var sums [2][]byte
	var dist string
	for i := range sums {
		dist = t.TempDir()
		cmd := exec.CommandContext(t.Context(), "bash", "../scripts/release.sh", commit)
		cmd.Env = append(os.Environ(), "ARCHES=amd64", "DIST="+dist, "VERSION=v0.99.0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("release.sh: %v\n%s", err, out)
		}
		if sums[i], err = os.ReadFile(filepath.Join(dist, "SHA256SUMS")); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(sums[0], sums[1]) {
		t.Fatalf("two releases of one commit differ:\n%s\n%s", sums[0], sums[1])
	}
	check := exec.Command("sha256sum", "-c", "SHA256SUMS")
	check.Dir = dist
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, out)
	}
	const name = "gatehouse-v0.99.0-linux-amd64"
	list, err := exec.Command("tar", "-tzf", filepath.Join(dist, name+".tar.gz")).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"gatehouse", "README.md", "deploy/systemd/gatehouse.service", "deploy/systemd/README.md"} {
		if !strings.Contains(string(list), name+"/"+f+"\n") {
			t.Errorf("archive lacks %s:\n%s", f, list)
		}
	}
	x := exec.Command("tar", "-xzf", filepath.Join(dist, name+".tar.gz"))
	x.Dir = t.TempDir()
	if out, err := x.CombinedOutput(); err != nil {
		t.Fatalf("tar -x: %v\n%s", err, out)
	}
	v, err := exec.Command(filepath.Join(x.Dir, name, "gatehouse"), "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(v), "gatehouse v0.99.0\ncommit: "+commit+"\nbuilt: 20") {
		t.Fatalf("gatehouse version: %v\n%s", err, v)
	}
}
