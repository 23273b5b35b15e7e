package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/grpc/status"

	adminv1 "github.com/gatehouse/gatehouse/gen/gatehouse/admin/v1"
	"github.com/gatehouse/gatehouse/internal/admin"
)

const sessionsUsage = `Usage: gatehouse sessions <command> [flags]

Finds and ends signed-in sessions through the admin API of a running
gatehouse (its admin listener, admin.addr). A session is named by its handle,
a hash of the session ID that the list shows; the ID itself never leaves the
browser and the store.

Commands:
  list --email X | --subject X [--issuer X]         list a user's sessions
  get HANDLE                                         show one session
  revoke HANDLE                                      end one session
  revoke-user --email X | --subject X [--issuer X]   end every session of a user

Connection flags (every command):
  --admin-addr HOST:PORT   admin listener (default 127.0.0.1:4181, or $GATEHOUSE_ADMIN_ADDR)
  --token-file FILE        bearer token file (or $GATEHOUSE_ADMIN_TOKEN_FILE)
  --ca-file FILE           CA that signed the admin server's certificate (turns TLS on)
  --cert-file, --key-file  client certificate and key, for mTLS (turn TLS on)
  --server-name NAME       name to verify in the server's certificate
  --timeout DURATION       give up after this long (default 30s)
  --json                   print JSON instead of a table

Run "gatehouse sessions <command> --help" for a command's flags.
`

// Environment variables the sessions command reads for its defaults.
const (
	envAdminAddr      = "GATEHOUSE_ADMIN_ADDR"
	envAdminTokenFile = "GATEHOUSE_ADMIN_TOKEN_FILE"
	defaultAdminAddr  = "127.0.0.1:4181"
	// listMax bounds how many sessions "list" fetches over all pages.
	listMax = 10_000
)

// sessionsCmd runs "gatehouse sessions ...": the admin API's command line.
func sessionsCmd(ctx context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, sessionsUsage)
		return errUsage
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "list":
		return sessionsList(ctx, rest, stdout, stderr, lookup)
	case "get":
		return sessionsGet(ctx, rest, stdout, stderr, lookup)
	case "revoke":
		return sessionsRevoke(ctx, rest, stdout, stderr, lookup)
	case "revoke-user":
		return sessionsRevokeUser(ctx, rest, stdout, stderr, lookup)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stderr, sessionsUsage)
		return flag.ErrHelp
	default:
		fmt.Fprintf(stderr, "gatehouse sessions: unknown command %q\n\n%s", sub, sessionsUsage)
		return errUsage
	}
}

// adminFlags are the connection flags every sessions command takes.
type adminFlags struct {
	opts    admin.ClientOptions
	timeout time.Duration
	json    bool
}

func (a *adminFlags) register(fs *flag.FlagSet, lookup func(string) (string, bool)) {
	addr := defaultAdminAddr
	if v, ok := lookup(envAdminAddr); ok && v != "" {
		addr = v
	}
	tokenFile, _ := lookup(envAdminTokenFile)
	fs.StringVar(&a.opts.Addr, "admin-addr", addr, "admin listener host:port (env "+envAdminAddr+")")
	fs.StringVar(&a.opts.TokenFile, "token-file", tokenFile, "file holding the admin bearer token (env "+envAdminTokenFile+")")
	fs.StringVar(&a.opts.CAFile, "ca-file", "", "PEM CA that signed the admin server's certificate; turns TLS on")
	fs.StringVar(&a.opts.CertFile, "cert-file", "", "PEM client certificate for mTLS; turns TLS on")
	fs.StringVar(&a.opts.KeyFile, "key-file", "", "PEM key of --cert-file")
	fs.StringVar(&a.opts.ServerName, "server-name", "", "name to verify in the server's certificate (default: the host of --admin-addr)")
	fs.DurationVar(&a.timeout, "timeout", 30*time.Second, "give up after this long")
	fs.BoolVar(&a.json, "json", false, "print JSON instead of a table")
}

// call connects with the flags' options and runs fn with a context bounded
// by --timeout, closing the connection afterwards.
func (a *adminFlags) call(ctx context.Context, fn func(ctx context.Context, c *admin.Client) error) error {
	if a.timeout <= 0 {
		return fmt.Errorf("--timeout must be positive")
	}
	c, err := admin.Dial(a.opts)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	return fn(ctx, c)
}

