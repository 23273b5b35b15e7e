package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/gatehouse/gatehouse/internal/demo"
)

// modulePath is gatehouse's module, recognised to build it from a checkout.
const modulePath = "github.com/gatehouse/gatehouse"

func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo [--addr HOST:PORT] [--provider-addr HOST:PORT] [--gatehouse PATH]",
		"Starts, on loopback, everything needed to try gatehouse: a development OpenID\n"+
			"provider with demo users, the real \"gatehouse serve\" on the in-memory session\n"+
			"store, a demo app that shows the identity headers it receives, and a small front\n"+
			"proxy that asks gatehouse about every request the way Traefik's ForwardAuth does.\n"+
			"Run from a gatehouse checkout, it builds gatehouse from that checkout; elsewhere\n"+
			"it uses the gatehouse beside it or on PATH (or --gatehouse).\n"+
			"NOT FOR PRODUCTION: the provider accepts fixed passwords and cookies are not Secure.", stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address of the front proxy (the URL to open)")
	providerAddr := fs.String("provider-addr", "127.0.0.1:9000", "address of the development OpenID provider")
	bin := fs.String("gatehouse", "", "the gatehouse binary to run (default: built from this checkout, else beside gatehouse-dev, else on PATH)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return runDemo(ctx, *addr, *providerAddr, *bin, stderr, func(d *demo.Demo) {
		fmt.Fprintf(stdout, `
  gatehouse demo: NOT FOR PRODUCTION

  Open:  %s/dashboard?tab=runs

  Demo logins (username / password):
    alice / alice   alice@example.com, admitted (access.email_domains: example.com)
    bob   / bob     bob@example.org, signed in but refused with 403

  Sign out: %s/oauth2/sign_out
  OpenID provider: %s
  Stop with Ctrl-C.

`, d.URL, d.URL, d.Provider.Issuer())
	})
}

// runDemo starts the demo, with bin (or the gatehouse findGatehouse picks)
// as a child process, and blocks until ctx ends or a part fails. started
// is called once gatehouse is ready.
func runDemo(ctx context.Context, addr, providerAddr, bin string, logw io.Writer, started func(*demo.Demo)) error {
	d, err := demo.New(addr, providerAddr)
	if err != nil {
		return err
	}
	defer d.Close()
	if bin, err = findGatehouse(ctx, bin, logw); err != nil {
		return err
	}
	ghAddr, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	gh := exec.CommandContext(gctx, bin, "serve")
	gh.Env = append(withoutGatehouseEnv(os.Environ()), "GATEHOUSE_HTTP_ADDR="+ghAddr)
	for k, v := range d.Env {
		gh.Env = append(gh.Env, k+"="+v)
	}
	gh.Stdout, gh.Stderr = logw, logw
	fmt.Fprintf(logw, "gatehouse-dev: running %s serve on %s\n", bin, ghAddr)
	gh.Cancel = func() error { return gh.Process.Signal(syscall.SIGTERM) }
	gh.WaitDelay = 10 * time.Second
	if err := gh.Start(); err != nil {
		return fmt.Errorf("start %s serve: %w", bin, err)
	}

	exited := make(chan struct{})
	g.Go(func() error {
		defer close(exited)
		err := gh.Wait()
		if gctx.Err() != nil {
			return nil // stopped with the demo (or after another part failed)
		}
		if err == nil {
			err = errors.New("exited")
		}
		return fmt.Errorf("gatehouse serve: %w", err)
	})
	ghURL := &url.URL{Scheme: "http", Host: ghAddr}
	g.Go(func() error {
		if err := waitReady(gctx, ghURL.JoinPath("/readyz").String(), exited); err != nil {
			return err
		}
		started(d)
		return d.Serve(gctx, ghURL)
	})
	return g.Wait()
}

// waitReady polls url until it answers 200, the process exits, or ctx ends.
func waitReady(ctx context.Context, u string, exited <-chan struct{}) error {
	c := &http.Client{Timeout: time.Second}
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if resp, err := c.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return nil // Wait's goroutine reports why
		case <-deadline.C:
			return fmt.Errorf("gatehouse serve: %s not ready within 60s", u)
		case <-tick.C:
		}
	}
}

// withoutGatehouseEnv drops GATEHOUSE_* variables, so the demo's settings
// are the only ones gatehouse sees.
func withoutGatehouseEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			out = append(out, kv)
		}
	}
	return out
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a port for gatehouse: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// findGatehouse returns the gatehouse binary to run: explicit if set; else
// one built from the gatehouse checkout around the working directory (so
// "go run ./cmd/gatehouse-dev demo" runs the code at hand); else the
// gatehouse beside this executable; else the one on PATH.
func findGatehouse(ctx context.Context, explicit string, logw io.Writer) (string, error) {
	if explicit != "" {
		if _, err := exec.LookPath(explicit); err != nil {
			return "", fmt.Errorf("--gatehouse: %w", err)
		}
		return explicit, nil
	}
	wd, err := os.Getwd()
	if err == nil {
		if root, ok := moduleRoot(wd); ok {
			return buildGatehouse(ctx, root, logw)
		}
	}
	if self, err := os.Executable(); err == nil {
		beside := filepath.Join(filepath.Dir(self), "gatehouse")
		if _, err := exec.LookPath(beside); err == nil {
			return beside, nil
		}
	}
	if p, err := exec.LookPath("gatehouse"); err == nil {
		return p, nil
	}
	return "", errors.New("--gatehouse: no gatehouse binary found (not in a gatehouse checkout, none beside gatehouse-dev, none on PATH); " +
		"install it with go install " + modulePath + "/cmd/gatehouse@latest or pass --gatehouse PATH")
}

// moduleRoot finds the directory at or above dir whose go.mod declares
// gatehouse's module.
func moduleRoot(dir string) (string, bool) {
	for {
		if f, err := os.Open(filepath.Join(dir, "go.mod")); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "module ") {
					f.Close()
					name := strings.Trim(strings.TrimSpace(strings.TrimPrefix(line, "module ")), `"`)
					return dir, name == modulePath
				}
			}
			f.Close()
			return "", false // a go.mod without a module line: not ours
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// buildGatehouse builds ./cmd/gatehouse of the checkout at root into the
// user's cache folder and returns the binary's path.
func buildGatehouse(ctx context.Context, root string, logw io.Writer) (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("building gatehouse from %s: the go command is not on PATH (or pass --gatehouse PATH): %w", root, err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	out := filepath.Join(cache, "gatehouse-dev", "gatehouse")
	fmt.Fprintf(logw, "gatehouse-dev: building gatehouse from %s (the first build takes a minute)\n", root)
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", out, "./cmd/gatehouse")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = logw, logw
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/gatehouse in %s: %w", root, err)
	}
	return out, nil
}
