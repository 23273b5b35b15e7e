package redisstore

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	sessionv1 "github.com/gatehouse/gatehouse/gen/gatehouse/session/v1"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/sessiontest"
)

// tamperedV2 returns a copy of a stored v2 record with field changed to
// another value of its JSON kind, or false for a kind it cannot alter.
func tamperedV2(t *testing.T, data []byte, field string) ([]byte, bool) {
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

// v2Variants are a stored v2 record with each of its fields altered in
// turn, and with its seal removed.
func v2Variants(t *testing.T, orig []byte) map[string][]byte {
	t.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(orig, &fields); err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for f := range fields {
		if f == "tokens" {
			continue
		}
		data, ok := tamperedV2(t, orig, f)
		if !ok {
			t.Fatalf("cannot alter field %s", f)
		}
		out["altered "+f] = data
	}
	// A record whose seal was removed is not trusted either.
	var m map[string]any
	_ = json.Unmarshal(orig, &m)
	delete(m, "tokens")
	m["groups"] = []string{"admins"}
	out["seal removed"], _ = json.Marshal(m)
	return out
}

// encodeV2 writes s as the v2 (JSON) record of earlier releases did, which
// production code only reads now: identity JSON, and the tokens' JSON
// sealed under HKDF(ID, "gatehouse session record v2") with the identity
// JSON as additional data.
func encodeV2(t *testing.T, s *session.Session) []byte {
	t.Helper()
	idBytes, err := session.ParseID(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	key, err := hkdf.Key(sha256.New, idBytes, nil, "gatehouse session record v2", 32)
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	ad, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := json.Marshal(struct {
		ID      string `json:"id,omitempty"`
		Access  string `json:"access,omitempty"`
		Refresh string `json:"refresh,omitempty"`
	}{s.IDToken, s.AccessToken, s.RefreshToken})
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(struct {
		*session.Session
		Tokens []byte `json:"tokens"`
	}{s, aead.Seal(nonce, nonce, plain, ad)})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// frameV3 is a v3 record of identity (a serialized Identity) and sealed
// tokens, framed as the store writes it.
func frameV3(t *testing.T, identity, sealed []byte) []byte {
	t.Helper()
	out, err := proto.Marshal(&sessionv1.Record{Identity: identity, SealedTokens: sealed})
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte{0x03}, out...)
}

// v3Variants are a stored v3 record with each field of the Identity
// message altered in turn (set or not: strings +"x", bools flipped, times
// +1h, repeated +"admins") and re-framed with the original seal, with its
// seal removed, and with each byte flipped in turn. It also returns the
// record re-framed untouched, which must open.
func v3Variants(t *testing.T, orig []byte) (map[string][]byte, []byte) {
	t.Helper()
	if len(orig) == 0 || orig[0] != 0x03 {
		t.Fatalf("stored record is not v3: % x", orig[:min(len(orig), 8)])
	}
	var rec sessionv1.Record
	if err := proto.Unmarshal(orig[1:], &rec); err != nil {
		t.Fatal(err)
	}
	var ident sessionv1.Identity
	if err := proto.Unmarshal(rec.GetIdentity(), &ident); err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	fields := ident.ProtoReflect().Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		m := proto.Clone(&ident).(*sessionv1.Identity)
		r := m.ProtoReflect()
		switch {
		case fd.IsList() && fd.Kind() == protoreflect.StringKind:
			r.Mutable(fd).List().Append(protoreflect.ValueOfString("admins"))
		case fd.Kind() == protoreflect.StringKind:
			r.Set(fd, protoreflect.ValueOfString(r.Get(fd).String()+"x"))
		case fd.Kind() == protoreflect.BoolKind:
			r.Set(fd, protoreflect.ValueOfBool(!r.Get(fd).Bool()))
		case fd.Kind() == protoreflect.Sfixed64Kind || fd.Kind() == protoreflect.Int64Kind:
			r.Set(fd, protoreflect.ValueOfInt64(r.Get(fd).Int()+int64(time.Hour)))
		default:
			t.Fatalf("cannot alter field %s of kind %v", fd.Name(), fd.Kind())
		}
		identity, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(identity, rec.GetIdentity()) {
			t.Fatalf("altering %s left the identity as it was", fd.Name())
		}
		out["altered "+string(fd.Name())] = frameV3(t, identity, rec.GetSealedTokens())
	}
	admin := proto.Clone(&ident).(*sessionv1.Identity)
	admin.Groups = []string{"admins"}
	adminIdentity, err := proto.Marshal(admin)
	if err != nil {
		t.Fatal(err)
	}
	out["seal removed"] = frameV3(t, rec.GetIdentity(), nil)
	out["seal removed, groups admins"] = frameV3(t, adminIdentity, nil)
	for i := range orig {
		d := bytes.Clone(orig)
		d[i] ^= 0xff
		out[fmt.Sprintf("byte %d flipped", i)] = d
	}
	return out, frameV3(t, rec.GetIdentity(), rec.GetSealedTokens())
}

// TestRedisRecordIdentityAuthenticated: whoever can write to Redis but
// holds no session ID cannot change the identity a session carries (email,
// groups, email_verified, any stored field), strip its seal, alter any
// byte, or move another session's record under it: the session is treated
// as gone. This holds for the v3 records the store writes and for the v2
// records of earlier releases that it still reads.
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
	set := func(key string, data []byte) {
		t.Helper()
		if err := rc.Set(ctx, key, data, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(what string, s *session.Session, key string, data []byte) {
		t.Helper()
		set(key, data)
		if got, err := st.Load(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
			if got != nil {
				t.Errorf("%s: Load accepted the altered record (email %q, groups %v, verified %v)", what, got.Email, got.Groups, got.EmailVerified)
			} else {
				t.Errorf("%s: Load = %v, want session.ErrNotFound", what, err)
			}
		}
	}
	opens := func(what string, s *session.Session, key string, data []byte) {
		t.Helper()
		set(key, data)
		got, err := st.Load(ctx, s.ID)
		if err != nil {
			t.Fatalf("%s: untouched record refused: %v", what, err)
		}
		sessiontest.SameSession(t, got, s)
	}

	for _, format := range []string{"v3", "v2"} {
		withTokens := sessiontest.FullSession(t, now, now.Add(time.Hour))
		// Some fields unset, so that setting them is tried too.
		noTokens := sessiontest.FullSession(t, now, now.Add(time.Hour))
		noTokens.IDToken, noTokens.AccessToken, noTokens.RefreshToken = "", "", ""
		noTokens.Groups, noTokens.EmailVerified = []string{"users"}, false
		noTokens.SID, noTokens.PreferredUsername, noTokens.LastSeenAt = "", "", time.Time{}
		for name, s := range map[string]*session.Session{"with tokens": withTokens, "without tokens": noTokens} {
			name = format + ", " + name
			if err := st.Save(ctx, s); err != nil {
				t.Fatal(err)
			}
			key, orig := raw(s)
			var variants map[string][]byte
			if format == "v2" {
				orig = encodeV2(t, s)
				variants = v2Variants(t, orig)
			} else {
				var reframed []byte
				variants, reframed = v3Variants(t, orig)
				opens(name+": re-framed", s, key, reframed)
			}
			for what, data := range variants {
				refused(name+": "+what, s, key, data)
			}
			opens(name, s, key, orig)
		}
		// An admin's record copied over a user's session does not make the
		// user an admin.
		_, adminRec := raw(withTokens)
		userKey, _ := raw(noTokens)
		refused(format+": another session's record", noTokens, userKey, adminRec)
	}
}
