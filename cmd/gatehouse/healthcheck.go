package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
)

// healthcheckCmd probes a running gatehouse, for container HEALTHCHECKs in
// images that have no shell or curl.
func healthcheckCmd(ctx context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) error {
	fs := newFlagSet("healthcheck [--config FILE] [--url URL]",
		"Exits 0 when the gatehouse at URL answers 200, 1 otherwise. The default URL is\n"+
			"http://<listen address>/healthz, the listen address being http.addr of\n"+
			"--config FILE (read as serve reads it, GATEHOUSE_* variables included), else\n"+
			"GATEHOUSE_HTTP_ADDR, else 127.0.0.1:4180; a wildcard address (:4180,\n"+
			"0.0.0.0:4180, [::]:4180) is probed on loopback. Use --url .../readyz to also\n"+
			"require the session store and the OpenID provider.", stderr)
	path := fs.String("config", "", "read the listen address (http.addr) from this config file")
	target := fs.String("url", "", "URL to probe (default: from --config or GATEHOUSE_HTTP_ADDR)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *target == "" {
		addr := "127.0.0.1:4180"
		if *path != "" {
			cfg, err := config.Load(*path, lookup)
			if err != nil {
				return fmt.Errorf("--config: %w", err)
			}
			addr = cfg.HTTP.Addr
		} else if v, ok := lookup("GATEHOUSE_HTTP_ADDR"); ok && v != "" {
			addr = v
		}
		*target = "http://" + probeAddr(addr) + "/healthz"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *target, nil)
	if err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("unhealthy: %s answered %s", *target, resp.Status)
	}
	fmt.Fprintln(stdout, "healthy")
	return nil
}

// probeAddr is where to reach a server listening on addr: a wildcard host
// (none, 0.0.0.0 or ::) is reached on loopback of the same family.
func probeAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr // not host:port; the request will say what is wrong
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}
