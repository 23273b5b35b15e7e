package conformance_test

import (
	"net/http"
	"reflect"
	"testing"
)

// negotiateScenarios are the browser-or-API decisions (internal/render's
// IsBrowser): only a user's browser navigating is redirected to the login
// page and shown an HTML 403; a client that prefers JSON, refuses HTML,
// or is a script (fetch, XHR) gets a 401 with the login URL in
// X-Auth-Request-Redirect, and JSON. The Fetch Metadata and
// X-Requested-With headers ride in spoof, which every driver sends as the
// client's own headers.
func negotiateScenarios() []negotiateScenario {
	const jsonType = "application/json"
	const htmlType = "text/html; charset=utf-8"
	navigate := map[string]string{"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
	fetch := map[string]string{"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}
	xhr := map[string]string{"X-Requested-With": "XMLHttpRequest"}
	return []negotiateScenario{
		{scenario{name: "navigate", target: "/app", accept: browserAccept, spoof: navigate,
			want: verdict{Status: 302, Reason: "no_session", Login: login("/app")}}, ""},
		{scenario{name: "Accept prefers JSON", target: "/app", accept: "application/json, text/html;q=0.1",
			want: verdict{Status: 401, Reason: "no_session", Login: login("/app"), WWWAuth: bearer}}, jsonType},
		{scenario{name: "Accept refuses HTML (q=0)", target: "/app", accept: "text/html;q=0, */*",
			want: verdict{Status: 401, Reason: "no_session", Login: login("/app"), WWWAuth: bearer}}, jsonType},
		{scenario{name: "fetch, cors", target: "/api/runs", accept: "*/*", spoof: fetch,
			want: verdict{Status: 401, Reason: "no_session", Login: login("/api/runs"), WWWAuth: bearer}}, jsonType},
		{scenario{name: "fetch that accepts HTML", target: "/app", accept: browserAccept, spoof: fetch,
			want: verdict{Status: 401, Reason: "no_session", Login: login("/app"), WWWAuth: bearer}}, jsonType},
		{scenario{name: "XHR", target: "/app?x=1", accept: "text/html, */*; q=0.01", spoof: xhr,
			want: verdict{Status: 401, Reason: "no_session", Login: login("/app?x=1"), WWWAuth: bearer}}, jsonType},
		{scenario{name: "XHR with a dead cookie", target: "/app", accept: browserAccept, spoof: xhr, cookie: "tampered",
			want: verdict{Status: 401, Reason: "invalid_session", Login: login("/app"), WWWAuth: bearer, SetCookie: []string{clearCookie}}}, jsonType},
		{scenario{name: "not admitted, navigate", target: "/app", accept: browserAccept, spoof: navigate, cookie: "mallory",
			want: verdict{Status: 403, Reason: "not_allowed"}}, htmlType},
		{scenario{name: "not admitted, fetch", target: "/app", accept: browserAccept, spoof: fetch, cookie: "mallory",
			want: verdict{Status: 403, Reason: "not_allowed"}}, jsonType},
		{scenario{name: "not admitted, JSON preferred", target: "/app", accept: "application/json, text/html;q=0.5", cookie: "mallory",
			want: verdict{Status: 403, Reason: "not_allowed"}}, jsonType},
		{scenario{name: "signed in, fetch", target: "/app", accept: "*/*", spoof: fetch, cookie: "alice",
			want: verdict{Status: 200, Reason: "allowed", Identity: alice, Cookie: "theme=dark"}}, ""},
	}
}

// negotiateScenario is a scenario and the content type of the denial's
// body (the same from every adapter that sends one).
type negotiateScenario struct {
	scenario
	ctype string
}

// TestAdaptersAgreeOnBrowserOrAPI runs every negotiation scenario through
// every adapter the suite drives, the HAProxy SPOE agent included.
func TestAdaptersAgreeOnBrowserOrAPI(t *testing.T) {
	f := newFixture(t)
	ds := append(drivers(t, f), spoaDriver(t, f))
	for _, sc := range negotiateScenarios() {
		if sc.method == "" {
			sc.method = http.MethodGet
		}
		t.Run(sc.name, func(t *testing.T) {
			for _, d := range ds {
				v := d.run(t, sc.scenario, f.cookieHeader(sc.scenario))
				ctype := v.CType
				v.Body, v.CType = "", ""
				if want := d.expect(sc.want); !reflect.DeepEqual(v, want) {
					t.Errorf("%s:\n got %+v\nwant %+v", d.name, v, want)
				}
				if ctype != sc.ctype {
					t.Errorf("%s: Content-Type %q, want %q", d.name, ctype, sc.ctype)
				}
			}
		})
	}
}
