package cookie

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/session/sessiontest"
)

func BenchmarkCodecOpenID(b *testing.B) {
	c := newTestCodec(b, nil, testKey(b))
	v, err := c.SealID(testCookie, sessiontest.NewID(b), time.Now().Add(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.OpenID(testCookie, v); err != nil {
			b.Fatal(err)
		}
	}
}
