package record

import (
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	sessionv1 "github.com/gatehouse/gatehouse/gen/gatehouse/session/v1"
	"github.com/gatehouse/gatehouse/internal/session"
)

// FuzzDecode: whatever the store holds, Decode never panics, and a session
// it returns for the golden ID is one that was sealed under that ID (v2 or
// v3), field for field: bytes the fuzzer made up never open. Identity
// never panics either.
func FuzzDecode(f *testing.F) {
	id, v2, now := golden(f)
	full := goldenSession(id, now)
	noTokens := goldenSession(id, now)
	noTokens.IDToken, noTokens.AccessToken, noTokens.RefreshToken, noTokens.Groups = "", "", "", nil
	sealed := []*session.Session{full, noTokens}
	f.Add(v2)
	f.Add(mustEncodeV2(f, noTokens))
	for _, s := range sealed {
		_, v3, _, err := Encode(s, now)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(v3)
	}
	f.Add([]byte{versionV3})
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = Identity(data)
		got, err := Decode(id, data, now)
		if err != nil {
			if got != nil {
				t.Fatalf("Decode returned a session with error %v", err)
			}
			return
		}
		for _, s := range sealed {
			if equalSessions(got, s) {
				return
			}
		}
		t.Fatalf("Decode opened a session that was never sealed: %+v", *got)
	})
}

// FuzzParseIdentity: the check path's identity decoder reads what
// proto.Unmarshal of the generated Identity reads, and nothing it does
// not: whatever it accepts, the generated code decodes to the same
// session; whatever the generated code writes, it accepts.
func FuzzParseIdentity(f *testing.F) {
	id, _, now := golden(f)
	for _, s := range []*session.Session{goldenSession(id, now), {ExpiresAt: now}, {}} {
		m, err := identityMessage(s)
		if err != nil {
			f.Fatal(err)
		}
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseIdentity(b)
		var m sessionv1.Identity
		perr := proto.Unmarshal(b, &m)
		if err == nil {
			if perr != nil {
				t.Fatalf("parseIdentity accepted what proto.Unmarshal refuses (%v)", perr)
			}
			if want := fromMessage(&m); !reflect.DeepEqual(normGroups(got), normGroups(want)) {
				t.Fatalf("parseIdentity = %+v, proto.Unmarshal = %+v", *got, *want)
			}
			return
		}
		if perr != nil || len(m.ProtoReflect().GetUnknown()) != 0 {
			return // refused by both, or fields unknown to this version
		}
		// What the generated code writes of what it read must be accepted.
		canon, merr := proto.MarshalOptions{Deterministic: true}.Marshal(&m)
		if merr != nil {
			t.Fatal(merr)
		}
		if _, err := parseIdentity(canon); err != nil {
			t.Fatalf("parseIdentity refuses the generated encoding %x: %v", canon, err)
		}
	})
}

// fromMessage is the session an Identity message describes, as the
// generated code reads it.
func fromMessage(m *sessionv1.Identity) *session.Session {
	return &session.Session{
		Issuer: m.GetIssuer(), Subject: m.GetSubject(), SID: m.GetSid(), Provider: m.GetProvider(),
		User: m.GetUser(), Email: m.GetEmail(), EmailVerified: m.GetEmailVerified(),
		PreferredUsername: m.GetPreferredUsername(), Groups: m.GetGroups(),
		CreatedAt: timeOf(m.GetCreatedAt()), ExpiresAt: timeOf(m.GetExpiresAt()),
		LastSeenAt: timeOf(m.GetLastSeenAt()), TokenExpiry: timeOf(m.GetTokenExpiry()),
	}
}

// normGroups treats no groups and an empty list alike.
func normGroups(s *session.Session) session.Session {
	c := *s
	if len(c.Groups) == 0 {
		c.Groups = nil
	}
	return c
}
