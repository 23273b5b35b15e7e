package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	sessionv1 "github.com/gatehouse/gatehouse/gen/gatehouse/session/v1"
	"github.com/gatehouse/gatehouse/internal/session"
)

// same fails t unless got equals want in every field (times by instant and
// in UTC), ignoring Handle.
func same(t *testing.T, got, want *session.Session) {
	t.Helper()
	if !equalSessions(got, want) {
		t.Fatalf("session mismatch:\n got %+v\nwant %+v", *got, *want)
	}
}

// equalSessions reports whether a and b are the same session (times by
// instant, Handle ignored). A decoded non-zero time must be in UTC.
func equalSessions(got, want *session.Session) bool {
	norm := func(s session.Session) session.Session {
		s.Handle = ""
		for _, p := range []*time.Time{&s.CreatedAt, &s.ExpiresAt, &s.LastSeenAt, &s.TokenExpiry} {
			if !p.IsZero() {
				*p = p.UTC()
			}
		}
		return s
	}
	for _, tm := range []time.Time{got.CreatedAt, got.ExpiresAt, got.LastSeenAt, got.TokenExpiry} {
		if !tm.IsZero() && tm.Location() != time.UTC {
			return false
		}
	}
	return reflect.DeepEqual(norm(*got), norm(*want))
}

// golden is the v2 record in testdata, written by the v2 encoder of the
// release before v3, its session ID, and the instant it was written at.
func golden(t testing.TB) (id string, data []byte, now time.Time) {
	t.Helper()
	rawID, err := os.ReadFile("testdata/v2-record.id")
	if err != nil {
		t.Fatal(err)
	}
	data, err = os.ReadFile("testdata/v2-record.json")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(rawID)), data, time.Date(2026, 12, 1, 13, 40, 0, 0, time.UTC)
}

// goldenSession is the session the golden record holds.
func goldenSession(id string, now time.Time) *session.Session {
	return &session.Session{
		ID: id, Provider: "keycloak", Issuer: "https://idp.example.com/realms/acme",
		Subject: "248289761001", SID: "idp-session-7f3a", User: "jane", Email: "jane@example.com",
		EmailVerified: true, PreferredUsername: "jane.doe", Groups: []string{"admins", "ml-team", "vpn"},
		CreatedAt: now.Add(-time.Minute), ExpiresAt: now.Add(8 * time.Hour),
		LastSeenAt: now.Add(-30*time.Second + 123456789), TokenExpiry: now.Add(5 * time.Minute),
		IDToken: "golden-id-token", AccessToken: "golden-access-token", RefreshToken: "golden-refresh-token",
	}
}

// TestV2RecordStillLoads: a session written before v3 keeps working after
// the upgrade, tokens and all, and is written back as v3.
func TestV2RecordStillLoads(t *testing.T) {
	id, data, now := golden(t)
	if data[0] != '{' {
		t.Fatalf("golden record is not v2: %q", data[:1])
	}
	got, err := Decode(id, data, now)
	if err != nil {
		t.Fatalf("Decode(v2 golden) = %v", err)
	}
	want := goldenSession(id, now)
	same(t, got, want)
	ident, err := Identity(data)
	if err != nil {
		t.Fatal(err)
	}
	noTokens := *want
	noTokens.ID, noTokens.IDToken, noTokens.AccessToken, noTokens.RefreshToken = "", "", "", ""
	same(t, ident, &noTokens)
	_, again, _, err := Encode(got, now)
	if err != nil {
		t.Fatal(err)
	}
	if again[0] != versionV3 {
		t.Fatalf("re-saved v2 session written as %#x, want v3", again[0])
	}
	if _, err := Decode(id, data, want.ExpiresAt); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Decode(expired v2) = %v, want ErrNotFound", err)
	}
}

