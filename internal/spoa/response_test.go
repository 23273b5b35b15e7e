package spoa

import "testing"

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"":                             "",
		`{"error":"forbidden"}` + "\n": `{"error":"forbidden"}`,
		"<p>\r\n  a</p>\n<p>b</p>\r\n": "<p>   a</p> <p>b</p>",
		"a\rb":                         "a b",
		"tab\tstays":                   "tab\tstays",
	} {
		if got := OneLine(in); got != want {
			t.Errorf("OneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVarName(t *testing.T) {
	for in, want := range map[[2]string]string{
		{UpstreamPrefix, "X-Auth-Request-User"}: "up_x_auth_request_user",
		{ReplyPrefix, "WWW-Authenticate"}:       "hdr_www_authenticate",
		{UpstreamPrefix, "Cookie"}:              "up_cookie",
		{ReplyPrefix, "X.Odd+Name9"}:            "hdr_x_odd_name9",
	} {
		if got := VarName(in[0], in[1]); got != want {
			t.Errorf("VarName(%q, %q) = %q, want %q", in[0], in[1], got, want)
		}
	}
}
