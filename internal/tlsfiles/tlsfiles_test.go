package tlsfiles_test

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/limitedfile"
	"github.com/gatehouse/gatehouse/internal/testpki"
	"github.com/gatehouse/gatehouse/internal/tlsfiles"
)

// handshake runs a TLS handshake between the two configurations over an
// in-memory connection (with a 5 s deadline) and returns the first error of
// either side. The server sends one byte once it accepts the client: with
// TLS 1.3 the client learns of a refused certificate only when it reads.
func handshake(t *testing.T, server, client *tls.Config) error {
	t.Helper()
	sc, cc := net.Pipe()
	deadline := time.Now().Add(5 * time.Second)
	_ = sc.SetDeadline(deadline)
	_ = cc.SetDeadline(deadline)
	srvErr := make(chan error, 1)
	go func() {
		defer sc.Close()
		s := tls.Server(sc, server)
		err := s.Handshake()
		if err == nil {
			_, err = s.Write([]byte{1})
		}
		srvErr <- err
	}()
	defer cc.Close()
	c := tls.Client(cc, client)
	err := c.Handshake()
	if err == nil {
		_, err = c.Read(make([]byte, 1))
	}
	if err != nil {
		cc.Close() // unblocks the server
	}
	if serr := <-srvErr; err == nil {
		err = serr
	}
	return err
}

func TestMutualTLS(t *testing.T) {
	pki, other := testpki.New(t, "ours"), testpki.New(t, "theirs")
	server, err := tlsfiles.Server(tlsfiles.ServerFiles{CertFile: pki.ServerCertFile, KeyFile: pki.ServerKeyFile, ClientCAFile: pki.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	if server.MinVersion != tls.VersionTLS12 || server.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Fatalf("server config: min version %x, client auth %v", server.MinVersion, server.ClientAuth)
	}
	for name, tc := range map[string]struct {
		files tlsfiles.ClientFiles
		ok    bool
	}{
		"our CA and client certificate": {tlsfiles.ClientFiles{ServerName: "localhost", CAFile: pki.CAFile, CertFile: pki.ClientCertFile, KeyFile: pki.ClientKeyFile}, true},
		"no client certificate":         {tlsfiles.ClientFiles{ServerName: "localhost", CAFile: pki.CAFile}, false},
		"another CA":                    {tlsfiles.ClientFiles{ServerName: "localhost", CAFile: other.CAFile, CertFile: pki.ClientCertFile, KeyFile: pki.ClientKeyFile}, false},
		"another CA's client":           {tlsfiles.ClientFiles{ServerName: "localhost", CAFile: pki.CAFile, CertFile: other.ClientCertFile, KeyFile: other.ClientKeyFile}, false},
		"a name the server lacks":       {tlsfiles.ClientFiles{ServerName: "gatehouse.example", CAFile: pki.CAFile, CertFile: pki.ClientCertFile, KeyFile: pki.ClientKeyFile}, false},
	} {
		t.Run(name, func(t *testing.T) {
			client, err := tlsfiles.Client(tc.files)
			if err != nil {
				t.Fatal(err)
			}
			if client.MinVersion != tls.VersionTLS12 {
				t.Fatalf("client min version %x", client.MinVersion)
			}
			if err := handshake(t, server, client); (err == nil) != tc.ok {
				t.Fatalf("handshake: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestServerWithoutClientCA(t *testing.T) {
	pki := testpki.New(t, "ours")
	server, err := tlsfiles.Server(tlsfiles.ServerFiles{CertFile: pki.ServerCertFile, KeyFile: pki.ServerKeyFile})
	if err != nil {
		t.Fatal(err)
	}
	if server.ClientAuth != tls.NoClientCert {
		t.Fatalf("client auth %v without a client CA", server.ClientAuth)
	}
	client, err := tlsfiles.Client(tlsfiles.ClientFiles{ServerName: "127.0.0.1", CAFile: pki.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(t, server, client); err != nil {
		t.Fatalf("plain TLS: %v", err)
	}
}

func TestBadFiles(t *testing.T) {
	pki := testpki.New(t, "ours")
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notPEM := write("not.pem", "hello\n")
	huge := write("huge.pem", strings.Repeat("-", tlsfiles.MaxPEMSize+1))
	missing := filepath.Join(dir, "missing.pem")
	for name, tc := range map[string]struct {
		build func() error
		want  string // in the error
	}{
		"server without a key": {func() error {
			_, err := tlsfiles.Server(tlsfiles.ServerFiles{CertFile: pki.ServerCertFile})
			return err
		}, "cert_file and key_file"},
		"server key of another certificate": {func() error {
			_, err := tlsfiles.Server(tlsfiles.ServerFiles{CertFile: pki.ServerCertFile, KeyFile: pki.ClientKeyFile})
			return err
		}, "cert_file " + pki.ServerCertFile},
		"server cert file missing": {func() error {
			_, err := tlsfiles.Server(tlsfiles.ServerFiles{CertFile: missing, KeyFile: pki.ServerKeyFile})
			return err
		}, "cert_file: read " + missing},
		"client CA without certificates": {func() error {
			_, err := tlsfiles.Server(tlsfiles.ServerFiles{CertFile: pki.ServerCertFile, KeyFile: pki.ServerKeyFile, ClientCAFile: notPEM})
			return err
		}, "client_ca_file: no PEM certificates in " + notPEM},
		"client CA too large": {func() error {
			_, err := tlsfiles.Server(tlsfiles.ServerFiles{CertFile: pki.ServerCertFile, KeyFile: pki.ServerKeyFile, ClientCAFile: huge})
			return err
		}, "client_ca_file: read " + huge},
		"client CA missing": {func() error {
			_, err := tlsfiles.Client(tlsfiles.ClientFiles{CAFile: missing})
			return err
		}, "ca_file: read " + missing},
		"client certificate without key": {func() error {
			_, err := tlsfiles.Client(tlsfiles.ClientFiles{CertFile: pki.ClientCertFile})
			return err
		}, "needs both cert_file and key_file"},
		"client key file missing": {func() error {
			_, err := tlsfiles.Client(tlsfiles.ClientFiles{CertFile: pki.ClientCertFile, KeyFile: missing})
			return err
		}, "key_file: read " + missing},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.build()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := tlsfiles.CertPool(huge); !errors.Is(err, limitedfile.ErrTooLarge) {
		t.Fatalf("huge CA file: %v, want ErrTooLarge", err)
	}
}