// TestV3RoundTrip: every field comes back, times as the same instants in
// UTC whatever zone they were written in; Identity gives the clear part.
func TestV3RoundTrip(t *testing.T) {
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	now := time.Date(2026, 12, 1, 12, 0, 0, 7, zone)
	for name, s := range map[string]*session.Session{
		"full":      benchSession(t, now),
		"no tokens": {ID: benchSession(t, now).ID, Subject: "s", ExpiresAt: now.Add(time.Hour)},
	} {
		_, data, _, err := Encode(s, now)
		if err != nil {
			t.Fatal(err)
		}
		if data[0] != versionV3 {
			t.Fatalf("%s: written as %#x, want v3", name, data[0])
		}
		got, err := Decode(s.ID, data, now)
		if err != nil {
			t.Fatalf("%s: Decode = %v", name, err)
		}
		same(t, got, s)
		ident, err := DecodeIdentity("h", data, now)
		if err != nil {
			t.Fatal(err)
		}
		want := s.WithoutTokens()
		want.ID, want.HasRefreshToken = "", false
		same(t, ident, want)
		if ident.Handle != "h" {
			t.Errorf("%s: DecodeIdentity Handle = %q", name, ident.Handle)
		}
		if _, err := Decode(s.ID, data, s.ExpiresAt); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("%s: Decode(expired) = %v, want ErrNotFound", name, err)
		}
		if _, err := DecodeIdentity("h", data, s.ExpiresAt); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("%s: DecodeIdentity(expired) = %v, want ErrNotFound", name, err)
		}
	}
}

// TestV3ReadsAsTheSchemaSays: the record is the documented layout, readable
// with the generated code, the tokens nowhere in clear.
func TestV3ReadsAsTheSchemaSays(t *testing.T) {
	now := time.Now()
	s := benchSession(t, now)
	_, data, _, err := Encode(s, now)
	if err != nil {
		t.Fatal(err)
	}
	var rec sessionv1.Record
	if err := proto.Unmarshal(data[1:], &rec); err != nil {
		t.Fatal(err)
	}
	var ident sessionv1.Identity
	if err := proto.Unmarshal(rec.GetIdentity(), &ident); err != nil {
		t.Fatal(err)
	}
	if ident.GetEmail() != s.Email || !slicesEqual(ident.GetGroups(), s.Groups) ||
		ident.GetExpiresAt() != s.ExpiresAt.UnixNano() || ident.GetLastSeenAt() != s.LastSeenAt.UnixNano() {
		t.Fatalf("identity = %v", &ident)
	}
	// The tokens open with the documented key and additional data.
	idBytes, _ := session.ParseID(s.ID)
	aead, err := recordAEAD(idBytes, "gatehouse session record v3")
	if err != nil {
		t.Fatal(err)
	}
	sealed, ns := rec.GetSealedTokens(), aead.NonceSize()
	plain, err := aead.Open(nil, sealed[:ns], sealed[ns:], append([]byte{0x03}, rec.GetIdentity()...))
	if err != nil {
		t.Fatalf("tokens do not open with the documented key and additional data: %v", err)
	}
	var tok sessionv1.Tokens
	if err := proto.Unmarshal(plain, &tok); err != nil {
		t.Fatal(err)
	}
	if tok.GetId() != s.IDToken || tok.GetAccess() != s.AccessToken || tok.GetRefresh() != s.RefreshToken {
		t.Fatal("sealed tokens differ")
	}
	for _, tok := range []string{s.IDToken, s.AccessToken, s.RefreshToken} {
		if bytes.Contains(data, []byte(tok[:40])) {
			t.Fatal("a token is stored in clear")
		}
	}
}

func slicesEqual(a, b []string) bool { return reflect.DeepEqual(a, b) }

