package probe

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/testpki"
)

func findingStrings(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		s := f.String()
		if f.Warning {
			s = "warning " + s
		}
		out = append(out, s)
	}
	return out
}

func same(t *testing.T, got []Finding, want ...string) {
	t.Helper()
	g := strings.Join(findingStrings(got), "\n")
	if g != strings.Join(want, "\n") {
		t.Errorf("findings:\ngot\n  %s\nwant\n  %s", strings.ReplaceAll(g, "\n", "\n  "), strings.Join(want, "\n  "))
	}
}

// provider serves a discovery document (edit changes it) and a key set.
func provider(t *testing.T, edit func(base string, doc map[string]any), keys string) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			doc := map[string]any{
				"issuer":                           srv.URL,
				"authorization_endpoint":           srv.URL + "/auth",
				"token_endpoint":                   srv.URL + "/token",
				"jwks_uri":                         srv.URL + "/keys",
				"response_types_supported":         []string{"code"},
				"code_challenge_methods_supported": []string{"S256", "plain"},
			}
			if edit != nil {
				edit(srv.URL, doc)
			}
			_ = json.NewEncoder(w).Encode(doc)
		case "/keys":
			_, _ = w.Write([]byte(keys))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

const goodKeys = `{"keys":[{"kty":"EC","crv":"P-256","x":"x","y":"y"}]}`

func noLookup(context.Context, string) ([]string, error) { return []string{"192.0.2.1"}, nil }

func runProvider(t *testing.T, issuer string) []Finding {
	t.Helper()
	cfg := &config.Config{}
	cfg.OIDC.IssuerURL = issuer
	return Run(context.Background(), cfg, Options{LookupHost: noLookup, Timeout: 2 * time.Second})
}

// TestProvider: each way discovery can be wrong → its exact finding.
func TestProvider(t *testing.T) {
	good := provider(t, nil, goodKeys)
	same(t, runProvider(t, good.URL))

	slash := provider(t, func(base string, doc map[string]any) { doc["issuer"] = base + "/" }, goodKeys)
	same(t, runProvider(t, slash.URL),
		`oidc.issuer_url: discovery at `+slash.URL+`/.well-known/openid-configuration names the issuer "`+slash.URL+`/", not "`+slash.URL+`": sign-in would refuse every token; copy the issuer exactly, trailing slash included`)

	same(t, runProvider(t, good.URL+"/realms/none"),
		"oidc.issuer_url: discovery: GET "+good.URL+"/realms/none/.well-known/openid-configuration: status 404 Not Found")

	partial := provider(t, func(_ string, doc map[string]any) {
		delete(doc, "token_endpoint")
		delete(doc, "jwks_uri")
		doc["response_types_supported"] = []string{"id_token"}
		doc["code_challenge_methods_supported"] = []string{"plain"}
	}, goodKeys)
	where := partial.URL + "/.well-known/openid-configuration"
	same(t, runProvider(t, partial.URL),
		"oidc.issuer_url: discovery at "+where+" has no jwks_uri",
		"oidc.issuer_url: discovery at "+where+" has no token_endpoint",
		"oidc.issuer_url: the provider does not offer the authorization code flow (response_types_supported: [id_token])",
		"warning oidc.issuer_url: the provider lists PKCE methods [plain] without S256, which gatehouse sends")

	noKeys := provider(t, nil, `{"keys":[]}`)
	same(t, runProvider(t, noKeys.URL), "oidc.issuer_url: signing keys: "+noKeys.URL+"/keys holds no key")
	badKeys := provider(t, nil, `<html>`)
	same(t, runProvider(t, badKeys.URL), "oidc.issuer_url: signing keys: GET "+badKeys.URL+"/keys: not a JSON document: invalid character '<' looking for beginning of value")

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	fs := runProvider(t, closed.URL)
	if len(fs) != 1 || !strings.HasPrefix(fs[0].String(), "oidc.issuer_url: discovery: GET "+closed.URL+"/.well-known/openid-configuration: dial tcp") || fs[0].Warning {
		t.Errorf("unreachable provider: %v", findingStrings(fs))
	}
}

