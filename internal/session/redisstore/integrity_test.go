package redisstore

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/sessiontest"
)

// tampered returns a copy of the stored record data with field changed to
// another value of its JSON kind, or false for a kind it cannot alter.
func tampered(t *testing.T, data []byte, field string) ([]byte, bool) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	switch v := m[field].(type) {
	case string:
		if ts, err := time.Parse(time.RFC3339Nano, v); err == nil {
			m[field] = ts.Add(time.Hour).Format(time.RFC3339Nano)
		} else {
			m[field] = v + "x"
		}
	case bool:
		m[field] = !v
	case []any:
		m[field] = append(v, "admins")
	default:
		return nil, false
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out, true
}

// TestRedisRecordIdentityAuthenticated: whoever can write to Redis but
// holds no session ID cannot change the identity a session carries (email,
// groups, email_verified, any stored field), strip its seal, or move
// another session's record under it: the session is treated as gone.
func TestRedisRecordIdentityAuthenticated(t *testing.T) {
	st, rc := newTestRedisStore(t)
	ctx := t.Context()
	now := time.Now()
	raw := func(s *session.Session) (string, []byte) {
		t.Helper()
		h, _ := session.HandleOf(s.ID)
		data, err := rc.Get(ctx, st.key(h)).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return st.key(h), data
	}
	refused := func(what string, s *session.Session, key string, data []byte) {
		t.Helper()
		if err := rc.Set(ctx, key, data, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Load(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
			if got != nil {
				t.Errorf("%s: Load accepted the altered record (email %q, groups %v, verified %v)", what, got.Email, got.Groups, got.EmailVerified)
			} else {
				t.Errorf("%s: Load = %v, want session.ErrNotFound", what, err)
			}
		}
	}

	withTokens := sessiontest.FullSession(t, now, now.Add(time.Hour))
	noTokens := sessiontest.FullSession(t, now, now.Add(time.Hour))
	noTokens.IDToken, noTokens.AccessToken, noTokens.RefreshToken = "", "", ""
	noTokens.Groups, noTokens.EmailVerified = []string{"users"}, false
	for name, s := range map[string]*session.Session{"with tokens": withTokens, "without tokens": noTokens} {
		if err := st.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		key, orig := raw(s)
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(orig, &fields); err != nil {
			t.Fatal(err)
		}
		for f := range fields {
			if f == "tokens" {
				continue
			}
			data, ok := tampered(t, orig, f)
			if !ok {
				t.Fatalf("%s: cannot alter field %s", name, f)
			}
			refused(name+": altered "+f, s, key, data)
		}
		// A record that has not been written by this version, or whose seal
		// was removed, is not trusted either.
		var m map[string]any
		_ = json.Unmarshal(orig, &m)
		delete(m, "tokens")
		m["groups"] = []string{"admins"}
		unsealed, _ := json.Marshal(m)
		refused(name+": seal removed", s, key, unsealed)
		// The untouched record still opens.
		if err := rc.Set(ctx, key, orig, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Load(ctx, s.ID); err != nil {
			t.Fatalf("%s: untouched record refused: %v", name, err)
		}
	}
	// An admin's record copied over a user's session does not make the user
	// an admin.
	_, adminRec := raw(withTokens)
	userKey, _ := raw(noTokens)
	refused("another session's record", noTokens, userKey, adminRec)
}
