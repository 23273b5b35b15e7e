package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// healthcheckCmd probes a running gatehouse, for container HEALTHCHECKs in
// images that have no shell or curl.
func healthcheckCmd(ctx context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) error {
	fs := newFlagSet("healthcheck [--url URL]",
		"Exits 0 when the gatehouse at URL answers 200, 1 otherwise. The default URL is\n"+
			"http://<GATEHOUSE_HTTP_ADDR or 127.0.0.1:4180>/healthz; use /readyz to also\n"+
			"require the session store and the OpenID provider.", stderr)
	addr := "127.0.0.1:4180"
	if v, ok := lookup("GATEHOUSE_HTTP_ADDR"); ok && v != "" {
		addr = v
		if len(addr) > 0 && addr[0] == ':' {
			addr = "127.0.0.1" + addr
		} else if len(addr) > 8 && addr[:8] == "0.0.0.0:" {
			addr = "127.0.0.1" + addr[7:]
		}
	}
	url := fs.String("url", "http://"+addr+"/healthz", "URL to probe")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("unhealthy: %s answered %s", *url, resp.Status)
	}
	fmt.Fprintln(stdout, "healthy")
	return nil
}