// userFlags select one user.
type userFlags struct{ issuer, subject, email string }

func (u *userFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&u.email, "email", "", "the user's email address")
	fs.StringVar(&u.subject, "subject", "", "the user's subject (sub claim)")
	fs.StringVar(&u.issuer, "issuer", "", "only sessions from this OpenID provider (iss claim)")
}

func (u *userFlags) check(fs *flag.FlagSet) error {
	if u.email == "" && u.subject == "" {
		fmt.Fprintln(fs.Output(), "--email or --subject is required")
		fs.Usage()
		return errUsage
	}
	return nil
}

func sessionsList(ctx context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) error {
	fs := newFlagSet("sessions list --email X | --subject X [--issuer X] [flags]",
		"Lists the live sessions of one user (all pages, up to --max), in the store's order.", stderr)
	var af adminFlags
	var uf userFlags
	af.register(fs, lookup)
	uf.register(fs)
	limit := fs.Int("max", 1000, fmt.Sprintf("list at most this many sessions (1..%d)", listMax))
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := uf.check(fs); err != nil {
		return err
	}
	if *limit < 1 || *limit > listMax {
		fmt.Fprintf(stderr, "--max must be between 1 and %d\n", listMax)
		return errUsage
	}
	return af.call(ctx, func(ctx context.Context, c *admin.Client) error {
		var all []*adminv1.Session
		token := ""
		for {
			size := min(*limit-len(all), admin.MaxPageSize)
			resp, err := c.ListSessions(ctx, &adminv1.ListSessionsRequest{
				Issuer: uf.issuer, Subject: uf.subject, Email: uf.email,
				PageSize: int32(size), PageToken: token,
			})
			if err != nil {
				return rpcError("list sessions", err)
			}
			all = append(all, resp.GetSessions()...)
			token = resp.GetNextPageToken()
			if token == "" {
				break
			}
			if len(all) >= *limit {
				fmt.Fprintf(stderr, "showing the first %d sessions; raise --max for more\n", len(all))
				break
			}
		}
		if af.json {
			return writeJSON(stdout, sessionsJSON(all))
		}
		if len(all) == 0 {
			fmt.Fprintln(stdout, "no sessions")
			return nil
		}
		return writeTable(stdout, all)
	})
}

// handleArg parses flags around one positional HANDLE argument, so both
// "revoke HANDLE --json" and "revoke --json HANDLE" work.
func handleArg(fs *flag.FlagSet, args []string) (string, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", err
		}
		return "", errUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(fs.Output(), "a session HANDLE is required")
		fs.Usage()
		return "", errUsage
	}
	handle := fs.Arg(0)
	if err := parseFlags(fs, fs.Args()[1:]); err != nil {
		return "", err
	}
	return handle, nil
}

func sessionsGet(ctx context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) error {
	fs := newFlagSet("sessions get HANDLE [flags]", "Shows one session by its handle.", stderr)
	var af adminFlags
	af.register(fs, lookup)
	handle, err := handleArg(fs, args)
	if err != nil {
		return err
	}
	return af.call(ctx, func(ctx context.Context, c *admin.Client) error {
		resp, err := c.GetSession(ctx, &adminv1.GetSessionRequest{Handle: handle})
		if err != nil {
			return rpcError("get session", err)
		}
		if af.json {
			return writeJSON(stdout, sessionJSON(resp.GetSession()))
		}
		return writeDetail(stdout, resp.GetSession())
	})
}

func sessionsRevoke(ctx context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) error {
	fs := newFlagSet("sessions revoke HANDLE [flags]",
		"Ends one session by its handle, on every replica. Fails if no live session has it.", stderr)
	var af adminFlags
	af.register(fs, lookup)
	handle, err := handleArg(fs, args)
	if err != nil {
		return err
	}
	return af.call(ctx, func(ctx context.Context, c *admin.Client) error {
		if _, err := c.RevokeSession(ctx, &adminv1.RevokeSessionRequest{Handle: handle}); err != nil {
			return rpcError("revoke session", err)
		}
		if af.json {
			return writeJSON(stdout, map[string]any{"revoked": handle})
		}
		fmt.Fprintf(stdout, "revoked session %s\n", handle)
		return nil
	})
}

