package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestHealthcheckReadsTheConfigsListenAddress: with --config FILE the
// probe goes to the file's http.addr (a wildcard address on loopback), as
// serve would listen; without it to GATEHOUSE_HTTP_ADDR; --url wins.
func TestHealthcheckReadsTheConfigsListenAddress(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		hits.Add(1)
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()

	withAddr := func(addr string) string {
		return writeTemp(t, "gatehouse.yaml", strings.Replace(docsBase, "http:\n", "http:\n  addr: \""+addr+"\"\n", 1))
	}
	noEnv := func(string) (string, bool) { return "", false }
	env := func(k string) (string, bool) {
		if k == "GATEHOUSE_HTTP_ADDR" {
			return ":" + port, true
		}
		return "", false
	}
	for _, c := range []struct {
		name    string
		args    []string
		lookup  func(string) (string, bool)
		healthy bool
		errHas  string
	}{
		{"--config, wildcard address", []string{"--config", withAddr("0.0.0.0:" + port)}, noEnv, true, ""},
		{"--config, no host", []string{"--config", withAddr(":" + port)}, noEnv, true, ""},
		{"--config, loopback", []string{"--config", withAddr("127.0.0.1:" + port)}, noEnv, true, ""},
		{"--config, nothing listening", []string{"--config", withAddr(deadAddr)}, noEnv, false, deadAddr},
		{"--config, invalid file", []string{"--config", writeTemp(t, "bad.yaml", "oidc: [\n")}, noEnv, false, "--config:"},
		{"--config, missing file", []string{"--config", "/nonexistent/gatehouse.yaml"}, noEnv, false, "--config:"},
		{"GATEHOUSE_HTTP_ADDR", nil, env, true, ""},
		{"--url wins over --config", []string{"--config", withAddr(deadAddr), "--url", srv.URL + "/healthz"}, noEnv, true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := hits.Load()
			var out, errOut bytes.Buffer
			err := healthcheckCmd(context.Background(), c.args, &out, &errOut, c.lookup)
			if c.healthy {
				if err != nil || out.String() != "healthy\n" || hits.Load() != before+1 {
					t.Fatalf("err %v, out %q, hits %d", err, out.String(), hits.Load()-before)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.errHas) {
				t.Fatalf("err %v, want one naming %q", err, c.errHas)
			}
			if hits.Load() != before {
				t.Fatal("the live server was probed")
			}
		})
	}
}

func TestProbeAddr(t *testing.T) {
	for in, want := range map[string]string{
		":4180":          "127.0.0.1:4180",
		"0.0.0.0:4180":   "127.0.0.1:4180",
		"[::]:4180":      "[::1]:4180",
		"10.0.0.5:4180":  "10.0.0.5:4180",
		"localhost:4180": "localhost:4180",
		"[::1]:9":        "[::1]:9",
		"garbage":        "garbage",
	} {
		if got := probeAddr(in); got != want {
			t.Errorf("probeAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
