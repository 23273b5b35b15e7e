package spoa_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/spoa"
	"github.com/gatehouse/gatehouse/internal/spop/spoptest"
)

// BenchmarkCheck is one NOTIFY/ACK round trip over loopback for a signed-in
// request: decode, session lookup (memory store), decision, encode.
func BenchmarkCheck(b *testing.B) {
	f := newFixture(b, spoa.Options{})
	c, err := spoptest.Dial(f.addr, spoptest.HelloOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg := message(request{url: "/app?x=1", headers: [][2]string{{"host", host}, {"cookie", f.alice}, {"accept", "text/html"}, {"user-agent", "bench"}}})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		vars, err := c.Check(uint64(i+1), 1, msg)
		if err != nil {
			b.Fatal(err)
		}
		if vars["status"].Int != 200 {
			b.Fatalf("status %d", vars["status"].Int)
		}
	}
}
