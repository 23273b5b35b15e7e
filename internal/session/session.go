package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Errors a Store returns for expected states; callers test with errors.Is.
var (
	// ErrNotFound: no live session has this ID (never existed, expired or revoked).
	ErrNotFound = errors.New("session not found")
	// ErrInvalidID: the ID is not a well-formed session ID.
	ErrInvalidID = errors.New("invalid session id")
	// ErrExpired: Save was given a session whose ExpiresAt is not in the
	// future (a zero ExpiresAt counts as expired).
	ErrExpired = errors.New("session already expired")
	// ErrTooLarge: Save was given a session with more groups or larger
	// tokens than a stored record may hold.
	ErrTooLarge = errors.New("session too large to store")
)

// IDBytes is the size of a session ID's randomness: 256 bits.
const IDBytes = 32

// Session is one signed-in browser. Token fields are encrypted at rest by
// every Store.
type Session struct {
	ID string `json:"-"` // base64url of IDBytes random bytes; never stored in clear
	// Handle names the session to the admin API and in revocation messages:
	// the hex SHA-256 of the ID that the store keys it by. Load, List and
	// LoadByHandle set it; Save ignores it. It is not a bearer credential.
	Handle string `json:"-"`

	Issuer  string `json:"iss"`
	Subject string `json:"sub"`
	SID     string `json:"sid,omitempty"` // the provider's session ID, for back-channel logout
	// Provider is the ID of the configured provider that signed the user
	// in; empty (records written before there were several) means the
	// default provider.
	Provider          string    `json:"provider,omitempty"`
	User              string    `json:"user"`
	Email             string    `json:"email"`
	EmailVerified     bool      `json:"email_verified"`
	PreferredUsername string    `json:"preferred_username,omitempty"`
	Groups            []string  `json:"groups,omitempty"`
	CreatedAt         time.Time `json:"created_at"`
	ExpiresAt         time.Time `json:"expires_at"`
	// LastSeenAt is when the session was last used, as far as the store
	// knows: written by Save and moved forward by Touch (at most once per
	// idle write interval, see package idle). Zero means never recorded.
	LastSeenAt time.Time `json:"last_seen_at,omitzero"`

	IDToken      string    `json:"-"`
	AccessToken  string    `json:"-"`
	RefreshToken string    `json:"-"`
	TokenExpiry  time.Time `json:"token_expiry,omitzero"`
	// HasRefreshToken is set on copies without tokens (the local cache's)
	// whose session holds a refresh token.
	HasRefreshToken bool `json:"-"`
}

// Store keeps sessions. Implementations must be safe for concurrent use and
// must honour ctx deadlines.
type Store interface {
	// Save creates or replaces s; it lives until s.ExpiresAt.
	Save(ctx context.Context, s *Session) error
	// Load returns the live session with this ID, or ErrNotFound.
	Load(ctx context.Context, id string) (*Session, error)
	// Delete removes the session; deleting a missing session is not an error.
	Delete(ctx context.Context, id string) error
	// Ping reports whether the store can serve requests.
	Ping(ctx context.Context) error
}

// NewID returns a fresh random session ID.
func NewID() (string, error) {
	b := make([]byte, IDBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session: read random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// idLen is the length of a session ID's text form (unpadded base64).
const idLen = (IDBytes*8 + 5) / 6

// ParseID checks that id is a well-formed session ID and returns its bytes.
// Only the canonical encoding is accepted (exact length, strict padding
// bits), so one session has exactly one ID string.
func ParseID(id string) ([]byte, error) {
	var b [IDBytes]byte
	if err := parseID(&b, id); err != nil {
		return nil, err
	}
	return b[:], nil
}

// parseID is ParseID into dst, without allocating.
func parseID(dst *[IDBytes]byte, id string) error {
	if len(id) != idLen {
		return ErrInvalidID
	}
	var src [idLen]byte
	copy(src[:], id)
	n, err := base64.RawURLEncoding.Strict().Decode(dst[:], src[:])
	if err != nil || n != IDBytes {
		return ErrInvalidID
	}
	return nil
}

// HandleOf returns the Handle of the session with this ID: the hex SHA-256
// of its bytes, the name stores keep it under, so a store never holds the
// bearer value of a cookie.
func HandleOf(id string) (string, error) {
	// Fixed-size buffers on the stack: the handle is computed on every
	// check, and only the returned string is allocated.
	var b [IDBytes]byte
	if err := parseID(&b, id); err != nil {
		return "", err
	}
	sum := sha256.Sum256(b[:])
	var h [2 * sha256.Size]byte
	hex.Encode(h[:], sum[:])
	return string(h[:]), nil
}

// ValidHandle accepts only the canonical form of a handle (64 lower-case hex
// digits), so a handle can never address another key.
func ValidHandle(h string) error {
	if len(h) != 2*sha256.Size {
		return ErrInvalidID
	}
	for i := range len(h) {
		c := h[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return ErrInvalidID
		}
	}
	return nil
}

// MarkSeen moves LastSeenAt forward to at, never backward.
func (s *Session) MarkSeen(at time.Time) {
	if at.After(s.LastSeenAt) {
		s.LastSeenAt = at
	}
}

// LastUse is when s was last known to be used: the later of LastSeenAt and
// CreatedAt.
func (s *Session) LastUse() time.Time {
	if s.LastSeenAt.After(s.CreatedAt) {
		return s.LastSeenAt
	}
	return s.CreatedAt
}

// WithoutTokens returns a copy of s with its tokens left out;
// HasRefreshToken tells whether it had a refresh token.
func (s *Session) WithoutTokens() *Session {
	c := *s
	c.HasRefreshToken = s.RefreshToken != "" || s.HasRefreshToken
	c.IDToken, c.AccessToken, c.RefreshToken = "", "", ""
	return &c
}
