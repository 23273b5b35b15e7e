// Package record is how a session is stored, whatever the store: its key
// (the Handle), its record (identity in clear, tokens sealed under a key
// derived from the session ID with the identity as additional data) and
// the indexes that find a user's or a provider session's records. The
// memory and Redis stores share it, so both hold the same bytes.
package record

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/session"
)

// record is a session.Session as stored: identity in clear (the admin API lists
// it), tokens sealed with a key only the cookie holder can derive, and the
// identity bound to them as the seal's additional data. So whoever can
// write to the store but does not hold a session's ID (which the store never
// sees, only its hash) cannot change its email, groups or email_verified,
// nor move another session's record under it: the record no longer opens
// and the session is treated as gone.
type record struct {
	*session.Session
	Tokens []byte `json:"tokens,omitempty"`
}

type tokens struct {
	IDToken      string `json:"id,omitempty"`
	AccessToken  string `json:"access,omitempty"`
	RefreshToken string `json:"refresh,omitempty"`
}

// recordAEAD derives the AEAD that seals a session's record from its ID.
func recordAEAD(idBytes []byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, idBytes, nil, "gatehouse session record v2", 32)
	if err != nil {
		return nil, fmt.Errorf("derive record key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// identityAD is the additional data that binds s's clear fields to its
// sealed tokens: their JSON encoding. It is computed from the decoded
// value on the way back, so what is authenticated is exactly what the
// check path acts on, however the stored JSON was spelled.
func identityAD(s *session.Session) ([]byte, error) {
	ad, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode identity: %w", err)
	}
	return ad, nil
}

// marshalSession encodes s for storage, sealing its tokens (even none) with
// its identity as additional data.
func marshalSession(s *session.Session) ([]byte, error) {
	idBytes, err := session.ParseID(s.ID)
	if err != nil {
		return nil, err
	}
	ad, err := identityAD(s)
	if err != nil {
		return nil, err
	}
	plain, err := json.Marshal(tokens{s.IDToken, s.AccessToken, s.RefreshToken})
	if err != nil {
		return nil, fmt.Errorf("encode tokens: %w", err)
	}
	aead, err := recordAEAD(idBytes)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("read random: %w", err)
	}
	return json.Marshal(record{Session: s, Tokens: aead.Seal(nonce, nonce, plain, ad)})
}

// unmarshalSession decodes a stored session, checks that its identity is
// the one sealed with its tokens, and opens them with id.
func unmarshalSession(id string, data []byte) (*session.Session, error) {
	idBytes, err := session.ParseID(id)
	if err != nil {
		return nil, err
	}
	s := &session.Session{}
	rec := record{Session: s}
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("decode session: %w", err)
	}
	aead, err := recordAEAD(idBytes)
	if err != nil {
		return nil, err
	}
	ns := aead.NonceSize()
	if len(rec.Tokens) < ns+aead.Overhead() {
		return nil, fmt.Errorf("decode session: not sealed")
	}
	ad, err := identityAD(s)
	if err != nil {
		return nil, fmt.Errorf("decode session: %w", err)
	}
	plain, err := aead.Open(nil, rec.Tokens[:ns], rec.Tokens[ns:], ad)
	if err != nil {
		return nil, fmt.Errorf("decode session: identity or tokens altered: %w", err)
	}
	var t tokens
	if err := json.Unmarshal(plain, &t); err != nil {
		return nil, fmt.Errorf("decode session: tokens: %w", err)
	}
	s.ID = id
	s.IDToken, s.AccessToken, s.RefreshToken = t.IDToken, t.AccessToken, t.RefreshToken
	return s, nil
}
