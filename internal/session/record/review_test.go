package record

// Adversarial review of the v3 record (brief R): attacks by someone who can
// read and write the store but holds no session ID. Each test here is an
// attack that is refused; it fails if the defence it names is removed.

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse/gatehouse/internal/session"
)

// reviewRefused fails t unless Decode refuses data for id with
// ErrNotFound and no session.
func reviewRefused(t *testing.T, what, id string, data []byte, now time.Time) {
	t.Helper()
	got, err := Decode(id, data, now)
	if !errors.Is(err, session.ErrNotFound) || got != nil {
		if got != nil {
			t.Errorf("%s: Decode accepted it (email %q, groups %v)", what, got.Email, got.Groups)
		} else {
			t.Errorf("%s: Decode = %v, want ErrNotFound", what, err)
		}
	}
}

// rawFrame builds a v3 record field by field, as an attacker would.
func rawFrame(version byte, fields ...[]byte) []byte {
	out := []byte{version}
	for _, f := range fields {
		out = append(out, f...)
	}
	return out
}

// bytesField is field num of wire type bytes holding v, minimal encoding.
func bytesField(num protowire.Number, v []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)
}

// TestReviewFramingRefused: the framing of a v3 record is not
// authenticated, so every way of re-framing the same identity and seal
// (duplicates, order, wire types, tags and lengths not in their shortest
// form, huge or overflowing lengths, unknown fields, other version bytes)
// must be refused, never panic, and leave Identity refusing it too.
func TestReviewFramingRefused(t *testing.T) {
	now := time.Now()
	s := benchSession(t, now)
	_, data, _, err := Encode(s, now)
	if err != nil {
		t.Fatal(err)
	}
	identity, sealed, err := frameV3(data)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := identityMessage(&session.Session{Subject: s.Subject, Issuer: s.Issuer, Groups: []string{"admins"}, ExpiresAt: s.ExpiresAt})
	if err != nil {
		t.Fatal(err)
	}
	adminIdentity, err := proto.Marshal(admin)
	if err != nil {
		t.Fatal(err)
	}
	fi, fs := bytesField(fieldRecordIdentity, identity), bytesField(fieldRecordSealedTokens, sealed)
	if !bytes.Equal(rawFrame(versionV3, fi, fs), data) {
		t.Fatal("rawFrame does not rebuild the record as written")
	}
	nonMinimalTag := append([]byte{0x8a, 0x00}, protowire.AppendVarint(nil, uint64(len(identity)))...)
	nonMinimalTag = append(nonMinimalTag, identity...)
	hugeLen := append(protowire.AppendTag(nil, fieldRecordIdentity, protowire.BytesType), protowire.AppendVarint(nil, 1<<62)...)
	overflowLen := append(protowire.AppendTag(nil, fieldRecordIdentity, protowire.BytesType),
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)
	cases := map[string][]byte{
		"fields swapped":                 rawFrame(versionV3, fs, fi),
		"identity twice (forged first)":  rawFrame(versionV3, bytesField(1, adminIdentity), fi, fs),
		"identity twice (forged last)":   rawFrame(versionV3, fi, bytesField(1, adminIdentity), fs),
		"identity after seal (merge)":    rawFrame(versionV3, fi, fs, bytesField(1, adminIdentity)),
		"seal twice":                     rawFrame(versionV3, fi, fs, fs),
		"unknown field between":          rawFrame(versionV3, fi, bytesField(3, nil), fs),
		"unknown field first":            rawFrame(versionV3, bytesField(15, []byte("x")), fi, fs),
		"identity as group (wire type)":  rawFrame(versionV3, protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 1), fi, fs),
		"non-minimal tag":                rawFrame(versionV3, nonMinimalTag, fs),
		"length 2^62":                    rawFrame(versionV3, hugeLen, fs),
		"length varint overflows":        rawFrame(versionV3, overflowLen),
		"length past the end":            rawFrame(versionV3, fi[:len(fi)-1]),
		"only version byte":              {versionV3},
		"version 0x00":                   rawFrame(0x00, fi, fs),
		"version 0x02":                   rawFrame(0x02, fi, fs),
		"version 0x83":                   rawFrame(0x83, fi, fs),
		"version byte twice":             rawFrame(versionV3, append([]byte{versionV3}, append(fi, fs...)...)),
		"no version byte":                append(bytes.Clone(fi), fs...),
		"forged identity, original seal": rawFrame(versionV3, bytesField(1, adminIdentity), fs),
		"empty identity, original seal":  rawFrame(versionV3, bytesField(1, nil), fs),
	}
	for what, d := range cases {
		reviewRefused(t, what, s.ID, d, now)
		// Identity (the admin listing) reads the framing as strictly.
		if what != "forged identity, original seal" && what != "empty identity, original seal" {
			if ident, err := Identity(d); err == nil {
				t.Errorf("%s: Identity accepted the framing (email %q, groups %v)", what, ident.Email, ident.Groups)
			}
		}
	}
	reviewOpens(t, s, data, now)
}

