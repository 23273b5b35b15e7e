package conformance_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"testing"

	"github.com/gatehouse/gatehouse/internal/forwardauth"
)

// oauth2AuthExpect is oauth2-proxy's /oauth2/auth: nginx's auth_request
// mapping, with 202 Accepted for an allow.
func oauth2AuthExpect(v verdict) verdict {
	v = nginxExpect(v)
	if v.Status == 200 {
		v.Status = 202
	}
	return v
}

// TestOAuth2AuthAgrees runs the scenario table through /oauth2/auth as
// oauth2-proxy's nginx snippet calls it (Host $host, X-Forwarded-Uri
// $request_uri): the auth_request adapter's verdicts, 202 for 200.
func TestOAuth2AuthAgrees(t *testing.T) {
	f := newFixture(t)
	h := forwardauth.NewHandler(f.checker, forwardauth.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	// The snippet's proxy_set_header Host $host, played by the test.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Host = r.Header.Get("X-Test-Host")
		r.Header.Del("X-Test-Host")
		h.OAuth2Auth().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	d := httpDriver(t, "oauth2-auth", srv, forwardauth.OAuth2AuthPath, oauth2AuthExpect, func(hd http.Header, sc scenario) {
		hd.Set("X-Test-Host", host)
		hd.Set("X-Forwarded-Uri", sc.target)
		hd.Set("X-Original-Method", sc.method)
	})
	ref := drivers(t, f)[2] // auth-request
	for _, sc := range scenarios() {
		if sc.method == "" {
			sc.method = http.MethodGet
		}
		t.Run(sc.name, func(t *testing.T) {
			f.store.down.Store(sc.storeDown)
			defer f.store.down.Store(false)
			got := d.run(t, sc, f.cookieHeader(sc))
			cmp := got
			cmp.Body, cmp.CType = "", ""
			if want := d.expect(sc.want); !reflect.DeepEqual(cmp, want) {
				t.Errorf("%s:\n got %+v\nwant %+v", d.name, cmp, want)
			}
			if r := ref.run(t, sc, f.cookieHeader(sc)); r.Body != got.Body || r.CType != got.CType {
				t.Errorf("body/content-type (%q, %q) differ from auth-request's (%q, %q)", got.Body, got.CType, r.Body, r.CType)
			}
		})
	}
}
