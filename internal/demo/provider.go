package demo

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse/gatehouse/internal/limitedfile"
	"github.com/gatehouse/gatehouse/internal/oidctest"
)

// Defaults of the development provider.
const (
	DefaultProviderListen = "127.0.0.1:9000"
	DefaultClientID       = "gatehouse-dev"
)

// maxProviderFile bounds the development provider's configuration file.
const maxProviderFile = 1 << 20

// ProviderConfig configures the development OpenID provider, from a YAML
// file (LoadProviderFile), flags, or both.
type ProviderConfig struct {
	// Listen is the address to listen on; DefaultProviderListen if empty.
	// Only a loopback address is accepted unless AllowPublic is set.
	Listen string
	// Issuer is the issuer URL; "http://" + Listen if empty.
	Issuer string
	// ClientID is the one client's ID; DefaultClientID if empty.
	ClientID string
	// ClientSecret is the client's secret; a random one if empty.
	ClientSecret string
	// RedirectURIs are the client's accepted redirect_uri values (at least one).
	RedirectURIs []string
	// PostLogoutRedirectURIs are the accepted post_logout_redirect_uri
	// values; if empty, the root URL ("https://host/") of each redirect
	// URI's site, where gatehouse's sign-out returns by default.
	PostLogoutRedirectURIs []string
	// Users are the accounts (at least one).
	Users []ProviderUser
	// AllowPublic allows a listen address that is not loopback. It comes
	// only from the --allow-public flag, never from the file.
	AllowPublic bool
}

// ProviderUser is one account of the development provider.
type ProviderUser struct {
	// Name is the username typed in the login form and the "sub" claim.
	Name     string
	Password string
	Email    string
	Groups   []string
}

// LoadProviderFile reads a development provider file. Its keys are listen,
// issuer, client_id, client_secret, redirect_uris, post_logout_redirect_uris
// and users (a list of name, password, email, groups).
//
// err is a file that cannot be read or is not YAML. problems lists every
// unknown key and every value of the wrong type, each naming the key and
// its line; c then holds the rest, so that the caller can report these
// together with Validate's problems.
func LoadProviderFile(path string) (c ProviderConfig, problems, err error) {
	data, err := limitedfile.Read(path, maxProviderFile)
	if err != nil {
		return c, nil, fmt.Errorf("dev provider file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return c, nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return c, nil, nil // an empty file sets nothing
	}
	return c, decodeProvider(doc.Content[0], &c), nil
}

func decodeProvider(n *yaml.Node, c *ProviderConfig) error {
	fields := map[string]func(*yaml.Node, string) error{
		"listen":                    scalar(&c.Listen),
		"issuer":                    scalar(&c.Issuer),
		"client_id":                 scalar(&c.ClientID),
		"client_secret":             scalar(&c.ClientSecret),
		"redirect_uris":             list(&c.RedirectURIs),
		"post_logout_redirect_uris": list(&c.PostLogoutRedirectURIs),
		"users": func(n *yaml.Node, path string) error {
			if n.Kind != yaml.SequenceNode {
				return fmt.Errorf("%s (line %d): must be a list of users", path, n.Line)
			}
			var errs []error
			for i, item := range n.Content {
				var u ProviderUser
				p := fmt.Sprintf("%s[%d]", path, i)
				errs = append(errs, decodeMap(item, p, map[string]func(*yaml.Node, string) error{
					"name":     scalar(&u.Name),
					"password": scalar(&u.Password),
					"email":    scalar(&u.Email),
					"groups":   list(&u.Groups),
				}))
				c.Users = append(c.Users, u)
			}
			return errors.Join(errs...)
		},
	}
	return decodeMap(n, "", fields)
}

// decodeMap decodes the mapping n key by key, naming every unknown key and
// every bad value by its path (prefix "" is the top level).
func decodeMap(n *yaml.Node, prefix string, fields map[string]func(*yaml.Node, string) error) error {
	where := prefix
	if where == "" {
		where = "the file"
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("%s (line %d): must be a mapping of keys to values", where, n.Line)
	}
	var errs []error
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		path := k.Value
		if prefix != "" {
			path = prefix + "." + k.Value
		}
		f, ok := fields[k.Value]
		if !ok {
			errs = append(errs, fmt.Errorf("%s (line %d): unknown key", path, k.Line))
			continue
		}
		errs = append(errs, f(v, path))
	}
	return errors.Join(errs...)
}

