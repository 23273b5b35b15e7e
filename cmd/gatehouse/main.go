// Command gatehouse is a forward-auth / single sign-on gate: reverse proxies
// ask it, for every request, whether the request may pass.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/gatehouse/gatehouse/internal/cli"
	"github.com/gatehouse/gatehouse/internal/config"
)

const usage = `gatehouse puts single sign-on in front of internal web apps.

Usage:
  gatehouse <command> [flags]

Commands:
  serve          run the service (forward-auth, auth-request, ext_authz, /oauth2/ login)
  check-config   validate a configuration (file or environment), list every problem; --probe contacts the provider and Redis
  sessions       list and revoke sessions through the admin API of a running gatehouse
  policy         explain a decision, or test a policy against a table of expectations
  healthcheck    probe a running gatehouse (for container health checks)
  migrate        migrate oauth2-proxy: convert an oauth2-proxy configuration to gatehouse's YAML
  version        print the version, commit and build date

The local demo and the development OpenID provider are a separate command,
kept out of this binary: go run ./cmd/gatehouse-dev demo (or dev-provider).

Run "gatehouse <command> --help" for a command's flags.

Every setting can also come from an environment variable named GATEHOUSE_
followed by its YAML path in upper snake case (oidc.issuer_url becomes
GATEHOUSE_OIDC_ISSUER_URL); secrets can be read from files with the *_file
settings (oidc.client_secret_file, cookie.secrets_file, redis.password_file).
`

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "serve" || os.Args[1] == "check-config") {
		for _, w := range config.EnvWarnings(os.Environ()) {
			fmt.Fprintf(os.Stderr, "gatehouse: warning: %s\n", w)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	os.Exit(code)
}

// run executes one command and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "serve":
		err = serveCmd(ctx, rest, stderr, lookup)
	case "sessions":
		err = sessionsCmd(ctx, rest, stdout, stderr, lookup)
	case "policy":
		err = policyCmd(ctx, rest, stdout, stderr, lookup)
	case "check-config":
		err = checkConfigCmd(ctx, rest, stdout, stderr, lookup)
	case "healthcheck":
		err = healthcheckCmd(ctx, rest, stdout, stderr, lookup)
	case "migrate":
		err = migrateCmd(rest, stdout, stderr, os.Environ)
	case "version", "--version":
		err = versionCmd(rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "gatehouse: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	return cli.ExitCode("gatehouse", err, stderr)
}

// errUsage, newFlagSet and parseFlags are the cli package's, for this
// command.
var errUsage = cli.ErrUsage

func newFlagSet(name, synopsis string, out io.Writer) *flag.FlagSet {
	return cli.NewFlagSet("gatehouse", name, synopsis, out)
}

func parseFlags(fs *flag.FlagSet, args []string) error { return cli.ParseFlags(fs, args) }
