package redisstore

// Adversarial review of the v3 record at the store (brief R): attacks by
// someone who can read and write Redis but holds no session ID. Each test
// here is an attack that is refused; it fails if the defence it names is
// removed.

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/sessiontest"
)

// reviewHandle is the handle of s.
func reviewHandle(t *testing.T, s *session.Session) string {
	t.Helper()
	h, err := session.HandleOf(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestReviewExpiryHoldsWhateverRedisSays: the session ends at its sealed
// ExpiresAt even when a writer removes the key's TTL and sets its seen
// key far in the future: Redis's expiry is not what ends a session.
func TestReviewExpiryHoldsWhateverRedisSays(t *testing.T) {
	st, rc := newTestRedisStore(t)
	ctx := t.Context()
	clock := sessiontest.ClockAt(time.Now())
	st.now = clock.Now
	s := sessiontest.FullSession(t, clock.Now(), clock.Now().Add(time.Hour))
	if err := st.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	h := reviewHandle(t, s)
	if err := rc.Persist(ctx, st.key(h)).Err(); err != nil {
		t.Fatal(err)
	}
	far := clock.Now().Add(100 * 365 * 24 * time.Hour).UnixMilli()
	if err := rc.Set(ctx, st.seenKey(h), strconv.FormatInt(far, 10), 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(ctx, s.ID); err != nil {
		t.Fatalf("live session refused: %v", err)
	}
	clock.Advance(time.Hour)
	if got, err := st.Load(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load past ExpiresAt with the TTL removed = %+v, %v; want ErrNotFound", got, err)
	}
	if got, err := st.LoadByHandle(ctx, h); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("LoadByHandle past ExpiresAt = %+v, %v; want ErrNotFound", got, err)
	}
}

// TestReviewSeenKeyAloneIsNoSession: a seen key without its record, or a
// Touch after a delete, brings nothing back; a seen value that is not a
// positive number, or is older than the record's, leaves LastSeenAt as
// sealed (it never moves back).
func TestReviewSeenKeyAloneIsNoSession(t *testing.T) {
	st, rc := newTestRedisStore(t)
	ctx := t.Context()
	now := time.Now()
	s := sessiontest.FullSession(t, now, now.Add(time.Hour))
	if err := st.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	h := reviewHandle(t, s)
	for _, v := range []string{"0", "-1", "abc", "1e12", "", " 1", "1", strconv.FormatInt(s.LastSeenAt.UnixMilli()-1, 10)} {
		if err := rc.Set(ctx, st.seenKey(h), v, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		got, err := st.Load(ctx, s.ID)
		if err != nil {
			t.Fatalf("seen %q: %v", v, err)
		}
		if !got.LastSeenAt.Equal(s.LastSeenAt) {
			t.Errorf("seen %q moved LastSeenAt to %v, want %v", v, got.LastSeenAt, s.LastSeenAt)
		}
	}
	if err := st.Delete(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if n, _ := rc.Exists(ctx, st.seenKey(h)).Result(); n != 0 {
		t.Error("Delete left the seen key")
	}
	if err := st.Touch(ctx, s.ID, now); err != nil {
		t.Fatal(err)
	}
	if n, _ := rc.Exists(ctx, st.key(h), st.seenKey(h)).Result(); n != 0 {
		t.Errorf("Touch after Delete wrote %d keys", n)
	}
	if err := rc.Set(ctx, st.seenKey(h), strconv.FormatInt(now.UnixMilli(), 10), time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Load(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load with only a seen key = %+v, %v; want ErrNotFound", got, err)
	}
	if err := st.Update(ctx, s); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Update of a deleted session with a seen key = %v; want ErrNotFound", err)
	}
}

// TestReviewIndexInjectionReachesNoOneElse: a writer who adds another
// user's session (or a member that is no handle) to a user's indexes does
// not make List show it under that user, nor DeleteMatching end it: both
// check each record's own identity against the filter.
func TestReviewIndexInjectionReachesNoOneElse(t *testing.T) {
	st, rc := newTestRedisStore(t)
	ctx := t.Context()
	now := time.Now()
	alice := sessiontest.FullSession(t, now, now.Add(time.Hour))
	bob := sessiontest.FullSession(t, now, now.Add(time.Hour))
	bob.Subject, bob.SID, bob.Email, bob.User = "bob-subject", "bob-sid", "bob@example.com", "bob"
	for _, s := range []*session.Session{alice, bob} {
		if err := st.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	bh := reviewHandle(t, bob)
	aliceFilters := []session.Filter{
		{Issuer: alice.Issuer, Subject: alice.Subject},
		{Issuer: alice.Issuer, SID: alice.SID},
		{Subject: alice.Subject},
		{Email: alice.Email},
	}
	keys, err := rc.Keys(ctx, st.prefix+"*:{*}").Result()
	if err != nil {
		t.Fatal(err)
	}
	injected := 0
	for _, k := range keys {
		if typ, _ := rc.Type(ctx, k).Result(); typ == "set" {
			if err := rc.SAdd(ctx, k, bh, "../"+bh, "X"+bh[1:]).Err(); err != nil {
				t.Fatal(err)
			}
			injected++
		}
	}
	if injected < len(aliceFilters) {
		t.Fatalf("injected into %d index sets, want at least %d", injected, len(aliceFilters))
	}
	for _, f := range aliceFilters {
		list, _, err := st.List(ctx, f, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].Handle != reviewHandle(t, alice) {
			t.Errorf("List(%+v) = %d sessions, want alice's alone", f, len(list))
		}
	}
	for _, f := range aliceFilters[:2] {
		if _, err := st.DeleteMatching(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Load(ctx, bob.ID); err != nil {
		t.Fatalf("bob's session ended by alice's revocation: %v", err)
	}
	if _, err := st.Load(ctx, alice.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("alice's session survived her revocation: %v", err)
	}
}
