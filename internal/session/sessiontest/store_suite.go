package sessiontest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
)

// SuiteOptions describes what a store under the shared suite needs.
type SuiteOptions struct {
	// NewStore returns a fresh, empty store; it registers its own cleanup.
	NewStore func(t *testing.T) session.Store
	// Lifetime is how long the expiry case's session lives; wait bounds how
	// long the case polls for it to disappear.
	Lifetime, Wait time.Duration
	// Advance, if set, moves the store's clock forward instead of sleeping.
	Advance func(d time.Duration)
	// Now is the store's clock.
	Now func() time.Time
}

// NewID returns a fresh session ID.
func NewID(t testing.TB) string {
	t.Helper()
	id, err := session.NewID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// FullSession returns a session with every field set, expiring at exp.
func FullSession(t testing.TB, now, exp time.Time) *session.Session {
	t.Helper()
	return &session.Session{
		ID:                NewID(t),
		Provider:          "keycloak",
		Issuer:            "https://idp.example.com/realms/acme",
		Subject:           "248289761001",
		SID:               "idp-session-7f3a",
		User:              "jane",
		Email:             "jane@example.com",
		EmailVerified:     true,
		PreferredUsername: "jane.doe",
		Groups:            []string{"admins", "ml-team"},
		CreatedAt:         now.Add(-time.Minute).Round(0),
		ExpiresAt:         exp.Round(0),
		LastSeenAt:        now.Add(-30 * time.Second).Truncate(time.Millisecond),
		IDToken:           "eyJhbGciOiJSUzI1NiJ9.ID-TOKEN-PLAINTEXT-d41d8cd98f00b204.sig",
		AccessToken:       "ACCESS-TOKEN-PLAINTEXT-9e107d9d372bb6826bd81d3542a419d6",
		RefreshToken:      "REFRESH-TOKEN-PLAINTEXT-e4d909c290d0fb1ca068ffaddf22cbd0",
		TokenExpiry:       now.Add(5 * time.Minute).Round(0),
	}
}

// SameSession fails t unless got equals want field by field (times by
// instant), and got.Handle names want.ID (or is empty when want's is).
func SameSession(t *testing.T, got, want *session.Session) {
	t.Helper()
	if got.Handle != want.Handle {
		if h, _ := session.HandleOf(want.ID); got.Handle != h {
			t.Fatalf("Handle = %q, want %q", got.Handle, h)
		}
	}
	norm := func(s session.Session) session.Session {
		s.Handle = ""
		for _, p := range []*time.Time{&s.CreatedAt, &s.ExpiresAt, &s.LastSeenAt, &s.TokenExpiry} {
			if !p.IsZero() {
				*p = p.UTC()
			}
		}
		return s
	}
	g, w := norm(*got), norm(*want)
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("session mismatch:\n got %+v\nwant %+v", g, w)
	}
}