func sessionsRevokeUser(ctx context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) error {
	fs := newFlagSet("sessions revoke-user --email X | --subject X [--issuer X] [flags]",
		"Ends every session of one user, on every replica. With --email, every user\n"+
			"(issuer and subject) that has a session with that email is signed out everywhere.", stderr)
	var af adminFlags
	var uf userFlags
	af.register(fs, lookup)
	uf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := uf.check(fs); err != nil {
		return err
	}
	return af.call(ctx, func(ctx context.Context, c *admin.Client) error {
		resp, err := c.RevokeUserSessions(ctx, &adminv1.RevokeUserSessionsRequest{
			Issuer: uf.issuer, Subject: uf.subject, Email: uf.email,
		})
		if err != nil {
			return rpcError("revoke user sessions", err)
		}
		if af.json {
			return writeJSON(stdout, map[string]any{"revoked_count": resp.GetRevokedCount()})
		}
		fmt.Fprintf(stdout, "revoked %d session(s)\n", resp.GetRevokedCount())
		return nil
	})
}

// rpcError turns a gRPC error into a short message: the code and the
// server's reason.
func rpcError(op string, err error) error {
	st := status.Convert(err)
	return fmt.Errorf("%s: %s: %s", op, st.Code(), st.Message())
}

// sessionOut is a session as the command prints it in JSON.
type sessionOut struct {
	Handle            string   `json:"handle"`
	Issuer            string   `json:"issuer"`
	Subject           string   `json:"subject"`
	Email             string   `json:"email,omitempty"`
	User              string   `json:"user,omitempty"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
	Groups            []string `json:"groups,omitempty"`
	SID               string   `json:"sid,omitempty"`
	CreatedAt         string   `json:"created_at,omitempty"`
	ExpiresAt         string   `json:"expires_at,omitempty"`
}

func sessionJSON(s *adminv1.Session) sessionOut {
	return sessionOut{
		Handle: s.GetHandle(), Issuer: s.GetIssuer(), Subject: s.GetSubject(),
		Email: s.GetEmail(), User: s.GetUser(), PreferredUsername: s.GetPreferredUsername(),
		Groups: s.GetGroups(), SID: s.GetSid(),
		CreatedAt: formatTime(s, true), ExpiresAt: formatTime(s, false),
	}
}

func sessionsJSON(list []*adminv1.Session) []sessionOut {
	out := make([]sessionOut, 0, len(list))
	for _, s := range list {
		out = append(out, sessionJSON(s))
	}
	return out
}

// formatTime returns the session's creation (or expiry) time in RFC 3339,
// UTC, or "" when unset.
func formatTime(s *adminv1.Session, created bool) string {
	ts := s.GetExpiresAt()
	if created {
		ts = s.GetCreatedAt()
	}
	if ts == nil {
		return ""
	}
	return ts.AsTime().UTC().Format(time.RFC3339)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeTable(w io.Writer, list []*adminv1.Session) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HANDLE\tEMAIL\tSUBJECT\tISSUER\tCREATED\tEXPIRES")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.GetHandle(), dash(s.GetEmail()), dash(s.GetSubject()),
			dash(s.GetIssuer()), dash(formatTime(s, true)), dash(formatTime(s, false)))
	}
	return tw.Flush()
}

func writeDetail(w io.Writer, s *adminv1.Session) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, row := range [][2]string{
		{"handle", s.GetHandle()},
		{"issuer", s.GetIssuer()},
		{"subject", s.GetSubject()},
		{"email", s.GetEmail()},
		{"user", s.GetUser()},
		{"preferred_username", s.GetPreferredUsername()},
		{"groups", strings.Join(s.GetGroups(), ", ")},
		{"sid", s.GetSid()},
		{"created_at", formatTime(s, true)},
		{"expires_at", formatTime(s, false)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], dash(row[1]))
	}
	return tw.Flush()
}

// dash shows an empty value as "-" so table columns stay aligned, and
// replaces control characters (which an identity provider's claims could
// carry) so that nothing printed can drive the terminal.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return '?'
		}
		return r
	}, s)
}
