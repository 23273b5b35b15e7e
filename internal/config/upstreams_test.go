package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestUpstreamsKeys: the upstreams list decodes, and each bad value is
// reported under its own path.
func TestUpstreamsKeys(t *testing.T) {
	valid, err := os.ReadFile("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	good := string(valid) + `
upstreams:
  - name: ClearML
    url: http://127.0.0.1:5050
  - host: app.example.com
    path_prefix: /api
    url: https://api.internal:8443/
    host_header: api.internal
    timeouts: {connect: 2s, response_header: 5m}
`
	c, err := Load(writeFile(t, good), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Upstreams) != 2 || c.Upstreams[0].Name != "ClearML" || c.Upstreams[1].PathPrefix != "/api" ||
		c.Upstreams[1].Timeouts.ResponseHeader != 5*time.Minute || c.Upstreams[1].HostHeader != "api.internal" {
		t.Errorf("upstreams = %+v", c.Upstreams)
	}

	bad := string(valid) + `
upstreams:
  - name: no url
  - url: 127.0.0.1:5050
  - url: http://127.0.0.1:5050/base?x
  - url: http://127.0.0.1:5050
    path_prefix: /a/../b
    host: app.example.com:443
    host_header: "a b"
    timeouts: {connect: -1s, response_header: -1s}
  - url: http://127.0.0.1:5051
    path_prefix: /
  - url: http://127.0.0.1:5052
    path_prefix: api
    colour: blue
`
	_, err = Load(writeFile(t, bad), env(nil))
	if err == nil {
		t.Fatal("bad upstreams accepted")
	}
	for _, want := range []string{
		"upstreams[0].url: required",
		`upstreams[1].url: must be an absolute http(s) URL, not "127.0.0.1:5050"`,
		"upstreams[2].url: must be a base URL without path or query",
		"upstreams[3].path_prefix: must be a normalized path",
		"upstreams[3].host: must be a host name such as app.example.com, without port",
		"upstreams[3].host_header: must be a host name",
		"upstreams[3].timeouts.connect: must be a positive duration",
		"upstreams[3].timeouts.response_header: must be a positive duration",
		"upstreams[4]: serves the same host and path_prefix as upstreams[0]",
		"upstreams[5].path_prefix: must be a normalized path",
		"upstreams[5].colour",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}