// reviewOpens fails t unless data opens as s.
func reviewOpens(t *testing.T, s *session.Session, data []byte, now time.Time) {
	t.Helper()
	got, err := Decode(s.ID, data, now)
	if err != nil {
		t.Fatalf("untouched record refused: %v", err)
	}
	same(t, got, s)
}

// TestReviewSpliceBetweenSessions: a record's identity and seal are bound
// to each other and to the ID: neither half of one session's record, nor
// an older record's identity, can be combined with another's.
func TestReviewSpliceBetweenSessions(t *testing.T) {
	now := time.Now()
	user := benchSession(t, now)
	user.Groups = []string{"users"}
	admin := benchSession(t, now)
	admin.Groups = []string{"admins"}
	enc := func(s *session.Session) (identity, sealed []byte) {
		t.Helper()
		_, d, _, err := Encode(s, now)
		if err != nil {
			t.Fatal(err)
		}
		identity, sealed, err = frameV3(d)
		if err != nil {
			t.Fatal(err)
		}
		return identity, sealed
	}
	ui, us := enc(user)
	ai, as := enc(admin)
	// The same session written again later (a refresh that dropped a group).
	later := *user
	later.Groups = nil
	li, ls := enc(&later)
	frame := func(i, s []byte) []byte {
		return rawFrame(versionV3, bytesField(1, i), bytesField(2, s))
	}
	reviewRefused(t, "admin identity, user seal", user.ID, frame(ai, us), now)
	reviewRefused(t, "admin seal, user identity", user.ID, frame(ui, as), now)
	reviewRefused(t, "admin record under the user's ID", user.ID, frame(ai, as), now)
	reviewRefused(t, "older identity, newer seal", user.ID, frame(ui, ls), now)
	reviewRefused(t, "newer identity, older seal", user.ID, frame(li, us), now)
	// The v2 key of the same ID does not open a v3 seal, nor the v3 key a
	// v2 seal moved into a v3 frame.
	v2 := mustEncodeV2(t, user)
	var rec recordV2
	rec.Session = &session.Session{}
	if err := json.Unmarshal(v2, &rec); err != nil {
		t.Fatal(err)
	}
	reviewRefused(t, "v2 seal in a v3 frame", user.ID, frame(ui, rec.Tokens), now)
	reviewOpens(t, user, frame(ui, us), now)
}

// TestReviewNothingParsedBeforeTheSealOpens: decodeV3 parses neither the
// identity nor the tokens of a record whose seal does not open: an
// identity no parser would accept is reported as altered, not as
// malformed.
func TestReviewNothingParsedBeforeTheSealOpens(t *testing.T) {
	now := time.Now()
	s := benchSession(t, now)
	_, data, _, err := Encode(s, now)
	if err != nil {
		t.Fatal(err)
	}
	_, sealed, err := frameV3(data)
	if err != nil {
		t.Fatal(err)
	}
	idBytes, _ := session.ParseID(s.ID)
	for what, identity := range map[string][]byte{
		"invalid UTF-8":  bytesField(fieldEmail, []byte("adm\xffin")),
		"unknown field":  bytesField(99, nil),
		"truncated":      {0x2a, 0x10, 'x'},
		"bool 2":         {0x38, 0x02},
		"repeated email": append(bytesField(fieldEmail, []byte("a")), bytesField(fieldEmail, []byte("b"))...),
	} {
		if _, err := parseIdentity(identity); err == nil {
			t.Fatalf("%s: parseIdentity accepts the probe", what)
		}
		d := rawFrame(versionV3, bytesField(1, identity), bytesField(2, sealed))
		_, err := decodeV3(idBytes, d)
		if err == nil || !strings.Contains(err.Error(), "altered") {
			t.Errorf("%s: decodeV3 = %v, want the seal's refusal before any parsing", what, err)
		}
	}
}

