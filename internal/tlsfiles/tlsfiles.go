// Package tlsfiles builds TLS configurations from PEM files: a server's
// certificate with optional client verification (mTLS), a client's roots
// and optional certificate, and the CA pools both use. TLS 1.2 is the
// minimum everywhere; every file read is bounded.
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/limitedfile"
)

// MaxPEMSize bounds each certificate, key or CA file read.
const MaxPEMSize = 1 << 20

// ServerFiles names a server's PEM files. ClientCAFile, if set, turns on
// mTLS: clients must present a certificate signed by one of its CAs.
type ServerFiles struct {
	CertFile, KeyFile, ClientCAFile string
}

// ClientFiles names a client's PEM files and the server name it verifies.
// CAFile, if set, replaces the system roots; CertFile and KeyFile, if set,
// are the client's own certificate (for mTLS).
type ClientFiles struct {
	ServerName        string
	CAFile            string
	CertFile, KeyFile string
}

// Server returns the TLS configuration of a server. Errors name the field
// at fault by its config key (cert_file, key_file, client_ca_file).
func Server(f ServerFiles) (*tls.Config, error) {
	if f.CertFile == "" || f.KeyFile == "" {
		return nil, errors.New("cert_file and key_file are both required")
	}
	cert, err := KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, err
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if f.ClientCAFile != "" {
		pool, err := CertPool(f.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("client_ca_file: %w", err)
		}
		c.ClientCAs = pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// Client returns the TLS configuration of a client. Errors name the field at
// fault by its config key (ca_file, cert_file, key_file).
func Client(f ClientFiles) (*tls.Config, error) {
	if (f.CertFile == "") != (f.KeyFile == "") {
		return nil, errors.New("a client certificate needs both cert_file and key_file")
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.ServerName}
	if f.CAFile != "" {
		pool, err := CertPool(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		c.RootCAs = pool
	}
	if f.CertFile != "" {
		cert, err := KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, err
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// KeyPair loads a certificate (chain) and its private key from PEM files.
func KeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := limitedfile.Read(certFile, MaxPEMSize)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cert_file: %w", err)
	}
	keyPEM, err := limitedfile.Read(keyFile, MaxPEMSize)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("key_file: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cert_file %s, key_file %s: %w", certFile, keyFile, err)
	}
	return cert, nil
}

// CertPool reads the PEM certificates in path into a pool; a file without
// any is an error.
func CertPool(path string) (*x509.CertPool, error) {
	pem, err := limitedfile.Read(path, MaxPEMSize)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no PEM certificates in %s", path)
	}
	return pool, nil
}
