package probe

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
)

// With providers, each provider's discovery and callback host is probed
// and named by its path; an OAuth 2 provider (GitHub) has no discovery.
func TestProvidersProbed(t *testing.T) {
	good := provider(t, nil, goodKeys)
	cfg := &config.Config{Providers: []config.Provider{
		{ID: "a", IssuerURL: good.URL, RedirectURL: "https://auth.example.com/oauth2/callback/a"},
		{ID: "b", IssuerURL: good.URL + "/realms/none", RedirectURL: "https://nowhere.example.com/oauth2/callback/b"},
		{ID: "gh", IssuerURL: "https://github.invalid", OAuth2: true, RedirectURL: "https://auth.example.com/oauth2/callback/gh"},
	}}
	lookup := func(_ context.Context, host string) ([]string, error) {
		if host == "nowhere.example.com" {
			return nil, errors.New("no such host")
		}
		return []string{"192.0.2.1"}, nil
	}
	same(t, Run(context.Background(), cfg, Options{LookupHost: lookup, Timeout: 2 * time.Second}),
		"providers[1].issuer_url: discovery: GET "+good.URL+"/realms/none/.well-known/openid-configuration: status 404 Not Found",
		"providers[1].redirect_url: the host nowhere.example.com does not resolve (no such host): browsers coming back from the provider cannot reach gatehouse")
}
