// Package cli is what gatehouse's commands (gatehouse, gatehouse-dev)
// share: flag sets that print a usage line, the usage error, and the
// mapping of a command's error to an exit code.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// ErrUsage reports a command line that could not be parsed; the usage has
// been printed. It exits with 2.
var ErrUsage = errors.New("usage")

// NewFlagSet returns a flag set for "prog name" that prints a usage line,
// synopsis and its flags to out.
func NewFlagSet(prog, name, synopsis string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: %s %s\n\n%s\n\nFlags:\n", prog, name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// ParseFlags parses args, refusing positional arguments; errors other than
// flag.ErrHelp become ErrUsage.
func ParseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return ErrUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return ErrUsage
	}
	return nil
}

// ExitCode maps a command's error to the process exit code: 0 for none or
// a help request, 2 for ErrUsage, otherwise 1 after printing "prog: err".
func ExitCode(prog string, err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		return 2
	default:
		fmt.Fprintln(stderr, prog+":", err)
		return 1
	}
}
