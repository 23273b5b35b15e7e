package config

import (
	"net/netip"
	"testing"

	"github.com/gatehouse/gatehouse/internal/authz"
)

// TestAllowUnverifiedEmailReachesPolicy: oidc.allow_unverified_email is
// carried into every policy the configuration builds (its own access keys
// and a reloaded policy file), so that an unverified address the login
// accepted is also admitted by email_domains; off, it is refused.
func TestAllowUnverifiedEmailReachesPolicy(t *testing.T) {
	id := &authz.Identity{User: "u", Email: "alice@example.com"} // email_verified missing
	req := &authz.Request{Method: "GET", Scheme: "https", Host: "app.example.com", Path: "/", ClientIP: netip.MustParseAddr("10.0.0.1")}
	for _, allow := range []string{"true", "false"} {
		c, err := Load("testdata/valid.yaml", env(map[string]string{"GATEHOUSE_OIDC_ALLOW_UNVERIFIED_EMAIL": allow}))
		if err != nil {
			t.Fatal(err)
		}
		want := authz.Forbidden
		if allow == "true" {
			want = authz.Allow
		}
		fromFile, err := c.PolicyFromFile([]byte("email_domains: [example.com]\n"))
		if err != nil {
			t.Fatal(err)
		}
		access, err := c.Policy()
		if err != nil {
			t.Fatal(err)
		}
		for name, p := range map[string]*authz.Policy{"access": access, "policy file": fromFile} {
			if p.AllowUnverifiedEmail != (allow == "true") {
				t.Errorf("allow_unverified_email %s, %s policy: AllowUnverifiedEmail %v", allow, name, p.AllowUnverifiedEmail)
			}
			if d := authz.Decide(p, req, authz.ValidSession, id); d.Outcome != want {
				t.Errorf("allow_unverified_email %s, %s policy: %v (%s), want %v", allow, name, d.Outcome, d.Reason, want)
			}
		}
	}
}