// TestDecodeRefuses: a record is only opened with its own ID, in its own
// format, every byte as written; anything else is ErrNotFound, never a
// panic.
func TestDecodeRefuses(t *testing.T) {
	now := time.Now()
	s := benchSession(t, now)
	s.IDToken, s.AccessToken, s.RefreshToken = "i", "a", "r"
	_, data, _, err := Encode(s, now)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := session.NewID()
	identity, sealed, err := frameV3(data)
	if err != nil {
		t.Fatal(err)
	}
	reframe := func(version byte, identity, sealed []byte) []byte {
		out, err := proto.Marshal(&sessionv1.Record{Identity: identity, SealedTokens: sealed})
		if err != nil {
			t.Fatal(err)
		}
		return append([]byte{version}, out...)
	}
	cases := map[string]struct {
		id   string
		data []byte
	}{
		"another ID":         {other, data},
		"malformed ID":       {"x", data},
		"empty":              {s.ID, nil},
		"unknown version":    {s.ID, append([]byte{0x04}, data[1:]...)},
		"truncated":          {s.ID, data[:len(data)-1]},
		"trailing byte":      {s.ID, append(bytes.Clone(data), 0)},
		"trailing field":     {s.ID, append(bytes.Clone(data), 0x1a, 0)},
		"no seal":            {s.ID, reframe(versionV3, identity, nil)},
		"short seal":         {s.ID, reframe(versionV3, identity, sealed[:27])},
		"no identity":        {s.ID, reframe(versionV3, nil, sealed)},
		"non-minimal length": {s.ID, nonMinimal(t, data)},
		"v3 seal, v2 key":    {s.ID, v3AsV2(t, s, sealed)},
	}
	for name, c := range cases {
		if got, err := Decode(c.id, c.data, now); !errors.Is(err, session.ErrNotFound) || got != nil {
			t.Errorf("%s: Decode = %v, %v; want ErrNotFound", name, got, err)
		}
	}
	for i := range data {
		for bit := range 8 {
			d := bytes.Clone(data)
			d[i] ^= 1 << bit
			if got, err := Decode(s.ID, d, now); !errors.Is(err, session.ErrNotFound) || got != nil {
				t.Fatalf("byte %d bit %d flipped: Decode = %+v, %v; want ErrNotFound", i, bit, got, err)
			}
		}
	}
	if _, err := Decode(s.ID, data, now); err != nil {
		t.Fatalf("untouched record refused: %v", err)
	}
}

// nonMinimal re-frames a v3 record with the identity's length as a
// varint one byte longer than it needs.
func nonMinimal(t *testing.T, data []byte) []byte {
	t.Helper()
	identity, sealed, err := frameV3(data)
	if err != nil {
		t.Fatal(err)
	}
	length := protowire.AppendVarint(nil, uint64(len(identity)))
	length[len(length)-1] |= 0x80
	out := append(append([]byte{versionV3, 0x0a}, length...), 0)
	out = append(out, identity...)
	tail, err := proto.Marshal(&sessionv1.Record{SealedTokens: sealed})
	if err != nil {
		t.Fatal(err)
	}
	return append(out, tail...)
}

// v3AsV2 puts a v3 seal into a v2 record of the same session: the v2 key
// must not open it.
func v3AsV2(t *testing.T, s *session.Session, sealed []byte) []byte {
	t.Helper()
	v2 := mustEncodeV2(t, s)
	if _, err := Decode(s.ID, v2, time.Now()); err != nil {
		t.Fatalf("v2 record of the same session refused: %v", err)
	}
	var rec recordV2
	rec.Session = &session.Session{}
	if err := json.Unmarshal(v2, &rec); err != nil {
		t.Fatal(err)
	}
	rec.Tokens = sealed
	out, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestV2AndV3KeysDiffer: the two formats' keys differ, so a seal of one
// never opens as the other.
func TestV2AndV3KeysDiffer(t *testing.T) {
	id, _ := session.NewID()
	idBytes, _ := session.ParseID(id)
	a2, err := recordAEAD(idBytes, infoV2)
	if err != nil {
		t.Fatal(err)
	}
	a3, err := recordAEAD(idBytes, infoV3)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, a3.NonceSize())
	sealed := a3.Seal(nil, nonce, []byte("tokens"), []byte("ad"))
	if _, err := a2.Open(nil, nonce, sealed, []byte("ad")); err == nil {
		t.Fatal("a v3 seal opens with the v2 key")
	}
	if _, err := a3.Open(nil, nonce, sealed, []byte("ad")); err != nil {
		t.Fatal(err)
	}
}

