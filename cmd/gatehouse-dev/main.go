// Command gatehouse-dev holds gatehouse's development tools, kept out of
// the production binary (cmd/gatehouse) so that neither the development
// OpenID provider nor its dependencies (zitadel/oidc) ship with it:
//
//	gatehouse-dev demo           gatehouse, a development provider, a demo app and a proxy, on loopback
//	gatehouse-dev dev-provider   a development OpenID provider for trying your own configuration
//
// Neither is for production.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gatehouse/gatehouse/internal/cli"
)

const usage = `gatehouse-dev: development tools for gatehouse. NOT FOR PRODUCTION.

Usage:
  gatehouse-dev <command> [flags]

Commands:
  demo           try gatehouse locally: a development OpenID provider, gatehouse
                 (the real "gatehouse serve"), a demo app and a ForwardAuth proxy
  dev-provider   run a development OpenID provider with your users and redirect
                 URIs, and print the gatehouse oidc: settings that use it

Run "gatehouse-dev <command> --help" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "demo":
		err = demoCmd(ctx, rest, stdout, stderr)
	case "dev-provider":
		err = devProviderCmd(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "gatehouse-dev: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	return cli.ExitCode("gatehouse-dev", err, stderr)
}

// newFlagSet and parseFlags are the cli package's, for this command.
func newFlagSet(name, synopsis string, out io.Writer) *flag.FlagSet {
	return cli.NewFlagSet("gatehouse-dev", name, synopsis, out)
}

func parseFlags(fs *flag.FlagSet, args []string) error { return cli.ParseFlags(fs, args) }

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }
