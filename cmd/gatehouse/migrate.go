package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gatehouse/gatehouse/internal/migrate"
)

// errNotCarried is migrate's exit 1: a security-relevant setting could not
// be carried. The configuration is still printed.
var errNotCarried = errors.New("security-relevant oauth2-proxy settings were not carried (listed above and at the top of the configuration): review them before using it")

// stringsFlag is a repeatable string flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

func migrateCmd(args []string, stdout, stderr io.Writer, environ func() []string) error {
	if len(args) == 0 || args[0] != "oauth2-proxy" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, migrateUsage)
			return flag.ErrHelp
		}
		fmt.Fprint(stderr, migrateUsage)
		return errUsage
	}
	fs := newFlagSet("migrate oauth2-proxy [flags] [-- oauth2-proxy flags...]",
		"Reads an oauth2-proxy configuration (its TOML file, OAUTH2_PROXY_* variables from\n"+
			"the environment, env files or a docker-compose service, and its command-line\n"+
			"flags, in that order of precedence) and prints the equivalent gatehouse YAML on\n"+
			"stdout, with a comment on every setting. Secrets are carried as references\n"+
			"(GATEHOUSE_* variables or files), never printed. Exits 1 when a security-relevant\n"+
			"setting cannot be carried (the configuration is still printed, saying which).", stderr)
	useEnv := fs.Bool("env", false, "read the OAUTH2_PROXY_* variables of this process's environment")
	var envFiles stringsFlag
	fs.Var(&envFiles, "env-file", "read OAUTH2_PROXY_* variables from this env file (KEY=VALUE lines); repeatable")
	compose := fs.String("compose", "", "read the oauth2-proxy service of this docker-compose file (environment, env_file, command)")
	service := fs.String("service", "", "with --compose: the service's name, when it is not found by its image or variables")
	tomlFile := fs.String("config", "", "read oauth2-proxy's TOML config file")
	redirectURL := fs.String("redirect-url", "", "gatehouse's callback URL (https://HOST/oauth2/callback) when the configuration has no redirect_url")
	secretsDir := fs.String("secrets-dir", "", "carry secrets as files in this folder (oidc.client_secret_file, ...) instead of GATEHOUSE_* variables")
	rest := args[1:]
	var proxyFlags []string
	for i, a := range rest {
		if a == "--" {
			rest, proxyFlags = rest[:i], rest[i+1:]
			break
		}
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if !*useEnv && len(envFiles) == 0 && *compose == "" && *tomlFile == "" && len(proxyFlags) == 0 {
		fmt.Fprintln(stderr, "migrate oauth2-proxy: nothing to read: give --env, --env-file, --compose, --config or oauth2-proxy's flags after --")
		fs.Usage()
		return errUsage
	}
	settings, err := readOAuth2Proxy(oauth2ProxySources{
		env: *useEnv, environ: environ, envFiles: envFiles, compose: *compose, service: *service,
		toml: *tomlFile, flags: proxyFlags,
	})
	if err != nil {
		return fmt.Errorf("migrate oauth2-proxy: %w", err)
	}
	if settings.Len() == 0 {
		return errors.New("migrate oauth2-proxy: no oauth2-proxy settings found in what was given")
	}
	res, err := migrate.Convert(settings, migrate.Options{
		RedirectURL: *redirectURL,
		SecretsDir:  *secretsDir,
		ReadFile:    os.ReadFile,
	})
	if err != nil {
		return fmt.Errorf("migrate oauth2-proxy: %w", err)
	}
	if _, err := stdout.Write(res.YAML); err != nil {
		return err
	}
	summarize(stderr, settings.Len(), res)
	if res.Blocked() {
		return errNotCarried
	}
	return nil
}

const migrateUsage = `Usage: gatehouse migrate oauth2-proxy [flags] [-- oauth2-proxy flags...]

Converts an oauth2-proxy configuration into gatehouse's; run
"gatehouse migrate oauth2-proxy --help" for the flags.
`

// oauth2ProxySources are the places an oauth2-proxy configuration is read
// from.
type oauth2ProxySources struct {
	env      bool
	environ  func() []string
	envFiles []string
	compose  string
	service  string
	toml     string
	flags    []string
}

// readOAuth2Proxy reads every source given, in oauth2-proxy's precedence:
// config file, then environment, then flags.
func readOAuth2Proxy(src oauth2ProxySources) (*migrate.Settings, error) {
	var environ []string
	flags := src.flags
	if src.env {
		environ = append(environ, src.environ()...)
	}
	for _, f := range src.envFiles {
		env, err := readEnvFile(f)
		if err != nil {
			return nil, err
		}
		environ = append(environ, env...)
	}
	if src.compose != "" {
		data, err := os.ReadFile(src.compose)
		if err != nil {
			return nil, err
		}
		svc, err := migrate.FromCompose(data, src.service)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src.compose, err)
		}
		for _, f := range svc.EnvFiles {
			if !filepath.IsAbs(f) {
				f = filepath.Join(filepath.Dir(src.compose), f)
			}
			env, err := readEnvFile(f)
			if err != nil {
				return nil, err
			}
			environ = append(environ, env...)
		}
		// The service's environment: wins over its env_file, as in compose.
		environ = append(environ, svc.Environment...)
		flags = append(append([]string(nil), svc.Command...), flags...)
	}
	fromFlags, configFile, err := migrate.FromFlags(flags)
	if err != nil {
		return nil, fmt.Errorf("oauth2-proxy flags: %w", err)
	}
	fromEnv, err := migrate.FromEnv(environ)
	if err != nil {
		return nil, err
	}
	tomlFile := src.toml
	if tomlFile == "" {
		tomlFile = configFile
		if st, ok := fromEnv.Get("config"); ok && tomlFile == "" {
			tomlFile = st.Value()
		}
	}
	s := migrate.NewSettings()
	if tomlFile != "" {
		data, err := os.ReadFile(tomlFile)
		if err != nil {
			return nil, fmt.Errorf("oauth2-proxy config file: %w", err)
		}
		fromFile, err := migrate.FromTOML(data, filepath.Base(tomlFile))
		if err != nil {
			return nil, err
		}
		s.Merge(fromFile)
	}
	s.Merge(fromEnv)
	s.Merge(fromFlags)
	return s, nil
}

func readEnvFile(name string) ([]string, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	env, err := migrate.ParseEnvFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return env, nil
}

// summarize tells stderr what needs a person: the settings not carried
// for security, those that need attention, and the variables to set.
func summarize(w io.Writer, read int, res *migrate.Result) {
	count := map[migrate.Severity]int{}
	for _, n := range res.Notes {
		count[n.Severity]++
	}
	fmt.Fprintf(w, "gatehouse migrate: %d oauth2-proxy settings read; %d not carried for security, %d need attention, %d dropped as not needed\n",
		read, count[migrate.Blocked], count[migrate.Attention], count[migrate.Dropped])
	for _, sev := range []migrate.Severity{migrate.Blocked, migrate.Attention} {
		for _, n := range res.Notes {
			if n.Severity == sev {
				fmt.Fprintf(w, "  %s: %s: %s\n", sev, n.Setting, n.Text)
			}
		}
	}
	for _, e := range res.Env {
		fmt.Fprintf(w, "  set %s: %s\n", e.Name, e.What)
	}
}
