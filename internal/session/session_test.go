package session

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseIDIsCanonical(t *testing.T) {
	id, err := NewID()
	if err != nil {
		t.Fatal(err)
	}
	if b, err := ParseID(id); err != nil || len(b) != IDBytes {
		t.Fatalf("ParseID(NewID()) = %d bytes, %v", len(b), err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(id)
	for name, bad := range map[string]string{
		"empty":       "",
		"padded":      base64.URLEncoding.EncodeToString(raw),
		"std base64":  strings.NewReplacer("-", "+", "_", "/").Replace(id) + "+",
		"one short":   id[:len(id)-1],
		"one longer":  id + "A",
		"short value": base64.RawURLEncoding.EncodeToString(raw[:16]),
		// The last character carries 4 padding bits that must be zero: a
		// second spelling of the same bytes would be a second ID.
		"padding bits": id[:len(id)-1] + string(flipLowBit(id[len(id)-1])),
	} {
		if _, err := ParseID(bad); !errors.Is(err, ErrInvalidID) {
			t.Errorf("%s %q: %v, want ErrInvalidID", name, bad, err)
		}
	}
}

// flipLowBit returns the base64url character whose value differs from c's
// in the lowest bit.
func flipLowBit(c byte) byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	return alphabet[strings.IndexByte(alphabet, c)^1]
}

func TestHandleOf(t *testing.T) {
	id, _ := NewID()
	h, err := HandleOf(id)
	if err != nil || ValidHandle(h) != nil {
		t.Fatalf("HandleOf = %q, %v", h, err)
	}
	if strings.Contains(h, id) {
		t.Fatal("the handle holds the ID")
	}
	if _, err := HandleOf("not-an-id"); !errors.Is(err, ErrInvalidID) {
		t.Fatalf("HandleOf(junk): %v", err)
	}
	for _, bad := range []string{"", strings.ToUpper(h), h[:63], h + "0", "../" + h[3:], strings.Repeat("g", 64)} {
		if ValidHandle(bad) == nil {
			t.Errorf("ValidHandle(%q) accepted", bad)
		}
	}
}

func TestSeenAndLastUse(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := &Session{CreatedAt: t0}
	if !s.LastUse().Equal(t0) {
		t.Fatalf("LastUse without LastSeenAt = %v, want CreatedAt", s.LastUse())
	}
	s.MarkSeen(t0.Add(time.Hour))
	s.MarkSeen(t0.Add(time.Minute)) // never backward
	if !s.LastSeenAt.Equal(t0.Add(time.Hour)) || !s.LastUse().Equal(t0.Add(time.Hour)) {
		t.Fatalf("LastSeenAt = %v", s.LastSeenAt)
	}
}

func TestWithoutTokens(t *testing.T) {
	s := &Session{Email: "a@example.com", IDToken: "id", AccessToken: "at", RefreshToken: "rt"}
	c := s.WithoutTokens()
	if c.IDToken != "" || c.AccessToken != "" || c.RefreshToken != "" || !c.HasRefreshToken || c.Email != s.Email {
		t.Fatalf("WithoutTokens = %+v", c)
	}
	if s.AccessToken != "at" {
		t.Fatal("WithoutTokens changed the original")
	}
	if c.WithoutTokens().HasRefreshToken != true {
		t.Fatal("a copy of a copy forgot the refresh token")
	}
}