// RunStoreSuite runs the behaviour every Store must have against the stores
// that o.NewStore makes.
func RunStoreSuite(t *testing.T, o SuiteOptions) {
	ctx := func(t *testing.T) context.Context {
		c, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		t.Cleanup(cancel)
		return c
	}

	t.Run("RoundTripEveryField", func(t *testing.T) {
		st, c := o.NewStore(t), ctx(t)
		want := FullSession(t, o.Now(), o.Now().Add(time.Hour))
		if err := st.Save(c, want); err != nil {
			t.Fatal(err)
		}
		got, err := st.Load(c, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		SameSession(t, got, want)
		// Every field must be set, so a field added to Session but not
		// stored fails this test.
		v := reflect.ValueOf(*got)
		for i := range v.NumField() {
			if v.Type().Field(i).Name == "HasRefreshToken" {
				continue // derived on token-less copies, never stored
			}
			if v.Field(i).IsZero() {
				t.Errorf("field %s did not round-trip (zero)", v.Type().Field(i).Name)
			}
		}
	})

	t.Run("RoundTripMinimal", func(t *testing.T) {
		st, c := o.NewStore(t), ctx(t)
		want := &session.Session{ID: NewID(t), Subject: "s", ExpiresAt: o.Now().Add(time.Hour).Round(0)}
		if err := st.Save(c, want); err != nil {
			t.Fatal(err)
		}
		got, err := st.Load(c, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		SameSession(t, got, want)
	})

	t.Run("Replace", func(t *testing.T) {
		st, c := o.NewStore(t), ctx(t)
		s := FullSession(t, o.Now(), o.Now().Add(time.Hour))
		if err := st.Save(c, s); err != nil {
			t.Fatal(err)
		}
		s.AccessToken, s.Groups = "ACCESS-2", []string{"other"}
		if err := st.Save(c, s); err != nil {
			t.Fatal(err)
		}
		got, err := st.Load(c, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		SameSession(t, got, s)
	})

	t.Run("NotFound", func(t *testing.T) {
		st, c := o.NewStore(t), ctx(t)
		got, err := st.Load(c, NewID(t))
		if !errors.Is(err, session.ErrNotFound) || got != nil {
			t.Fatalf("Load(unknown) = %v, %v; want nil, session.ErrNotFound", got, err)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		st, c := o.NewStore(t), ctx(t)
		s := FullSession(t, o.Now(), o.Now().Add(time.Hour))
		other := FullSession(t, o.Now(), o.Now().Add(time.Hour))
		for _, x := range []*session.Session{s, other} {
			if err := st.Save(c, x); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Delete(c, s.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Load(c, s.ID); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("Load after Delete: %v, want session.ErrNotFound", err)
		}
		if _, err := st.Load(c, other.ID); err != nil {
			t.Fatalf("Delete removed another session: %v", err)
		}
	})

	t.Run("DeleteMissing", func(t *testing.T) {
		st, c := o.NewStore(t), ctx(t)
		if err := st.Delete(c, NewID(t)); err != nil {
			t.Fatalf("Delete(missing) = %v, want nil", err)
		}
	})

	t.Run("Expiry", func(t *testing.T) {
		st, c := o.NewStore(t), ctx(t)
		s := FullSession(t, o.Now(), o.Now().Add(o.Lifetime))
		if err := st.Save(c, s); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Load(c, s.ID); err != nil {
			t.Fatalf("Load before expiry: %v", err)
		}
		if o.Advance != nil {
			o.Advance(o.Lifetime)
		}
		deadline := time.Now().Add(o.Wait)
		for {
			_, err := st.Load(c, s.ID)
			if errors.Is(err, session.ErrNotFound) {
				break
			}
			if err != nil {
				t.Fatalf("Load after expiry: %v, want session.ErrNotFound", err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("session still loadable %v after it expired", o.Wait)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	t.Run("SaveExpiredRefused", func(t *testing.T) {
		st, c := o.NewStore(t), ctx(t)
		for name, exp := range map[string]time.Time{
			"past": o.Now().Add(-time.Second),
			"now":  o.Now(),
			"zero": {},
		} {
			s := FullSession(t, o.Now(), o.Now())
			s.ExpiresAt = exp
			if err := st.Save(c, s); !errors.Is(err, session.ErrExpired) {
				t.Errorf("%s: Save = %v, want session.ErrExpired", name, err)
			}
			if _, err := st.Load(c, s.ID); !errors.Is(err, session.ErrNotFound) {
				t.Errorf("%s: refused session stored anyway: %v", name, err)
			}
		}
	})

	t.Run("InvalidIDs", func(t *testing.T) {
		st, c := o.NewStore(t), ctx(t)
		good := NewID(t)
		// The same bytes as good but with different padding bits in the
		// last character: a second spelling of one ID must not be accepted.
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		alias := good[:len(good)-1] + string(alphabet[strings.IndexByte(alphabet, good[len(good)-1])^1])
		bad := map[string]string{
			"empty":      "",
			"short":      good[:20],
			"long":       good + "A",
			"std-base64": strings.NewReplacer("-", "+", "_", "/").Replace(good) + "+",
			"padded":     good + "=",
			"newline":    good[:10] + "\n" + good[10:],
			"space":      " " + good[1:],
			"nul":        "\x00" + good[1:],
			"unicode":    "é" + good[2:],
			"huge":       strings.Repeat("A", 1<<20),
			"alias":      alias,
			"traversal":  "../../../../etc/passwd/AAAAAAAAAAAAAAAAAAAAAAA",
			"redis-glob": strings.Repeat("*", len(good)),
		}
		s := FullSession(t, o.Now(), o.Now().Add(time.Hour))
		s.ID = good
		if err := st.Save(c, s); err != nil {
			t.Fatal(err)
		}
		for name, id := range bad {
			if _, err := st.Load(c, id); !errors.Is(err, session.ErrInvalidID) {
				t.Errorf("%s: Load = %v, want session.ErrInvalidID", name, err)
			}
			if err := st.Delete(c, id); !errors.Is(err, session.ErrInvalidID) {
				t.Errorf("%s: Delete = %v, want session.ErrInvalidID", name, err)
			}
			x := FullSession(t, o.Now(), o.Now().Add(time.Hour))
			x.ID = id
			if err := st.Save(c, x); !errors.Is(err, session.ErrInvalidID) {
				t.Errorf("%s: Save = %v, want session.ErrInvalidID", name, err)
			}
		}
		if err := st.Save(c, nil); err == nil {
			t.Error("Save(nil) succeeded")
		}
		if _, err := st.Load(c, good); err != nil {
			t.Errorf("good session harmed by bad IDs: %v", err)
		}
	})

	t.Run("ReturnsCopies", func(t *testing.T) {
		st, c := o.NewStore(t), ctx(t)
		s := FullSession(t, o.Now(), o.Now().Add(time.Hour))
		if err := st.Save(c, s); err != nil {
			t.Fatal(err)
		}
		want := *s
		want.Groups = append([]string(nil), s.Groups...)
		// Mutating the saved value must not reach the store.
		s.Email, s.Groups[0], s.AccessToken = "mallory@evil.example", "root", "x"
		got, err := st.Load(c, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		SameSession(t, got, &want)
		// Nor may mutating a loaded value.
		got.Email, got.Groups[0], got.RefreshToken = "mallory@evil.example", "root", "x"
		again, err := st.Load(c, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		SameSession(t, again, &want)
	})

	t.Run("Concurrent", func(t *testing.T) {
		st, c := o.NewStore(t), ctx(t)
		shared := FullSession(t, o.Now(), o.Now().Add(time.Hour))
		if err := st.Save(c, shared); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for w := range 8 {
			wg.Go(func() {
				for i := range 25 {
					own := FullSession(t, o.Now(), o.Now().Add(time.Hour))
					own.User = fmt.Sprintf("w%d-%d", w, i)
					if err := st.Save(c, own); err != nil {
						errs <- err
						return
					}
					got, err := st.Load(c, own.ID)
					if err != nil || got.User != own.User {
						errs <- fmt.Errorf("own session: %v %v", got, err)
						return
					}
					if got, err := st.Load(c, shared.ID); err != nil || got.Email != shared.Email {
						errs <- fmt.Errorf("shared session: %v", err)
						return
					}
					if err := st.Save(c, shared); err != nil {
						errs <- err
						return
					}
					if err := st.Delete(c, own.ID); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	t.Run("ContextCancelled", func(t *testing.T) {
		st := o.NewStore(t)
		s := FullSession(t, o.Now(), o.Now().Add(time.Hour))
		if err := st.Save(ctx(t), s); err != nil {
			t.Fatal(err)
		}
		cancelled, cancel := context.WithCancel(t.Context())
		cancel()
		expired, cancel2 := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
		defer cancel2()
		for name, c := range map[string]context.Context{"cancelled": cancelled, "deadline": expired} {
			start := time.Now()
			if _, err := st.Load(c, s.ID); err == nil || errors.Is(err, session.ErrNotFound) {
				t.Errorf("%s: Load = %v, want a context error", name, err)
			} else if !errors.Is(err, c.Err()) {
				t.Errorf("%s: Load error %v does not wrap %v", name, err, c.Err())
			}
			if err := st.Save(c, s); err == nil {
				t.Errorf("%s: Save succeeded", name)
			}
			if err := st.Delete(c, s.ID); err == nil {
				t.Errorf("%s: Delete succeeded", name)
			}
			if err := st.Ping(c); err == nil {
				t.Errorf("%s: Ping succeeded", name)
			}
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Errorf("%s: calls took %v", name, d)
			}
		}
		// The refused Delete must not have happened.
		if _, err := st.Load(ctx(t), s.ID); err != nil {
			t.Fatalf("session gone after cancelled Delete: %v", err)
		}
	})

	t.Run("Ping", func(t *testing.T) {
		if err := o.NewStore(t).Ping(ctx(t)); err != nil {
			t.Fatal(err)
		}
	})

	RunManagerSuite(t, o, ctx)
}