func scalar(dst *string) func(*yaml.Node, string) error {
	return func(n *yaml.Node, path string) error {
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
			return fmt.Errorf("%s (line %d): must be a string", path, n.Line)
		}
		*dst = n.Value
		return nil
	}
}

func list(dst *[]string) func(*yaml.Node, string) error {
	return func(n *yaml.Node, path string) error {
		if n.Kind != yaml.SequenceNode {
			return fmt.Errorf("%s (line %d): must be a list of strings", path, n.Line)
		}
		var errs []error
		for i, item := range n.Content {
			var s string
			errs = append(errs, scalar(&s)(item, fmt.Sprintf("%s[%d]", path, i)))
			*dst = append(*dst, s)
		}
		return errors.Join(errs...)
	}
}

// ParseUser parses the --user flag's NAME:PASSWORD[:EMAIL[:GROUP,GROUP...]].
func ParseUser(s string) (ProviderUser, error) {
	parts := strings.SplitN(s, ":", 4)
	if len(parts) < 2 {
		return ProviderUser{}, fmt.Errorf("--user %q: want NAME:PASSWORD[:EMAIL[:GROUP,GROUP...]]", s)
	}
	u := ProviderUser{Name: parts[0], Password: parts[1]}
	if len(parts) > 2 {
		u.Email = parts[2]
	}
	if len(parts) > 3 && parts[3] != "" {
		u.Groups = strings.Split(parts[3], ",")
	}
	return u, nil
}

// withDefaults returns c with the defaults of empty fields filled in.
func (c ProviderConfig) withDefaults() (ProviderConfig, error) {
	if c.Listen == "" {
		c.Listen = DefaultProviderListen
	}
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if len(c.PostLogoutRedirectURIs) == 0 {
		// gatehouse returns to the sign-out's rd, "/" by default: accept
		// the root of every redirect URI's site.
		for _, r := range c.RedirectURIs {
			if u, err := url.Parse(r); err == nil {
				root := u.Scheme + "://" + u.Host + "/"
				if !slices.Contains(c.PostLogoutRedirectURIs, root) {
					c.PostLogoutRedirectURIs = append(c.PostLogoutRedirectURIs, root)
				}
			}
		}
	}
	if c.ClientSecret == "" {
		s, err := RandomToken()
		if err != nil {
			return c, err
		}
		c.ClientSecret = s
	}
	return c, nil
}

