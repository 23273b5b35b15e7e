package session

import (
	"encoding/json"
	"fmt"
	"time"
)

// decodeIdentity decodes a stored record without its tokens (which only the
// ID can open), for List and LoadByHandle. An expired record is ErrNotFound.
func decodeIdentity(handle string, data []byte, now time.Time) (*Session, error) {
	s := &Session{}
	if err := json.Unmarshal(data, &record{Session: s}); err != nil {
		return nil, fmt.Errorf("session: stored record unreadable (%v): %w", err, ErrNotFound)
	}
	if !now.Before(s.ExpiresAt) {
		return nil, ErrNotFound
	}
	s.Handle = handle
	return s, nil
}

// withoutTokens returns a copy of s with its tokens left out.
func withoutTokens(s *Session) *Session {
	c := *s
	c.HasRefreshToken = s.RefreshToken != "" || s.HasRefreshToken
	c.IDToken, c.AccessToken, c.RefreshToken = "", "", ""
	return &c
}
