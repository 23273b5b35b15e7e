package record

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
)

// benchSession is the realistic session of issue 11: three groups and
// tokens of 900, 1200 and 500 bytes (a 3.9 KB v2 record).
func benchSession(tb testing.TB, now time.Time) *session.Session {
	tb.Helper()
	id, err := session.NewID()
	if err != nil {
		tb.Fatal(err)
	}
	return &session.Session{
		ID: id, Provider: "keycloak", Issuer: "https://idp.example.com/realms/acme",
		Subject: "248289761001", SID: "idp-session-7f3a", User: "jane", Email: "jane@example.com",
		EmailVerified: true, PreferredUsername: "jane.doe",
		Groups:    []string{"engineering", "ml-team", "vpn"},
		CreatedAt: now.Add(-time.Minute), ExpiresAt: now.Add(8 * time.Hour),
		LastSeenAt: now.Add(-30 * time.Second), TokenExpiry: now.Add(5 * time.Minute),
		IDToken:      "eyJhbGciOiJSUzI1NiJ9." + strings.Repeat("I", 900-25) + ".sig",
		AccessToken:  strings.Repeat("A", 1200),
		RefreshToken: strings.Repeat("R", 500),
	}
}

// BenchmarkDecode decodes the realistic session's record in each format,
// as a check does with the local cache off.
func BenchmarkDecode(b *testing.B) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	s := benchSession(b, now)
	_, v3, _, err := Encode(s, now)
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"v2", mustEncodeV2(b, s)}, {"v3", v3}} {
		b.Run(f.name, func(b *testing.B) {
			b.SetBytes(int64(len(f.data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(s.ID, f.data, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIdentity decodes the clear part alone, as the admin API's List does.
func BenchmarkIdentity(b *testing.B) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	s := benchSession(b, now)
	_, v3, _, err := Encode(s, now)
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"v2", mustEncodeV2(b, s)}, {"v3", v3}} {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Identity(f.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
