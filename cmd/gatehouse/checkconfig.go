package main

import (
	"fmt"
	"io"

	"github.com/gatehouse/gatehouse/internal/config"
)

func checkConfigCmd(args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) error {
	fs := newFlagSet("check-config --config FILE",
		"Validates the configuration (file, GATEHOUSE_* environment and *_file secrets)\n"+
			"and lists every problem by its YAML path. Exits 1 if there is any.", stderr)
	path := fs.String("config", "", "path of the YAML configuration file (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" {
		fmt.Fprintln(stderr, "check-config: --config is required")
		fs.Usage()
		return errUsage
	}
	cfg, err := config.Load(*path, lookup)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: configuration is valid\n", *path)
	if cfg.AdmitsNobody() {
		fmt.Fprintln(stdout, "warning: access.email_domains, access.emails and access.groups are empty and access.allow_any_authenticated is false: every signed-in user will get 403")
	}
	return nil
}