// Validate reports every problem of c at once, each naming its field
// (file key, or the flag in parentheses).
func (c ProviderConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	listen := c.Listen
	if listen == "" {
		listen = DefaultProviderListen
	}
	host, _, err := net.SplitHostPort(listen)
	switch {
	case err != nil:
		bad("listen (--listen) %q: want HOST:PORT: %v", listen, err)
	case !c.AllowPublic && !isLoopbackHost(host):
		bad("listen (--listen) %q is not a loopback address: the development provider accepts fixed passwords "+
			"and must not be reachable from other machines; use 127.0.0.1 or [::1], or pass --allow-public "+
			"if you really mean to expose it", listen)
	case c.Issuer == "" && (host == "" || net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified()):
		bad("issuer (--issuer): required when listen (%q) is not one address: the issuer is the URL clients use", listen)
	}
	if c.Issuer != "" {
		if err := checkHTTPURL(c.Issuer); err != nil {
			bad("issuer (--issuer) %q: %v", c.Issuer, err)
		}
	}
	if strings.ContainsAny(c.ClientID, " \t\r\n:") {
		bad("client_id (--client-id) %q: must not contain spaces or ':'", c.ClientID)
	}
	if len(c.RedirectURIs) == 0 {
		bad("redirect_uris (--redirect-uri): at least one is needed, e.g. http://127.0.0.1:4180/oauth2/callback (gatehouse's oidc.redirect_url)")
	}
	for i, u := range c.RedirectURIs {
		if err := checkHTTPURL(u); err != nil {
			bad("redirect_uris[%d] (--redirect-uri) %q: %v", i, u, err)
		}
	}
	for i, u := range c.PostLogoutRedirectURIs {
		if err := checkHTTPURL(u); err != nil {
			bad("post_logout_redirect_uris[%d] (--post-logout-redirect-uri) %q: %v", i, u, err)
		}
	}
	if len(c.Users) == 0 {
		bad("users (--user): at least one user is needed, e.g. --user alice:secret:alice@example.com:admins")
	}
	seen := map[string]int{}
	for i, u := range c.Users {
		switch {
		case u.Name == "":
			bad("users[%d].name: required", i)
		case strings.ContainsAny(u.Name, ": \t\r\n"):
			bad("users[%d].name %q: must not contain spaces or ':'", i, u.Name)
		case seen[u.Name] > 0:
			bad("users[%d].name %q: already used by users[%d]", i, u.Name, seen[u.Name]-1)
		default:
			seen[u.Name] = i + 1
		}
		if u.Password == "" {
			bad("users[%d].password: required", i)
		}
		if u.Email != "" && !strings.Contains(strings.TrimPrefix(u.Email, "@"), "@") {
			bad("users[%d].email %q: not an email address", i, u.Email)
		}
		for j, g := range u.Groups {
			if strings.TrimSpace(g) == "" {
				bad("users[%d].groups[%d]: empty group name", i, j)
			}
		}
	}
	return errors.Join(errs...)
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an absolute http:// or https:// URL")
	}
	if u.Fragment != "" || u.User != nil {
		return errors.New("must not have a fragment or user info")
	}
	return nil
}

// StartProvider validates c and starts the development provider. The
// returned provider's Client() holds the effective client ID and secret.
func StartProvider(c ProviderConfig) (*oidctest.Provider, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	addr := c.Listen
	if host, port, _ := net.SplitHostPort(addr); strings.EqualFold(host, "localhost") {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	users := make([]oidctest.User, 0, len(c.Users))
	for _, u := range c.Users {
		users = append(users, oidctest.User{
			Subject:           u.Name,
			PreferredUsername: u.Name,
			Email:             u.Email,
			EmailVerified:     u.Email != "",
			Groups:            u.Groups,
			Password:          u.Password,
		})
	}
	p, err := oidctest.New(oidctest.Options{
		Addr:        addr,
		AllowPublic: c.AllowPublic,
		Issuer:      c.Issuer,
		Users:       users,
		Client: oidctest.Client{
			ID:                     c.ClientID,
			Secret:                 c.ClientSecret,
			RedirectURIs:           c.RedirectURIs,
			PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("listen (--listen) %q: %w", c.Listen, err)
	}
	return p, nil
}

// OIDCSnippet returns the oidc: section of a gatehouse configuration that
// signs in through p with redirectURL as gatehouse's callback.
func OIDCSnippet(p *oidctest.Provider, redirectURL string) (string, error) {
	type oidc struct {
		IssuerURL    string `yaml:"issuer_url"`
		ClientID     string `yaml:"client_id"`
		ClientSecret string `yaml:"client_secret"`
		RedirectURL  string `yaml:"redirect_url"`
	}
	c := p.Client()
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(map[string]oidc{"oidc": {p.Issuer(), c.ID, c.Secret, redirectURL}}); err != nil {
		return "", fmt.Errorf("oidc snippet: %w", err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("oidc snippet: %w", err)
	}
	return b.String(), nil
}

// RandomToken returns 32 random bytes in base64, for client and cookie secrets.
func RandomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random secret: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}
