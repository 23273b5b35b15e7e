package login_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
)

// BenchmarkMaybeRefreshNotDue is the cost MaybeRefresh adds to every
// allowed check when the tokens are far from expiry (the common case).
func BenchmarkMaybeRefreshNotDue(b *testing.B) {
	e := newEnv(b, envOptions{})
	id, _ := session.NewID()
	s := &session.Session{ID: id, RefreshToken: "rt", TokenExpiry: time.Now().Add(time.Hour)}
	b.ReportAllocs()
	for b.Loop() {
		e.h.MaybeRefresh(id, s)
	}
}