// TestProbesAreBounded: a provider that never answers costs the timeout,
// not a hang.
func TestProbesAreBounded(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	cfg := &config.Config{}
	cfg.OIDC.IssuerURL = hang.URL
	start := time.Now()
	fs := Run(context.Background(), cfg, Options{LookupHost: noLookup, Timeout: 200 * time.Millisecond})
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v with a 200ms timeout", took)
	}
	if len(fs) != 1 || !strings.Contains(fs[0].Msg, "context deadline exceeded") {
		t.Errorf("findings %v", findingStrings(fs))
	}
}

// TestBearerIssuers: further token issuers are probed too, by discovery or
// by their jwks_url alone.
func TestBearerIssuers(t *testing.T) {
	good := provider(t, nil, goodKeys)
	empty := provider(t, nil, `{"keys":[]}`)
	cfg := &config.Config{}
	cfg.OIDC.IssuerURL = good.URL
	cfg.Access.Bearer.Issuers = []config.BearerIssuer{
		{IssuerURL: good.URL}, // the provider itself: probed once
		{IssuerURL: "https://ci.example.com", JWKSURL: empty.URL + "/keys"},
		{IssuerURL: good.URL + "/other"},
	}
	same(t, Run(context.Background(), cfg, Options{LookupHost: noLookup}),
		"access.bearer.issuers[1].jwks_url: signing keys: "+empty.URL+"/keys holds no key",
		"access.bearer.issuers[2].issuer_url: discovery: GET "+good.URL+"/other/.well-known/openid-configuration: status 404 Not Found")
}

// TestCallbackHost: the redirect URL's host must resolve; addresses and
// localhost are not looked up.
func TestCallbackHost(t *testing.T) {
	good := provider(t, nil, goodKeys)
	var asked []string
	lookup := func(_ context.Context, host string) ([]string, error) {
		asked = append(asked, host)
		if host == "app.example.com" {
			return []string{"192.0.2.1"}, nil
		}
		return nil, errors.New("no such host")
	}
	for _, tc := range []struct {
		url  string
		want []string
	}{
		{"https://app.example.com/oauth2/callback", nil},
		{"https://app.exmaple.com/oauth2/callback", []string{"oidc.redirect_url: the host app.exmaple.com does not resolve (no such host): browsers coming back from the provider cannot reach gatehouse"}},
		{"http://127.0.0.1:4180/oauth2/callback", nil},
		{"http://localhost:4180/oauth2/callback", nil},
	} {
		cfg := &config.Config{}
		cfg.OIDC.IssuerURL = good.URL
		cfg.OIDC.RedirectURL = tc.url
		same(t, Run(context.Background(), cfg, Options{LookupHost: lookup}), tc.want...)
	}
	if strings.Join(asked, ",") != "app.example.com,app.exmaple.com" {
		t.Errorf("looked up %v", asked)
	}
}

type pinger struct{ err error }

func (p pinger) Ping(context.Context) error { return p.err }

func TestRedis(t *testing.T) {
	good := provider(t, nil, goodKeys)
	cfg := &config.Config{}
	cfg.OIDC.IssuerURL = good.URL
	cfg.Session.Store = "redis"
	cfg.Redis.Addrs = []string{"10.0.0.5:6379"}
	run := func(o Options) []Finding {
		o.LookupHost = noLookup
		return Run(context.Background(), cfg, o)
	}
	same(t, run(Options{Redis: pinger{}}))
	same(t, run(Options{Redis: pinger{errors.New("WRONGPASS invalid username-password pair")}}),
		"redis.addrs: no answer from [10.0.0.5:6379] with the configured credentials and TLS: WRONGPASS invalid username-password pair")
	same(t, run(Options{RedisErr: errors.New("redis.tls.ca_file: no PEM certificates in /x")}),
		"redis: cannot set up the client: redis.tls.ca_file: no PEM certificates in /x")
	cfg.Session.Store = "memory"
	same(t, run(Options{Redis: pinger{errors.New("down")}})) // not used, not probed
}

