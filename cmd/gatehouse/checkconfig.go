package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/config/probe"
)

func checkConfigCmd(ctx context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) error {
	fs := newFlagSet("check-config [--config FILE] [--probe]",
		"Validates the configuration (the file, GATEHOUSE_* environment and *_file\n"+
			"secrets; without --config, the environment alone) and lists every problem\n"+
			"and warning by its YAML path. With --probe it also contacts what the\n"+
			"configuration points at: the provider's discovery and keys, the callback's\n"+
			"host, Redis, and the TLS, CA and token files. Exits 1 on any problem or\n"+
			"failed probe; warnings alone do not fail.", stderr)
	path := fs.String("config", "", "path of the YAML configuration file; without it every setting comes from GATEHOUSE_* variables")
	doProbe := fs.Bool("probe", false, "contact the provider, Redis and the TLS files, and report what fails")
	timeout := fs.Duration("probe-timeout", probe.DefaultTimeout, "bound of each probe")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	source := *path
	if source == "" {
		source = "environment"
		fmt.Fprintln(stdout, "no --config file: checking the GATEHOUSE_* environment alone")
	}
	r, err := config.Check(*path, lookup)
	if err != nil {
		return err
	}
	if len(r.Errors) > 0 {
		return invalidConfig{errs: r.Errors, warnings: r.Warnings}
	}
	// The pages' logo and template overrides, read and executed as serve does.
	if _, err := newPages(r.Config, nil); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: configuration is valid\n", source)
	for _, w := range r.Warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	if !*doProbe {
		return nil
	}
	findings := probeConfig(ctx, r.Config, *timeout)
	for _, f := range findings {
		kind := "failed"
		if f.Warning {
			kind = "warning"
		}
		fmt.Fprintf(stdout, "probe %s: %s\n", kind, f)
	}
	if probe.Failed(findings) {
		return errors.New("probes failed (see above)")
	}
	fmt.Fprintln(stdout, "probes passed")
	return nil
}

// probeConfig runs the probes of cfg with a Redis client of its own.
func probeConfig(ctx context.Context, cfg *config.Config, timeout time.Duration) []probe.Finding {
	opts := probe.Options{Timeout: timeout}
	if cfg.Session.Store == "redis" {
		// The client's own retry messages would repeat the probe's finding.
		routeLibraryLogs(slog.New(slog.DiscardHandler))
		rs, err := newRedisStore(cfg)
		if err != nil {
			opts.RedisErr = err
		} else {
			defer rs.Close()
			opts.Redis = rs
		}
	}
	return probe.Run(ctx, cfg, opts)
}

// invalidConfig is a configuration's problems, followed by its warnings.
type invalidConfig struct {
	errs     config.Errors
	warnings config.Warnings
}

func (e invalidConfig) Error() string {
	var b strings.Builder
	b.WriteString(e.errs.Error())
	if n := len(e.warnings); n > 0 {
		fmt.Fprintf(&b, "\nand %d warning", n)
		if n != 1 {
			b.WriteByte('s')
		}
		b.WriteByte(':')
		for _, w := range e.warnings {
			b.WriteString("\n  - ")
			b.WriteString(w.String())
		}
	}
	return b.String()
}

func (e invalidConfig) Unwrap() error { return e.errs }
