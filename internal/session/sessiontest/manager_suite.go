package sessiontest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
)

// RunManagerSuite runs what every Manager must do against o's stores.
func RunManagerSuite(t *testing.T, o SuiteOptions, ctx func(*testing.T) context.Context) {
	newManager := func(t *testing.T) session.Manager {
		m, ok := o.NewStore(t).(session.Manager)
		if !ok {
			t.Fatalf("%T is not a session.Manager", o.NewStore(t))
		}
		return m
	}
	// user makes a saved session of issuer iss and subject sub.
	save := func(t *testing.T, m session.Manager, c context.Context, iss, sub, sid, email string) *session.Session {
		t.Helper()
		s := FullSession(t, o.Now(), o.Now().Add(time.Hour))
		s.Issuer, s.Subject, s.SID, s.Email = iss, sub, sid, email
		if err := m.Save(c, s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	handle := func(s *session.Session) string { h, _ := session.HandleOf(s.ID); return h }
	handles := func(list []*session.Session) []string {
		var out []string
		for _, s := range list {
			out = append(out, s.Handle)
		}
		slices.Sort(out)
		return out
	}
	want := func(ss ...*session.Session) []string {
		var out []string
		for _, s := range ss {
			out = append(out, handle(s))
		}
		slices.Sort(out)
		return out
	}
	listAll := func(t *testing.T, m session.Manager, c context.Context, f session.Filter, page int) []*session.Session {
		t.Helper()
		var all []*session.Session
		cursor := ""
		for range 100 {
			list, next, err := m.List(c, f, cursor, page)
			if err != nil {
				t.Fatalf("List(%+v): %v", f, err)
			}
			if len(list) > page {
				t.Fatalf("page of %d, limit %d", len(list), page)
			}
			all = append(all, list...)
			if next == "" {
				return all
			}
			cursor = next
		}
		t.Fatal("List never ended")
		return nil
	}
	const iss, iss2 = "https://idp.example.com", "https://other-idp.example.com"

	t.Run("Manager/LoadByHandle", func(t *testing.T) {
		m, c := newManager(t), ctx(t)
		s := save(t, m, c, iss, "u1", "sid1", "u1@example.com")
		got, err := m.Load(c, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Handle != handle(s) {
			t.Fatalf("Load Handle = %q, want %q", got.Handle, handle(s))
		}
		byH, err := m.LoadByHandle(c, got.Handle)
		if err != nil {
			t.Fatal(err)
		}
		if byH.IDToken != "" || byH.AccessToken != "" || byH.RefreshToken != "" || byH.ID != "" {
			t.Fatalf("LoadByHandle returned secrets: %+v", byH)
		}
		noTokens := s.WithoutTokens()
		noTokens.ID, noTokens.Handle = "", handle(s)
		noTokens.HasRefreshToken = false // the admin view cannot open the tokens
		SameSession(t, byH, noTokens)
		if byH.Handle != handle(s) {
			t.Fatalf("LoadByHandle Handle = %q", byH.Handle)
		}
		if _, err := m.LoadByHandle(c, handle(FullSession(t, o.Now(), o.Now()))); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("LoadByHandle(unknown) = %v, want session.ErrNotFound", err)
		}
		for name, h := range map[string]string{
			"empty": "", "upper": strings.ToUpper(handle(s)), "short": handle(s)[:63], "long": handle(s) + "0",
			"glob": strings.Repeat("*", 64), "tag": "}" + handle(s)[1:], "id": s.ID,
		} {
			if _, err := m.LoadByHandle(c, h); !errors.Is(err, session.ErrInvalidID) {
				t.Errorf("%s: LoadByHandle = %v, want session.ErrInvalidID", name, err)
			}
			if err := m.DeleteByHandle(c, h); !errors.Is(err, session.ErrInvalidID) {
				t.Errorf("%s: DeleteByHandle = %v, want session.ErrInvalidID", name, err)
			}
		}
		if _, err := m.Load(c, s.ID); err != nil {
			t.Fatalf("bad handles harmed the session: %v", err)
		}
	})

	t.Run("Manager/DeleteByHandle", func(t *testing.T) {
		m, c := newManager(t), ctx(t)
		s := save(t, m, c, iss, "u1", "sid1", "u1@example.com")
		other := save(t, m, c, iss, "u1", "sid2", "u1@example.com")
		if err := m.DeleteByHandle(c, handle(s)); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Load(c, s.ID); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("Load after DeleteByHandle = %v", err)
		}
		if _, err := m.Load(c, other.ID); err != nil {
			t.Fatalf("other session: %v", err)
		}
		if err := m.DeleteByHandle(c, handle(s)); err != nil {
			t.Fatalf("DeleteByHandle(missing) = %v", err)
		}
		if got := handles(listAll(t, m, c, session.Filter{Issuer: iss, Subject: "u1"}, 10)); !slices.Equal(got, want(other)) {
			t.Fatalf("List after delete = %v, want %v", got, want(other))
		}
	})

	t.Run("Manager/List", func(t *testing.T) {
		m, c := newManager(t), ctx(t)
		a1 := save(t, m, c, iss, "alice", "sa1", "Alice@Example.com")
		a2 := save(t, m, c, iss, "alice", "sa2", "alice@example.com")
		a3 := save(t, m, c, iss, "alice", "", "alice@example.com")
		b := save(t, m, c, iss, "bob", "sb1", "bob@example.com")
		otherIss := save(t, m, c, iss2, "alice", "sa1", "alice@other.example")
		cases := map[string]struct {
			f    session.Filter
			want []string
		}{
			"user":             {session.Filter{Issuer: iss, Subject: "alice"}, want(a1, a2, a3)},
			"user other iss":   {session.Filter{Issuer: iss2, Subject: "alice"}, want(otherIss)},
			"subject any iss":  {session.Filter{Subject: "alice"}, want(a1, a2, a3, otherIss)},
			"sid":              {session.Filter{Issuer: iss, SID: "sa1"}, want(a1)},
			"email any case":   {session.Filter{Email: "ALICE@example.COM"}, want(a1, a2, a3)},
			"email and sid":    {session.Filter{Email: "alice@example.com", Issuer: iss, SID: "sa2"}, want(a2)},
			"user and email":   {session.Filter{Issuer: iss, Subject: "bob", Email: "alice@example.com"}, nil},
			"nobody":           {session.Filter{Issuer: iss, Subject: "carol"}, nil},
			"bob by email":     {session.Filter{Email: "bob@example.com"}, want(b)},
			"sid of other iss": {session.Filter{Issuer: iss2, SID: "sa2"}, nil},
		}
		for name, tc := range cases {
			for _, page := range []int{1, 2, 100} {
				list := listAll(t, m, c, tc.f, page)
				if got := handles(list); !slices.Equal(got, tc.want) {
					t.Errorf("%s (page %d): got %v, want %v", name, page, got, tc.want)
				}
				for _, s := range list {
					if s.IDToken != "" || s.AccessToken != "" || s.RefreshToken != "" || s.ID != "" {
						t.Errorf("%s: List returned secrets", name)
					}
					if s.Email == "" || s.ExpiresAt.IsZero() || s.LastSeenAt.IsZero() {
						t.Errorf("%s: List lost identity: %+v", name, s)
					}
				}
			}
		}
		for name, f := range map[string]session.Filter{
			"empty": {}, "issuer only": {Issuer: iss}, "sid without issuer": {SID: "sa1"},
		} {
			if _, _, err := m.List(c, f, "", 10); !errors.Is(err, session.ErrBadFilter) {
				t.Errorf("%s: List = %v, want session.ErrBadFilter", name, err)
			}
		}
		// Pages are disjoint and in order.
		p1, next, err := m.List(c, session.Filter{Subject: "alice"}, "", 2)
		if err != nil || len(p1) != 2 || next == "" {
			t.Fatalf("first page: %d sessions, next %q, %v", len(p1), next, err)
		}
		p2, next2, err := m.List(c, session.Filter{Subject: "alice"}, next, 2)
		if err != nil || len(p2) != 2 || next2 != "" {
			t.Fatalf("second page: %d sessions, next %q, %v", len(p2), next2, err)
		}
		if p2[0].Handle <= p1[1].Handle {
			t.Fatalf("pages overlap or are out of order")
		}
	})

	t.Run("Manager/ListFollowsEmailChange", func(t *testing.T) {
		m, c := newManager(t), ctx(t)
		s := save(t, m, c, iss, "u1", "sid1", "old@example.com")
		s.Email = "new@example.com"
		if err := m.Save(c, s); err != nil {
			t.Fatal(err)
		}
		if got := listAll(t, m, c, session.Filter{Email: "old@example.com"}, 10); len(got) != 0 {
			t.Fatalf("old email still lists %d sessions", len(got))
		}
		if got := handles(listAll(t, m, c, session.Filter{Email: "new@example.com"}, 10)); !slices.Equal(got, want(s)) {
			t.Fatalf("new email lists %v", got)
		}
	})

	t.Run("Manager/DeleteMatching", func(t *testing.T) {
		m, c := newManager(t), ctx(t)
		a1 := save(t, m, c, iss, "alice", "sa1", "alice@example.com")
		a2 := save(t, m, c, iss, "alice", "sa2", "alice@example.com")
		a3 := save(t, m, c, iss, "alice", "sa3", "alice@example.com")
		b := save(t, m, c, iss, "bob", "sa1", "bob@example.com")
		otherIss := save(t, m, c, iss2, "alice", "sa2", "alice@example.com")

		for name, f := range map[string]session.Filter{
			"empty": {}, "email": {Email: "alice@example.com"}, "subject only": {Subject: "alice"},
			"sid only": {SID: "sa1"}, "issuer only": {Issuer: iss},
		} {
			if n, err := m.DeleteMatching(c, f); !errors.Is(err, session.ErrBadFilter) || n != 0 {
				t.Errorf("%s: DeleteMatching = %d, %v; want session.ErrBadFilter", name, n, err)
			}
		}
		// By provider session: only that one (bob's sa1 is another user's).
		if n, err := m.DeleteMatching(c, session.Filter{Issuer: iss, SID: "sa1", Subject: "alice"}); err != nil || n != 1 {
			t.Fatalf("DeleteMatching(sid) = %d, %v; want 1", n, err)
		}
		if _, err := m.Load(c, a1.ID); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("a1 survived: %v", err)
		}
		// By user: every remaining session of alice at iss.
		if n, err := m.DeleteMatching(c, session.Filter{Issuer: iss, Subject: "alice"}); err != nil || n != 2 {
			t.Fatalf("DeleteMatching(user) = %d, %v; want 2", n, err)
		}
		for _, s := range []*session.Session{a2, a3} {
			if _, err := m.Load(c, s.ID); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("session of revoked user survived: %v", err)
			}
		}
		for _, s := range []*session.Session{b, otherIss} {
			if _, err := m.Load(c, s.ID); err != nil {
				t.Fatalf("unrelated session ended: %v", err)
			}
		}
		if n, err := m.DeleteMatching(c, session.Filter{Issuer: iss, Subject: "alice"}); err != nil || n != 0 {
			t.Fatalf("DeleteMatching again = %d, %v; want 0", n, err)
		}
		if got := listAll(t, m, c, session.Filter{Email: "alice@example.com"}, 10); len(got) != 1 || got[0].Handle != handle(otherIss) {
			t.Fatalf("List by email after revocation = %v", handles(got))
		}
	})

	t.Run("Manager/TouchLastSeen", func(t *testing.T) {
		m, c := newManager(t), ctx(t)
		tm, ok := m.(session.Toucher)
		if !ok {
			t.Fatalf("%T is not a session.Toucher", m)
		}
		s := save(t, m, c, iss, "u1", "sid1", "u1@example.com")
		later := s.LastSeenAt.Add(10 * time.Second)
		if err := tm.Touch(c, s.ID, later); err != nil {
			t.Fatal(err)
		}
		got, err := m.Load(c, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.LastSeenAt.Equal(later) {
			t.Fatalf("LastSeenAt = %v, want %v", got.LastSeenAt, later)
		}
		if byH, _ := m.LoadByHandle(c, handle(s)); byH == nil || !byH.LastSeenAt.Equal(later) {
			t.Fatalf("LoadByHandle LastSeenAt = %v", byH)
		}
		// Never backward.
		if err := tm.Touch(c, s.ID, s.LastSeenAt); err != nil {
			t.Fatal(err)
		}
		if got, _ := m.Load(c, s.ID); !got.LastSeenAt.Equal(later) {
			t.Fatalf("Touch moved LastSeenAt back to %v", got.LastSeenAt)
		}
		// A touch survives a re-save (a refresh) of the session.
		if err := m.Save(c, s); err != nil {
			t.Fatal(err)
		}
		if got, _ := m.Load(c, s.ID); !got.LastSeenAt.Equal(later) {
			t.Fatalf("re-save lost the touch: %v", got.LastSeenAt)
		}
		// Touching a deleted session does not bring it back.
		if err := m.Delete(c, s.ID); err != nil {
			t.Fatal(err)
		}
		if err := tm.Touch(c, s.ID, later.Add(time.Second)); err != nil {
			t.Fatalf("Touch(deleted) = %v", err)
		}
		if _, err := m.Load(c, s.ID); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("Touch resurrected the session: %v", err)
		}
		if err := tm.Touch(c, "bad", later); !errors.Is(err, session.ErrInvalidID) {
			t.Fatalf("Touch(bad id) = %v", err)
		}
	})

	t.Run("Manager/UpdateOnlyWhileStored", func(t *testing.T) {
		m, c := newManager(t), ctx(t)
		s := save(t, m, c, iss, "u1", "sid1", "u1@example.com")
		s.AccessToken, s.Groups, s.Email = "ACCESS-2", []string{"demoted"}, "u1-new@example.com"
		if err := m.Update(c, s); err != nil {
			t.Fatalf("Update(stored) = %v", err)
		}
		got, err := m.Load(c, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		SameSession(t, got, s)
		if got := handles(listAll(t, m, c, session.Filter{Email: "u1-new@example.com"}, 10)); !slices.Equal(got, want(s)) {
			t.Fatalf("Update not indexed: %v", got)
		}
		// Ended by any route, a session stays ended.
		ends := map[string]func(*session.Session){
			"Delete":         func(x *session.Session) { _ = m.Delete(c, x.ID) },
			"DeleteByHandle": func(x *session.Session) { _ = m.DeleteByHandle(c, handle(x)) },
			"DeleteMatching": func(x *session.Session) {
				_, _ = m.DeleteMatching(c, session.Filter{Issuer: x.Issuer, Subject: x.Subject})
			},
			"never saved": func(*session.Session) {},
		}
		for name, end := range ends {
			x := FullSession(t, o.Now(), o.Now().Add(time.Hour))
			x.Issuer, x.Subject = iss, "ended-"+strings.ReplaceAll(name, " ", "-")
			if name != "never saved" {
				if err := m.Save(c, x); err != nil {
					t.Fatal(err)
				}
			}
			end(x)
			if err := m.Update(c, x); !errors.Is(err, session.ErrNotFound) {
				t.Errorf("%s: Update = %v, want session.ErrNotFound", name, err)
			}
			if _, err := m.Load(c, x.ID); !errors.Is(err, session.ErrNotFound) {
				t.Errorf("%s: Update brought the session back: %v", name, err)
			}
		}
		x := FullSession(t, o.Now(), o.Now().Add(time.Hour))
		x.ExpiresAt = o.Now().Add(-time.Second)
		if err := m.Update(c, x); !errors.Is(err, session.ErrExpired) {
			t.Errorf("Update(expired) = %v, want session.ErrExpired", err)
		}
		x.ID = "bad"
		if err := m.Update(c, x); !errors.Is(err, session.ErrInvalidID) {
			t.Errorf("Update(bad id) = %v, want session.ErrInvalidID", err)
		}
	})

	t.Run("Manager/TryLock", func(t *testing.T) {
		m, c := newManager(t), ctx(t)
		const ttl = 300 * time.Millisecond
		rel, ok, err := m.TryLock(c, "refresh:abc", ttl)
		if err != nil || !ok {
			t.Fatalf("first TryLock = %v, %v", ok, err)
		}
		if _, ok, err := m.TryLock(c, "refresh:abc", ttl); err != nil || ok {
			t.Fatalf("second TryLock = %v, %v; want held", ok, err)
		}
		relOther, ok, err := m.TryLock(c, "refresh:other", ttl)
		if err != nil || !ok {
			t.Fatalf("other name TryLock = %v, %v", ok, err)
		}
		defer relOther()
		rel()
		rel2, ok, err := m.TryLock(c, "refresh:abc", ttl)
		if err != nil || !ok {
			t.Fatalf("TryLock after release = %v, %v", ok, err)
		}
		// Let it expire; a new holder takes it; the old holder's late
		// release must not free the new holder's lock.
		if o.Advance != nil {
			o.Advance(ttl)
		} else {
			time.Sleep(ttl + 100*time.Millisecond)
		}
		rel3, ok, err := m.TryLock(c, "refresh:abc", time.Minute)
		if err != nil || !ok {
			t.Fatalf("TryLock after expiry = %v, %v", ok, err)
		}
		defer rel3()
		rel2()
		if _, ok, err := m.TryLock(c, "refresh:abc", ttl); err != nil || ok {
			t.Fatalf("stale release freed the new holder's lock (TryLock = %v, %v)", ok, err)
		}
		for _, bad := range []time.Duration{0, -time.Second} {
			if _, ok, err := m.TryLock(c, "x", bad); err == nil || ok {
				t.Errorf("TryLock(ttl %v) = %v, %v; want error", bad, ok, err)
			}
		}
	})
}
