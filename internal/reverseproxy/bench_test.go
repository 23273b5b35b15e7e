package reverseproxy

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkProxy measures an allowed, signed-in request through the
// adapter (parse, check with a memory-store session, rewrite, proxy over
// loopback), and the same request sent to the upstream directly, for the
// difference.
func BenchmarkProxy(b *testing.B) {
	f := newFixture(b)
	a := newApp(b, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "app") })
	g := newGate(b, f, Options{}, Upstream{URL: a.srv.URL})
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	b.Cleanup(c.CloseIdleConnections)
	for _, bc := range []struct{ name, url string }{{"through gatehouse", g.srv.URL}, {"direct", a.srv.URL}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				benchGet(b, c, bc.url+"/dashboard", f.alice)
			}
			a.take()
		})
	}
}

// benchGet sends GET url with alice's cookie on c and drains the answer.
func benchGet(b *testing.B, c *http.Client, url, cookie string) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = appHost
	req.Header.Set("Cookie", cookie)
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("status %d", resp.StatusCode)
	}
}
