package bearer

import (
	"context"
	"errors"
	"testing"
	"time"
)

// FuzzVerify: whatever the token, Verify does not panic, fails with
// ErrInvalid or ErrUnavailable only, and never accepts anything but what
// the issuer signed.
func FuzzVerify(f *testing.F) {
	is := newIssuer(f)
	v, err := New([]Issuer{{URL: is.srv.URL, Audiences: []string{"api"}, ClientID: "gatehouse"}}, Claims{}, Options{Timeout: time.Second})
	if err != nil {
		f.Fatal(err)
	}
	good := is.mint(f, claims("api", time.Now().Add(time.Hour)))
	want, err := v.Verify(context.Background(), good)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{good, tamper(good), "", "a.b.c", "..", good + ".x", unsigned(map[string]any{"alg": "none"}, map[string]any{"iss": is.srv.URL})} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := v.Verify(context.Background(), tok)
		if err != nil {
			if id != nil || (!errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnavailable)) {
				t.Fatalf("id %v, error %v", id != nil, err)
			}
			return
		}
		if id.User != want.User || id.Email != want.Email || len(id.Claims) != len(want.Claims) {
			t.Fatalf("accepted a token the issuer did not sign: %+v", id.Claims)
		}
	})
}
