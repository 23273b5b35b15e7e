package session

import (
	"errors"
	"fmt"
	"time"
)

// prepareSave checks s before any store writes it and returns its storage
// key, its encoded record, and how long it has left to live at now.
func prepareSave(s *Session, now time.Time) (key string, data []byte, ttl time.Duration, err error) {
	if s == nil {
		return "", nil, 0, errors.New("session: save: nil session")
	}
	key, err = storageKey(s.ID)
	if err != nil {
		return "", nil, 0, fmt.Errorf("session: save: %w", err)
	}
	ttl = s.ExpiresAt.Sub(now)
	if s.ExpiresAt.IsZero() || ttl <= 0 {
		return "", nil, 0, fmt.Errorf("session: save: ExpiresAt %s is not in the future: %w",
			s.ExpiresAt.UTC().Format(time.RFC3339), ErrExpired)
	}
	data, err = marshalSession(s)
	if err != nil {
		return "", nil, 0, fmt.Errorf("session: save: encode: %w", err)
	}
	return key, data, ttl, nil
}

// decodeStored turns a stored record back into a Session for id. A record
// that has expired at now is reported as ErrNotFound. A record that cannot be
// decoded (written by an incompatible version, or altered in the store) is
// also reported as ErrNotFound, wrapped with the reason, so the user signs in
// again rather than being refused until the record expires.
func decodeStored(id string, data []byte, now time.Time) (*Session, error) {
	s, err := unmarshalSession(id, data)
	if err != nil {
		return nil, fmt.Errorf("session: stored record unreadable (%v): %w", err, ErrNotFound)
	}
	if !now.Before(s.ExpiresAt) {
		return nil, ErrNotFound
	}
	return s, nil
}
