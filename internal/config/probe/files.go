package probe

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/limitedfile"
	"github.com/gatehouse/gatehouse/internal/tlsfiles"
)

// files checks the TLS, CA and token files of cfg.
func (p *prober) files(cfg *config.Config) []Finding {
	var out []Finding
	out = append(out, p.serverTLS("admin.tls", cfg.Admin.TLS)...)
	out = append(out, p.serverTLS("grpc.tls", cfg.GRPC.TLS)...)
	if cfg.Session.Store == "redis" && cfg.Redis.TLS.Enabled && cfg.Redis.TLS.CAFile != "" {
		out = append(out, p.caFile("redis.tls.ca_file", cfg.Redis.TLS.CAFile)...)
	}
	if cfg.Admin.Addr != "" && cfg.Admin.TokenFile != "" {
		if _, err := admin.ReadTokenFile(cfg.Admin.TokenFile); err != nil {
			out = append(out, fail("admin.token_file", "%v", err))
		}
	}
	return out
}

// serverTLS loads a listener's certificate and key, as the listener will,
// and checks the certificate's validity period and the client CA file.
func (p *prober) serverTLS(path string, t config.ServerTLS) []Finding {
	if t.CertFile == "" || t.KeyFile == "" {
		return nil
	}
	var out []Finding
	cert, err := tlsfiles.KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		// The error names cert_file or key_file; a key that does not match
		// the certificate is reported by tls.X509KeyPair.
		out = append(out, fail(path, "%v", err))
	} else if cert.Leaf != nil {
		out = append(out, p.validity(path+".cert_file", t.CertFile, cert.Leaf)...)
	}
	if t.ClientCAFile != "" {
		out = append(out, p.caFile(path+".client_ca_file", t.ClientCAFile)...)
	}
	return out
}

// caFile reads the CA certificates at file and checks each one's validity.
func (p *prober) caFile(path, file string) []Finding {
	data, err := limitedfile.Read(file, tlsfiles.MaxPEMSize)
	if err != nil {
		return []Finding{fail(path, "%v", err)}
	}
	var out []Finding
	n := 0
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			out = append(out, fail(path, "%s: certificate %d: %v", file, n+1, err))
			continue
		}
		n++
		out = append(out, p.validity(path, file, c)...)
	}
	if n == 0 && len(out) == 0 {
		out = append(out, fail(path, "no PEM certificates in %s", file))
	}
	return out
}

// validity checks that c, read from file, is valid now and not about to
// expire.
func (p *prober) validity(path, file string, c *x509.Certificate) []Finding {
	now := p.opts.Now()
	name := fmt.Sprintf("%s (%s)", file, c.Subject.String())
	switch {
	case now.After(c.NotAfter):
		return []Finding{fail(path, "%s expired on %s", name, c.NotAfter.UTC().Format(time.DateOnly))}
	case now.Before(c.NotBefore):
		return []Finding{fail(path, "%s is not valid before %s", name, c.NotBefore.UTC().Format(time.RFC3339))}
	case c.NotAfter.Sub(now) < expirySoon:
		return []Finding{warn(path, "%s expires on %s, in %d days", name, c.NotAfter.UTC().Format(time.DateOnly), int(c.NotAfter.Sub(now).Hours()/24))}
	}
	return nil
}
