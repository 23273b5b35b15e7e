package record

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/session"
)

// mustEncodeV2 is encodeV2 for tests.
func mustEncodeV2(tb testing.TB, s *session.Session) []byte {
	tb.Helper()
	data, err := encodeV2(s)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}
