package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	adminv1 "github.com/gatehouse/gatehouse/gen/gatehouse/admin/v1"
	"github.com/gatehouse/gatehouse/internal/tlsfiles"
)

// ClientOptions say how to reach and authenticate to the admin API.
type ClientOptions struct {
	// Addr is the admin listener, host:port.
	Addr string
	// TokenFile holds the bearer token to send; empty sends none.
	TokenFile string
	// CAFile verifies the server's certificate; setting it (or CertFile)
	// turns TLS on. With TLS and no CAFile, the system roots are used.
	CAFile string
	// CertFile and KeyFile are the client certificate for mTLS.
	CertFile string
	KeyFile  string
	// ServerName overrides the name checked in the server's certificate.
	ServerName string
	// TLS forces TLS even without CAFile or CertFile (system roots).
	TLS bool
}

// Client is a connection to the admin API.
type Client struct {
	adminv1.SessionServiceClient
	conn *grpc.ClientConn
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Dial returns a client for the admin API. It refuses to send a token in
// clear text to anything but a loopback address.
func Dial(opts ClientOptions) (*Client, error) {
	if opts.Addr == "" {
		return nil, errors.New("admin: no address")
	}
	host, _, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin: address %q: %w", opts.Addr, err)
	}
	useTLS := opts.TLS || opts.CAFile != "" || opts.CertFile != "" || opts.KeyFile != ""
	var dopts []grpc.DialOption
	if useTLS {
		c, err := tlsfiles.Client(tlsfiles.ClientFiles{ServerName: opts.ServerName, CAFile: opts.CAFile, CertFile: opts.CertFile, KeyFile: opts.KeyFile})
		if err != nil {
			return nil, fmt.Errorf("admin: %w", err)
		}
		dopts = append(dopts, grpc.WithTransportCredentials(credentials.NewTLS(c)))
	} else {
		dopts = append(dopts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	if opts.TokenFile != "" {
		if !useTLS && !isLoopback(host) {
			return nil, fmt.Errorf("admin: refusing to send the token in clear text to %s: use TLS (a CA file) or a loopback address", opts.Addr)
		}
		tok, err := ReadTokenFile(opts.TokenFile)
		if err != nil {
			return nil, err
		}
		dopts = append(dopts, grpc.WithPerRPCCredentials(bearer{token: string(tok)}))
	}
	conn, err := grpc.NewClient(opts.Addr, dopts...)
	if err != nil {
		return nil, fmt.Errorf("admin: connect %s: %w", opts.Addr, err)
	}
	return &Client{SessionServiceClient: adminv1.NewSessionServiceClient(conn), conn: conn}, nil
}

// isLoopback reports whether host is "localhost" or a loopback IP.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// bearer sends the token as "authorization: Bearer <token>". Dial decides
// whether clear text is acceptable, so it does not require transport
// security itself.
type bearer struct{ token string }

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

func (b bearer) RequireTransportSecurity() bool { return false }