// TestEncodeRefusesWhatItCannotStoreExactly: a time Unix nanoseconds
// cannot hold, or that would read back as the zero time, and strings that
// are not UTF-8 are errors, not silently changed.
func TestEncodeRefusesWhatItCannotStoreExactly(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for name, mod := range map[string]func(*session.Session){
		"epoch":         func(s *session.Session) { s.CreatedAt = time.Unix(0, 0) },
		"year 1600":     func(s *session.Session) { s.LastSeenAt = time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC) },
		"year 2300":     func(s *session.Session) { s.TokenExpiry = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) },
		"invalid UTF-8": func(s *session.Session) { s.Groups = []string{"adm\xffins"} },
	} {
		s := benchSession(t, now)
		mod(s)
		if _, _, _, err := Encode(s, now); err == nil {
			t.Errorf("%s: Encode succeeded", name)
		}
	}
}

// TestRecordLimits: a session beyond MaxGroups or MaxBytes is refused when
// it is saved, and a stored record beyond them (written by whoever can
// write to the store) is refused by every reader, sealed or not, before it
// is parsed: a writer cannot make one lookup or listing allocate without
// bound.
func TestRecordLimits(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	many := benchSession(t, now)
	many.Groups = make([]string, MaxGroups+1)
	for i := range many.Groups {
		many.Groups[i] = "g"
	}
	if _, _, _, err := Encode(many, now); !errors.Is(err, session.ErrTooLarge) {
		t.Errorf("Encode of more than MaxGroups groups = %v, want ErrTooLarge", err)
	}
	big := benchSession(t, now)
	big.AccessToken = strings.Repeat("a", MaxBytes)
	if _, _, _, err := Encode(big, now); !errors.Is(err, session.ErrTooLarge) {
		t.Errorf("Encode of a record larger than MaxBytes = %v, want ErrTooLarge", err)
	}
	atLimit := benchSession(t, now)
	atLimit.Groups = many.Groups[:MaxGroups]
	if _, data, _, err := Encode(atLimit, now); err != nil {
		t.Errorf("Encode refused MaxGroups groups: %v", err)
	} else if got, err := Decode(atLimit.ID, data, now); err != nil || len(got.Groups) != MaxGroups {
		t.Errorf("Decode of MaxGroups groups: %v", err)
	}

	// Sealed properly (encodeV3 has no limits of its own), still refused.
	for name, s := range map[string]*session.Session{"groups": many, "bytes": big} {
		data, err := encodeV3(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Decode(s.ID, data, now); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("%s: Decode = %v, want ErrNotFound", name, err)
		}
		if _, err := Identity(data); err == nil {
			t.Errorf("%s: Identity accepted it", name)
		}
	}
	// Unsealed, as a writer without the ID would write it: a listing
	// refuses it too, v3 and v2 alike.
	groups := make([]string, MaxGroups+1)
	v2, err := json.Marshal(map[string]any{"groups": groups, "tokens": "AAAA"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Identity(v2); err == nil {
		t.Error("Identity accepted a v2 record with more than MaxGroups groups")
	}
	if _, err := Identity(append([]byte{'{'}, make([]byte, MaxBytes)...)); err == nil {
		t.Error("Identity accepted a v2 record larger than MaxBytes")
	}
}

// TestEncodeAsV2: during a rolling upgrade records are written as releases
// before v3 wrote them (the golden v2 record's shape: the same JSON keys),
// and read back like any v2 record.
func TestEncodeAsV2(t *testing.T) {
	id, golden, now := golden(t)
	s := goldenSession(id, now)
	_, data, _, err := EncodeAs(s, now, V2)
	if err != nil {
		t.Fatal(err)
	}
	if data[0] != '{' {
		t.Fatalf("EncodeAs(V2) wrote %#x first, want a JSON object", data[0])
	}
	keys := func(b []byte) []string {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	if got, want := keys(data), keys(golden); !slices.Equal(got, want) {
		t.Errorf("v2 keys %v, want the earlier release's %v", got, want)
	}
	got, err := Decode(id, data, now)
	if err != nil {
		t.Fatal(err)
	}
	same(t, got, s)

	for name, want := range map[string]Format{"": V3, "v3": V3, "v2": V2} {
		if f, err := ParseFormat(name); err != nil || f != want {
			t.Errorf("ParseFormat(%q) = %v, %v; want %v", name, f, err, want)
		}
	}
	if _, err := ParseFormat("json"); err == nil {
		t.Error(`ParseFormat("json") succeeded`)
	}
}
