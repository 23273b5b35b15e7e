package memstore

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/sessiontest"
)

func TestMemoryStoreSuite(t *testing.T) {
	clock := sessiontest.NewClock()
	sessiontest.RunStoreSuite(t, sessiontest.SuiteOptions{
		NewStore: func(t *testing.T) session.Store {
			m := New(Options{Now: clock.Now})
			t.Cleanup(func() { _ = m.Close() })
			return m
		},
		Lifetime: time.Hour,
		Wait:     time.Second,
		Advance:  clock.Advance,
		Now:      clock.Now,
	})
}

func TestMemoryStoreSweep(t *testing.T) {
	clock := sessiontest.NewClock()
	m := New(Options{Now: clock.Now, SweepInterval: time.Minute})
	ctx := t.Context()
	short := sessiontest.FullSession(t, clock.Now(), clock.Now().Add(10*time.Second))
	long := sessiontest.FullSession(t, clock.Now(), clock.Now().Add(time.Hour))
	for _, s := range []*session.Session{short, long} {
		if err := m.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(30 * time.Second)
	if _, err := m.Load(ctx, short.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("expired session visible: %v", err)
	}
	// Within the sweep interval the expired entry is still held...
	if err := m.Save(ctx, long); err != nil {
		t.Fatal(err)
	}
	if n := m.Len(); n != 2 {
		t.Fatalf("Len = %d before sweep interval, want 2", n)
	}
	// ...and the first Save after it drops the entry.
	clock.Advance(time.Minute)
	if err := m.Save(ctx, long); err != nil {
		t.Fatal(err)
	}
	if n := m.Len(); n != 1 {
		t.Fatalf("Len = %d after sweep, want 1", n)
	}
	if _, err := m.Load(ctx, long.ID); err != nil {
		t.Fatalf("sweep dropped a live session: %v", err)
	}
}

// TestMemoryStoreHoldsNoSecrets: what the memory store keeps (what a heap
// dump would show) has neither the session ID nor token plaintext.
func TestMemoryStoreHoldsNoSecrets(t *testing.T) {
	clock := sessiontest.NewClock()
	m := New(Options{Now: clock.Now})
	s := sessiontest.FullSession(t, clock.Now(), clock.Now().Add(time.Hour))
	if err := m.Save(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	idBytes, _ := session.ParseID(s.ID)
	for key, e := range m.entries {
		for name, secret := range map[string][]byte{
			"id": []byte(s.ID), "id bytes": idBytes,
			"id token": []byte(s.IDToken), "access token": []byte(s.AccessToken), "refresh token": []byte(s.RefreshToken),
		} {
			if bytes.Contains(e.data, secret) || bytes.Contains([]byte(key), secret) {
				t.Errorf("stored entry contains the %s", name)
			}
		}
	}
}

func TestMemoryStoreClosed(t *testing.T) {
	m := New(Options{})
	s := sessiontest.FullSession(t, time.Now(), time.Now().Add(time.Hour))
	ctx := context.Background()
	if err := m.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Load(ctx, s.ID); !errors.Is(err, ErrClosed) {
		t.Errorf("Load after Close = %v, want ErrClosed", err)
	}
	if err := m.Save(ctx, s); !errors.Is(err, ErrClosed) {
		t.Errorf("Save after Close = %v, want ErrClosed", err)
	}
	if err := m.Delete(ctx, s.ID); !errors.Is(err, ErrClosed) {
		t.Errorf("Delete after Close = %v, want ErrClosed", err)
	}
	if err := m.Ping(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Ping after Close = %v, want ErrClosed", err)
	}
}

// TestCorruptRecordIsNotFound: a record that cannot be opened (altered in
// the store) makes the user sign in again rather than fail forever.
func TestCorruptRecordIsNotFound(t *testing.T) {
	clock := sessiontest.NewClock()
	m := New(Options{Now: clock.Now})
	s := sessiontest.FullSession(t, clock.Now(), clock.Now().Add(time.Hour))
	if err := m.Save(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	key, _ := session.HandleOf(s.ID)
	e := m.entries[key]
	e.data = append([]byte(nil), e.data...)
	// A record ends with its sealed tokens (record.proto's last field):
	// the last byte is the seal's authentication tag.
	e.data[len(e.data)-1] ^= 1
	m.entries[key] = e
	if _, err := m.Load(t.Context(), s.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load(corrupt) = %v, want session.ErrNotFound", err)
	}
}

// TestMemoryLoadIdentity: the check path's lookup gives the identity of a
// live session, never its tokens, says whether it can be refreshed, and
// follows deletes, expiry and Touch like Load.
func TestMemoryLoadIdentity(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	m := New(Options{Now: clock})
	defer m.Close()
	ctx := context.Background()
	s := sessiontest.FullSession(t, now, now.Add(time.Hour))
	if err := m.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	got, err := m.LoadIdentity(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.IDToken != "" || got.AccessToken != "" || got.RefreshToken != "" || got.ID != "" {
		t.Fatalf("LoadIdentity returned secrets: %+v", got)
	}
	if !got.HasRefreshToken || got.Email != s.Email || got.Subject != s.Subject || got.Handle == "" ||
		!slices.Equal(got.Groups, s.Groups) || !got.ExpiresAt.Equal(s.ExpiresAt) {
		t.Fatalf("LoadIdentity = %+v, want the identity of %+v", got, s)
	}
	// Mutating what the caller saved does not change the stored identity.
	s.Groups[0] = "changed"
	if again, _ := m.LoadIdentity(ctx, s.ID); again.Groups[0] == "changed" {
		t.Fatal("LoadIdentity shares the caller's Groups slice")
	}
	at := now.Add(time.Minute)
	if err := m.Touch(ctx, s.ID, at); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.LoadIdentity(ctx, s.ID); !got.LastSeenAt.Equal(at) {
		t.Errorf("LastSeenAt = %v after Touch(%v)", got.LastSeenAt, at)
	}
	now = now.Add(2 * time.Hour)
	if _, err := m.LoadIdentity(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("expired: %v", err)
	}
	now = now.Add(-2 * time.Hour)
	if err := m.Delete(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.LoadIdentity(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("deleted: %v", err)
	}
	if _, err := m.LoadIdentity(ctx, "not-an-id"); err == nil {
		t.Error("bad ID accepted")
	}
}

func BenchmarkLoad(b *testing.B) {
	st := New(Options{})
	ctx := context.Background()
	s := sessiontest.FullSession(b, time.Now(), time.Now().Add(time.Hour))
	if err := st.Save(ctx, s); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Load(ctx, s.ID); err != nil {
			b.Fatal(err)
		}
	}
}
