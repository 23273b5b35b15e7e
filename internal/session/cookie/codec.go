// Package cookie seals and reads gatehouse's cookies: the session cookie
// that refers to a session (an AEAD-sealed session ID), the short-lived
// login cookies, their attributes (__Host- prefix, Secure, SameSite), and
// the removal of gatehouse's own cookies from what the upstream receives.
package cookie

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
)

// KeySize is the size of a cookie key: 256 bits.
const KeySize = 32

// MaxValue bounds what Open will look at, so a huge header costs nothing.
const MaxValue = 4096

// ErrInvalid: a cookie value is malformed, tampered, sealed with an unknown
// key, for another cookie name, or expired.
var ErrInvalid = errors.New("invalid or expired cookie")

// Codec seals and opens cookie values with AES-256-GCM. The first key seals;
// every key opens, so keys can be rotated without signing everyone out.
// The cookie name is bound as additional data, so a value cannot be moved
// from one cookie to another.
type Codec struct {
	aeads []cipher.AEAD
	now   func() time.Time
}

// NewCodec returns a Codec for keys, each KeySize bytes. now may be nil.
func NewCodec(keys [][]byte, now func() time.Time) (*Codec, error) {
	if len(keys) == 0 {
		return nil, errors.New("session: codec needs at least one key")
	}
	if now == nil {
		now = time.Now
	}
	c := &Codec{now: now}
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("session: key %d is %d bytes, want %d", i, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("session: key %d: %w", i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("session: key %d: %w", i, err)
		}
		c.aeads = append(c.aeads, aead)
	}
	return c, nil
}

// Seal returns the cookie value for name that carries payload until expires.
func (c *Codec) Seal(name string, payload []byte, expires time.Time) (string, error) {
	aead := c.aeads[0]
	plain := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint64(plain, uint64(expires.Unix()))
	copy(plain[8:], payload)
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("session: read random: %w", err)
	}
	sealed := aead.Seal(nonce, nonce, plain, []byte(name))
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// Open returns the payload of a value made by Seal for the same name, or
// ErrInvalid.
func (c *Codec) Open(name, value string) ([]byte, error) {
	if len(value) == 0 || len(value) > MaxValue {
		return nil, ErrInvalid
	}
	// Strict decoding plus the length check make the encoding canonical: a
	// value with stray line breaks or altered padding bits is refused even
	// though it would decode to the same bytes.
	raw, err := base64.RawURLEncoding.Strict().DecodeString(value)
	if err != nil || base64.RawURLEncoding.EncodedLen(len(raw)) != len(value) {
		return nil, ErrInvalid
	}
	ad := []byte(name)
	for i, aead := range c.aeads {
		ns := aead.NonceSize()
		if len(raw) < ns+8+aead.Overhead() {
			return nil, ErrInvalid
		}
		// The last key tried opens in place (raw is ours); an earlier one
		// must not, since a failed Open may leave its output scrambled.
		var dst []byte
		if i == len(c.aeads)-1 {
			dst = raw[ns:ns]
		}
		plain, err := aead.Open(dst, raw[:ns], raw[ns:], ad)
		if err != nil {
			continue
		}
		exp := int64(binary.BigEndian.Uint64(plain))
		if c.now().Unix() >= exp {
			return nil, ErrInvalid
		}
		return plain[8:], nil
	}
	return nil, ErrInvalid
}

// SealID returns the cookie value for name that refers to session id.
func (c *Codec) SealID(name, id string, expires time.Time) (string, error) {
	b, err := session.ParseID(id)
	if err != nil {
		return "", err
	}
	return c.Seal(name, b, expires)
}

// OpenID returns the session ID a cookie value made by SealID refers to.
func (c *Codec) OpenID(name, value string) (string, error) {
	b, err := c.Open(name, value)
	if err != nil {
		return "", err
	}
	if len(b) != session.IDBytes {
		return "", ErrInvalid
	}
	var id [64]byte // the text form of IDBytes (43 bytes), on the stack
	n := base64.RawURLEncoding.EncodedLen(len(b))
	base64.RawURLEncoding.Encode(id[:n], b)
	return string(id[:n]), nil
}