// TestReviewTokensNeverLeak: nothing that reads a record without its ID
// (Identity, DecodeIdentity) returns a token, and no refusal's error
// carries one, for v3 and v2.
func TestReviewTokensNeverLeak(t *testing.T) {
	now := time.Now()
	s := benchSession(t, now)
	s.IDToken, s.AccessToken, s.RefreshToken = "IDTOKEN-SECRET-1", "ACCESS-SECRET-2", "REFRESH-SECRET-3"
	_, v3, _, err := Encode(s, now)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := session.NewID()
	for format, data := range map[string][]byte{"v3": v3, "v2": mustEncodeV2(t, s)} {
		for what, f := range map[string]func() (*session.Session, error){
			"Identity":       func() (*session.Session, error) { return Identity(data) },
			"DecodeIdentity": func() (*session.Session, error) { return DecodeIdentity("h", data, now) },
		} {
			got, err := f()
			if err != nil {
				t.Fatalf("%s %s: %v", format, what, err)
			}
			if got.IDToken != "" || got.AccessToken != "" || got.RefreshToken != "" || got.HasRefreshToken {
				t.Errorf("%s %s returned tokens: %+v", format, what, *got)
			}
		}
		for _, d := range [][]byte{data, data[:len(data)-2]} {
			_, err := Decode(other, d, now)
			if err == nil {
				t.Fatalf("%s: opened with another ID", format)
			}
			for _, tok := range []string{"SECRET", s.ID} {
				if strings.Contains(err.Error(), tok) {
					t.Errorf("%s: error %q holds %q", format, err, tok)
				}
			}
		}
		for _, tok := range []string{s.IDToken, s.AccessToken, s.RefreshToken} {
			if bytes.Contains(data, []byte(tok)) {
				t.Errorf("%s: a token is stored in clear", format)
			}
		}
	}
}

// TestReviewIdentityStrings: the clear identity's strings must be valid
// UTF-8 (no overlong forms, surrogates or stray bytes), so the listing
// never shows what the check path would read differently.
func TestReviewIdentityStrings(t *testing.T) {
	for _, bad := range []string{"\xc0\xaf", "\xed\xa0\x80", "ok\xff", "\xf4\x90\x80\x80", "\xe2\x82"} {
		for _, num := range []protowire.Number{fieldIssuer, fieldEmail, fieldGroups, fieldUser} {
			b := bytesField(num, []byte(bad))
			if _, err := parseIdentity(b); err == nil {
				t.Errorf("field %d %q: parseIdentity accepted it", num, bad)
			}
			if _, err := Identity(rawFrame(versionV3, bytesField(1, b), bytesField(2, make([]byte, 28)))); err == nil {
				t.Errorf("field %d %q: Identity accepted it", num, bad)
			}
		}
	}
}

// TestReviewV2RewritesChangeNothing: a v2 record is JSON, so a writer can
// rewrite its text (reorder keys, change their case, duplicate them, add
// unknown keys, re-spell times and strings) and it still opens; what is
// authenticated is the re-encoding of what was decoded, so no rewrite
// changes the session the check acts on. A rewrite that changes a value
// (a duplicate or case-folded key carrying another value last) is refused.
func TestReviewV2RewritesChangeNothing(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	s := benchSession(t, now)
	s.LastSeenAt = now.Add(-30 * time.Second)
	v2 := mustEncodeV2(t, s)
	tok := func() string {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(v2, &m); err != nil {
			t.Fatal(err)
		}
		return string(m["tokens"])
	}()
	inner := strings.TrimSuffix(strings.TrimPrefix(string(v2), "{"), "}")
	meaningKept := map[string]string{
		"unknown key":          `{"admin":true,` + inner + `}`,
		"key case":             strings.Replace(string(v2), `"email":`, `"EMAIL":`, 1),
		"duplicate, same last": `{"email":"root@example.com",` + inner + `}`,
		"time re-spelt":        strings.Replace(string(v2), `"expires_at":"2026-12-01T20:00:00Z"`, `"expires_at":"2026-12-01T20:00:00.000000000Z"`, 1),
		"string escaped":       strings.Replace(string(v2), `"jane"`, `"\u006aane"`, 1),
	}
	for what, d := range meaningKept {
		if d == string(v2) {
			t.Fatalf("%s: rewrite changed nothing", what)
		}
		got, err := Decode(s.ID, []byte(d), now)
		if err != nil {
			t.Errorf("%s: rewrite refused (%v); it keeps the meaning", what, err)
			continue
		}
		same(t, got, s)
	}
	meaningChanged := map[string]string{
		"duplicate, forged last": `{` + inner + `,"email":"root@example.com"}`,
		"case-folded, forged":    `{` + inner + `,"Email_Verified":false,"GROUPS":["admins"]}`,
		"time in another zone":   strings.Replace(string(v2), `"expires_at":"2026-12-01T20:00:00Z"`, `"expires_at":"2026-12-01T21:00:00+01:00"`, 1),
		"seal twice, forged":     `{` + inner + `,"tokens":` + tok + `,"groups":["admins"]}`,
		"nested too deep":        `{"x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `,` + inner + `}`,
	}
	for what, d := range meaningChanged {
		reviewRefused(t, what, s.ID, []byte(d), now)
	}
}
