package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
)

// record is a Session as stored: identity in clear (the admin API lists it),
// tokens sealed with a key only the cookie holder can derive.
type record struct {
	*Session
	Tokens []byte `json:"tokens,omitempty"`
}

type tokens struct {
	IDToken      string `json:"id,omitempty"`
	AccessToken  string `json:"access,omitempty"`
	RefreshToken string `json:"refresh,omitempty"`
}

// tokenAEAD derives the AEAD that seals a session's tokens from its ID.
func tokenAEAD(idBytes []byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, idBytes, nil, "gatehouse session tokens v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive token key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// marshalSession encodes s for storage, sealing its tokens.
func marshalSession(s *Session) ([]byte, error) {
	idBytes, err := decodeID(s.ID)
	if err != nil {
		return nil, err
	}
	rec := record{Session: s}
	if s.IDToken != "" || s.AccessToken != "" || s.RefreshToken != "" {
		plain, err := json.Marshal(tokens{s.IDToken, s.AccessToken, s.RefreshToken})
		if err != nil {
			return nil, fmt.Errorf("encode tokens: %w", err)
		}
		aead, err := tokenAEAD(idBytes)
		if err != nil {
			return nil, err
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("read random: %w", err)
		}
		rec.Tokens = aead.Seal(nonce, nonce, plain, nil)
	}
	return json.Marshal(rec)
}

// unmarshalSession decodes a stored session and opens its tokens with id.
func unmarshalSession(id string, data []byte) (*Session, error) {
	idBytes, err := decodeID(id)
	if err != nil {
		return nil, err
	}
	s := &Session{}
	rec := record{Session: s}
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("decode session: %w", err)
	}
	s.ID = id
	if len(rec.Tokens) == 0 {
		return s, nil
	}
	aead, err := tokenAEAD(idBytes)
	if err != nil {
		return nil, err
	}
	ns := aead.NonceSize()
	if len(rec.Tokens) < ns {
		return nil, fmt.Errorf("decode session: sealed tokens too short")
	}
	plain, err := aead.Open(nil, rec.Tokens[:ns], rec.Tokens[ns:], nil)
	if err != nil {
		return nil, fmt.Errorf("decode session: open tokens: %w", err)
	}
	var t tokens
	if err := json.Unmarshal(plain, &t); err != nil {
		return nil, fmt.Errorf("decode session: tokens: %w", err)
	}
	s.IDToken, s.AccessToken, s.RefreshToken = t.IDToken, t.AccessToken, t.RefreshToken
	return s, nil
}
