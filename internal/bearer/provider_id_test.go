package bearer

import (
	"context"
	"testing"
	"time"
)

// A token's identity names the provider of its issuer, so that a rule
// naming providers judges it as it judges that provider's sessions; a token
// of an issuer that is no sign-in provider names none that a rule could
// take for the default provider.
func TestVerifyNamesTheProvider(t *testing.T) {
	corp, other := newIssuer(t), newIssuer(t)
	v, err := New([]Issuer{
		{URL: corp.srv.URL, Audiences: []string{"api"}, Provider: "corp"},
		{URL: other.srv.URL, Audiences: []string{"api"}},
	}, Claims{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.Verify(context.Background(), corp.mint(t, claims("api", time.Now().Add(time.Hour))))
	if err != nil || id.Provider != "corp" {
		t.Fatalf("corp's token: provider %q, %v", id.Provider, err)
	}
	id, err = v.Verify(context.Background(), other.mint(t, claims("api", time.Now().Add(time.Hour))))
	if err != nil || id.Provider != "bearer:"+other.srv.URL {
		t.Fatalf("another issuer's token: provider %q, %v", id.Provider, err)
	}
}