// cert writes a self-signed certificate valid from notBefore to notAfter,
// and its key, into dir.
func cert(t *testing.T, dir, name string, notBefore, notAfter time.Time) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: name}, NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	for f, b := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "PRIVATE KEY", Bytes: kder}} {
		if err := os.WriteFile(f, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

// TestTLSFiles: the admin and gRPC listeners' files load, match, and are
// valid; CA and token files are usable.
func TestTLSFiles(t *testing.T) {
	good := provider(t, nil, goodKeys)
	pki := testpki.New(t, "probe")
	dir := t.TempDir()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	goodCert, goodKey := cert(t, dir, "good", now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))
	expiredCert, expiredKey := cert(t, dir, "expired", now.AddDate(-1, 0, 0), now.AddDate(0, 0, -3))
	soonCert, _ := cert(t, dir, "soon", now.AddDate(-1, 0, 0), now.AddDate(0, 0, 10))
	futureCert, futureKey := cert(t, dir, "future", now.Add(time.Hour), now.AddDate(1, 0, 0))
	notPEM := filepath.Join(dir, "not.pem")
	shortToken := filepath.Join(dir, "token")
	for f, c := range map[string]string{notPEM: "hello", shortToken: "short"} {
		if err := os.WriteFile(f, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for name, tc := range map[string]struct {
		edit func(c *config.Config)
		want []string
	}{
		"good": {func(c *config.Config) {
			c.Admin.TLS = config.ServerTLS{CertFile: goodCert, KeyFile: goodKey, ClientCAFile: goodCert}
			c.GRPC.TLS = config.ServerTLS{CertFile: goodCert, KeyFile: goodKey}
		}, nil},
		"key of another certificate": {func(c *config.Config) {
			c.Admin.TLS = config.ServerTLS{CertFile: pki.ServerCertFile, KeyFile: pki.ClientKeyFile}
		}, []string{"admin.tls: cert_file " + pki.ServerCertFile + ", key_file " + pki.ClientKeyFile + ": tls: private key does not match public key"}},
		"missing file": {func(c *config.Config) {
			c.GRPC.TLS = config.ServerTLS{CertFile: filepath.Join(dir, "none.pem"), KeyFile: pki.ServerKeyFile}
		}, []string{"grpc.tls: cert_file: read " + filepath.Join(dir, "none.pem") + ": open " + filepath.Join(dir, "none.pem") + ": no such file or directory"}},
		"expired, expiring, not yet valid": {func(c *config.Config) {
			c.Admin.TLS = config.ServerTLS{CertFile: expiredCert, KeyFile: expiredKey, ClientCAFile: soonCert}
			c.GRPC.TLS = config.ServerTLS{CertFile: futureCert, KeyFile: futureKey}
		}, []string{
			"admin.tls.cert_file: " + expiredCert + " (CN=expired) expired on 2026-11-28",
			"warning admin.tls.client_ca_file: " + soonCert + " (CN=soon) expires on 2026-12-11, in 10 days",
			"grpc.tls.cert_file: " + futureCert + " (CN=future) is not valid before 2026-12-01T13:00:00Z",
		}},
		"CA and token files": {func(c *config.Config) {
			c.Session.Store = "redis"
			c.Redis.TLS.Enabled, c.Redis.TLS.CAFile = true, notPEM
			c.Admin.Addr, c.Admin.TokenFile = "127.0.0.1:9090", shortToken
		}, []string{
			"admin.token_file: admin: token file " + shortToken + ": token is 5 bytes, shorter than 32",
			"redis.tls.ca_file: no PEM certificates in " + notPEM,
		}},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := &config.Config{}
			cfg.OIDC.IssuerURL = good.URL
			tc.edit(cfg)
			opts := Options{LookupHost: noLookup, Redis: pinger{}, Now: func() time.Time { return now }}
			same(t, Run(context.Background(), cfg, opts), tc.want...)
		})
	}
}

func TestFailed(t *testing.T) {
	if Failed(nil) || Failed([]Finding{{Warning: true}}) || !Failed([]Finding{{Warning: true}, {}}) {
		t.Error("Failed is wrong")
	}
}
