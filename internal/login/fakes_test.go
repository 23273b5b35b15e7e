package login_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/login"
	"github.com/gatehouse/gatehouse/internal/session"
)

// fakeLocker is a map-based stand-in for session.Manager's TryLock, shared
// by several Handlers as the Redis lock is shared by replicas.
type fakeLocker struct {
	mu      sync.Mutex
	held    map[string]time.Time // name → expiry
	fail    atomic.Bool
	taken   atomic.Int64
	refused atomic.Int64
}

var _ login.Locker = (*fakeLocker)(nil)

func newFakeLocker() *fakeLocker { return &fakeLocker{held: map[string]time.Time{}} }

func (l *fakeLocker) TryLock(ctx context.Context, name string, ttl time.Duration) (func(), bool, error) {
	if l.fail.Load() {
		return nil, false, errStoreDown
	}
	if ttl <= 0 {
		return nil, false, errors.New("fakeLocker: ttl must be positive")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if exp, ok := l.held[name]; ok && now.Before(exp) {
		l.refused.Add(1)
		return nil, false, nil
	}
	exp := now.Add(ttl)
	l.held[name] = exp
	l.taken.Add(1)
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.held[name] == exp { // only the holder's own lock
				delete(l.held, name)
			}
		})
	}, true, nil
}

func (l *fakeLocker) names() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for n := range l.held {
		out = append(out, n)
	}
	return out
}

// fakeRevoker is a map-based stand-in for session.Manager's DeleteMatching
// over a memStore.
type fakeRevoker struct {
	store *memStore
	fail  atomic.Bool
	calls atomic.Int64
}

var _ login.Revoker = (*fakeRevoker)(nil)

func (r *fakeRevoker) DeleteMatching(ctx context.Context, f session.Filter) (int, error) {
	r.calls.Add(1)
	if r.fail.Load() {
		return 0, errStoreDown
	}
	if f.Issuer == "" || (f.SID == "" && f.Subject == "") {
		return 0, errors.New("fakeRevoker: filter must set Issuer and SID or Subject")
	}
	r.store.mu.Lock()
	defer r.store.mu.Unlock()
	n := 0
	for id, s := range r.store.m {
		if s.Issuer == f.Issuer && (f.SID == "" || s.SID == f.SID) &&
			(f.Subject == "" || s.Subject == f.Subject) && (f.Email == "" || s.Email == f.Email) {
			delete(r.store.m, id)
			n++
		}
	}
	return n, nil
}
