// Package record is how a session is stored, whatever the store: its key
// (the Handle), its record (identity in clear, tokens sealed under a key
// derived from the session ID with the identity as additional data) and
// the indexes that find a user's or a provider session's records. The
// memory and Redis stores share it, so both hold the same bytes.
//
// Records are written in the v3 format (one version byte, 0x03, then the
// protobuf message gatehouse.session.v1.Record; see
// proto/gatehouse/session/v1/record.proto) and read in v3 or in the JSON v2
// format of earlier releases (see v2.go), so sessions survive an upgrade.
package record

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	sessionv1 "github.com/gatehouse/gatehouse/gen/gatehouse/session/v1"
	"github.com/gatehouse/gatehouse/internal/session"
)

// A record is what a store holds for a session: identity in clear (the
// admin API lists it), tokens sealed with a key only the cookie holder can
// derive, and the identity bound to them as the seal's additional data. So
// whoever can write to the store but does not hold a session's ID (which
// the store never sees, only its hash) cannot change its email, groups or
// email_verified, nor move another session's record under it: the record
// no longer opens and the session is treated as gone.

const (
	// versionV3 is the first byte of a v3 record (a v2 record starts with '{').
	versionV3 byte = 0x03
	// infoV3 is the HKDF info string of v3 record keys: a v2 seal never
	// opens as v3, nor the other way round.
	infoV3 = "gatehouse session record v3"
)

// The field numbers of gatehouse.session.v1.Record, Identity and Tokens,
// which the decoder reads without the generated code (see parseIdentity).
const (
	fieldRecordIdentity     protowire.Number = 1
	fieldRecordSealedTokens protowire.Number = 2

	fieldIssuer            protowire.Number = 1
	fieldSubject           protowire.Number = 2
	fieldSID               protowire.Number = 3
	fieldProvider          protowire.Number = 4
	fieldUser              protowire.Number = 5
	fieldEmail             protowire.Number = 6
	fieldEmailVerified     protowire.Number = 7
	fieldPreferredUsername protowire.Number = 8
	fieldGroups            protowire.Number = 9
	fieldCreatedAt         protowire.Number = 10
	fieldExpiresAt         protowire.Number = 11
	fieldLastSeenAt        protowire.Number = 12
	fieldTokenExpiry       protowire.Number = 13

	fieldTokenID      protowire.Number = 1
	fieldTokenAccess  protowire.Number = 2
	fieldTokenRefresh protowire.Number = 3
)

// recordAEAD derives the AEAD that seals a session's record from its ID
// for one format (info).
func recordAEAD(idBytes []byte, info string) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, idBytes, nil, info, 32)
	if err != nil {
		return nil, fmt.Errorf("derive record key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("record cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("record cipher: %w", err)
	}
	return aead, nil
}

// seal returns nonce || AES-GCM(plain) under the record key of idBytes for
// one format (info), with ad as additional data and a random nonce.
func seal(idBytes []byte, info string, plain, ad []byte) ([]byte, error) {
	aead, err := recordAEAD(idBytes, info)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("read random: %w", err)
	}
	return aead.Seal(nonce, nonce, plain, ad), nil
}

// encodeV3 encodes s as a v3 record, sealing its tokens (even none) with
// the version byte and its identity's bytes as additional data.
func encodeV3(s *session.Session) ([]byte, error) {
	idBytes, err := session.ParseID(s.ID)
	if err != nil {
		return nil, err
	}
	// Generated messages marshal in field-number order, as frameV3 expects.
	deterministic := proto.MarshalOptions{Deterministic: true}
	ident, err := identityMessage(s)
	if err != nil {
		return nil, err
	}
	identity, err := deterministic.Marshal(ident)
	if err != nil {
		return nil, fmt.Errorf("encode identity: %w", err)
	}
	plain, err := deterministic.Marshal(&sessionv1.Tokens{
		Id: s.IDToken, Access: s.AccessToken, Refresh: s.RefreshToken,
	})
	if err != nil {
		return nil, fmt.Errorf("encode tokens: %w", err)
	}
	sealed, err := seal(idBytes, infoV3, plain, additionalData(identity))
	if err != nil {
		return nil, err
	}
	data, err := deterministic.MarshalAppend([]byte{versionV3},
		&sessionv1.Record{Identity: identity, SealedTokens: sealed})
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	return data, nil
}

// additionalData is what a v3 seal authenticates besides the tokens: the
// version byte and the identity bytes as stored.
func additionalData(identity []byte) []byte {
	ad := make([]byte, 0, 1+len(identity))
	return append(append(ad, versionV3), identity...)
}

// identityMessage is s's clear part as a gatehouse.session.v1.Identity. A
// time that Unix nanoseconds cannot hold exactly is an error.
func identityMessage(s *session.Session) (*sessionv1.Identity, error) {
	m := &sessionv1.Identity{
		Issuer: s.Issuer, Subject: s.Subject, Sid: s.SID, Provider: s.Provider,
		User: s.User, Email: s.Email, EmailVerified: s.EmailVerified,
		PreferredUsername: s.PreferredUsername, Groups: s.Groups,
	}
	for _, f := range []struct {
		name string
		t    time.Time
		dst  *int64
	}{
		{"created_at", s.CreatedAt, &m.CreatedAt},
		{"expires_at", s.ExpiresAt, &m.ExpiresAt},
		{"last_seen_at", s.LastSeenAt, &m.LastSeenAt},
		{"token_expiry", s.TokenExpiry, &m.TokenExpiry},
	} {
		n, err := unixNanos(f.t)
		if err != nil {
			return nil, fmt.Errorf("encode identity: %s: %w", f.name, err)
		}
		*f.dst = n
	}
	return m, nil
}

// unixNanos is t in Unix nanoseconds, 0 for the zero time. A time outside
// the years 1678 to 2262, or exactly at the Unix epoch (which would read
// back as the zero time), cannot be stored.
func unixNanos(t time.Time) (int64, error) {
	if t.IsZero() {
		return 0, nil
	}
	n := t.UnixNano()
	if n == 0 || !time.Unix(0, n).Equal(t) {
		return 0, fmt.Errorf("time %s cannot be stored", t.UTC().Format(time.RFC3339Nano))
	}
	return n, nil
}

// timeOf is the inverse of unixNanos, in UTC.
func timeOf(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// frameV3 splits a v3 record into its identity and sealed tokens. The
// framing is read strictly (both fields, in order, varints in their
// shortest form, nothing else), since it is not itself authenticated: a
// v3 record opens only byte for byte as it was written.
func frameV3(data []byte) (identity, sealed []byte, err error) {
	if len(data) == 0 || data[0] != versionV3 {
		return nil, nil, errors.New("not a v3 record")
	}
	b := data[1:]
	identity, b, err = consumeBytesField(b, fieldRecordIdentity)
	if err != nil {
		return nil, nil, fmt.Errorf("record identity: %w", err)
	}
	sealed, b, err = consumeBytesField(b, fieldRecordSealedTokens)
	if err != nil {
		return nil, nil, fmt.Errorf("record sealed_tokens: %w", err)
	}
	if len(b) != 0 {
		return nil, nil, fmt.Errorf("record: %d bytes after sealed_tokens", len(b))
	}
	return identity, sealed, nil
}

// consumeBytesField reads field num of wire type bytes at the start of b.
func consumeBytesField(b []byte, num protowire.Number) (v, rest []byte, err error) {
	got, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return nil, nil, protowire.ParseError(n)
	}
	if got != num || typ != protowire.BytesType {
		return nil, nil, fmt.Errorf("field %d (wire type %d), want field %d", got, typ, num)
	}
	v, m := protowire.ConsumeBytes(b[n:])
	if m < 0 {
		return nil, nil, protowire.ParseError(m)
	}
	if n != protowire.SizeTag(num) || m != protowire.SizeBytes(len(v)) {
		return nil, nil, errors.New("varint not in its shortest form")
	}
	return v, b[n+m:], nil
}

// decodeV3 opens a v3 record with idBytes and decodes it. Only
// authenticated bytes are parsed beyond the framing.
func decodeV3(idBytes []byte, data []byte) (*session.Session, error) {
	identity, sealed, err := frameV3(data)
	if err != nil {
		return nil, fmt.Errorf("decode v3 session: %w", err)
	}
	aead, err := recordAEAD(idBytes, infoV3)
	if err != nil {
		return nil, err
	}
	ns := aead.NonceSize()
	if len(sealed) < ns+aead.Overhead() {
		return nil, errors.New("decode v3 session: not sealed")
	}
	plain, err := aead.Open(nil, sealed[:ns], sealed[ns:], additionalData(identity))
	if err != nil {
		return nil, fmt.Errorf("decode v3 session: identity or tokens altered: %w", err)
	}
	s, err := parseIdentity(identity)
	if err != nil {
		return nil, fmt.Errorf("decode v3 session: %w", err)
	}
	if err := parseTokens(plain, s); err != nil {
		return nil, fmt.Errorf("decode v3 session: %w", err)
	}
	return s, nil
}

// identityV3 decodes the clear part of a v3 record, unauthenticated.
func identityV3(data []byte) (*session.Session, error) {
	identity, _, err := frameV3(data)
	if err != nil {
		return nil, fmt.Errorf("decode v3 identity: %w", err)
	}
	s, err := parseIdentity(identity)
	if err != nil {
		return nil, fmt.Errorf("decode v3 identity: %w", err)
	}
	return s, nil
}

// parseIdentity decodes a serialized gatehouse.session.v1.Identity into a
// new Session. It is proto.Unmarshal made cheap for the check path (the
// identity's strings share one allocation) and strict: every field known,
// of its wire type, at most once unless repeated, strings valid UTF-8 and
// bools 0 or 1. What it accepts, proto.Unmarshal reads the same
// (FuzzParseIdentity checks it against the generated code).
func parseIdentity(b []byte) (*session.Session, error) {
	s := &session.Session{}
	str := string(b)
	strs := [...]*string{
		fieldIssuer: &s.Issuer, fieldSubject: &s.Subject, fieldSID: &s.SID,
		fieldProvider: &s.Provider, fieldUser: &s.User, fieldEmail: &s.Email,
		fieldPreferredUsername: &s.PreferredUsername,
	}
	times := [...]*time.Time{
		fieldCreatedAt: &s.CreatedAt, fieldExpiresAt: &s.ExpiresAt,
		fieldLastSeenAt: &s.LastSeenAt, fieldTokenExpiry: &s.TokenExpiry,
	}
	var seen uint32
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return nil, fmt.Errorf("identity: %w", protowire.ParseError(n))
		}
		off += n
		if num < fieldIssuer || num > fieldTokenExpiry {
			return nil, fmt.Errorf("identity: unknown field %d", num)
		}
		if num != fieldGroups {
			if seen&(1<<num) != 0 {
				return nil, fmt.Errorf("identity: field %d repeated", num)
			}
			seen |= 1 << num
		}
		switch {
		case num == fieldEmailVerified:
			if typ != protowire.VarintType {
				return nil, fmt.Errorf("identity: field %d: wire type %d", num, typ)
			}
			v, m := protowire.ConsumeVarint(b[off:])
			if m < 0 {
				return nil, fmt.Errorf("identity: field %d: %w", num, protowire.ParseError(m))
			}
			if v > 1 {
				return nil, fmt.Errorf("identity: field %d: bool %d", num, v)
			}
			s.EmailVerified = v == 1
			off += m
		case num >= fieldCreatedAt:
			if typ != protowire.Fixed64Type {
				return nil, fmt.Errorf("identity: field %d: wire type %d", num, typ)
			}
			v, m := protowire.ConsumeFixed64(b[off:])
			if m < 0 {
				return nil, fmt.Errorf("identity: field %d: %w", num, protowire.ParseError(m))
			}
			*times[num] = timeOf(int64(v))
			off += m
		default: // the strings, groups among them
			v, m, err := consumeString(b, str, off, num, typ)
			if err != nil {
				return nil, fmt.Errorf("identity: %w", err)
			}
			if num == fieldGroups {
				if s.Groups == nil {
					s.Groups = make([]string, 0, 4)
				}
				if len(s.Groups) == MaxGroups {
					return nil, fmt.Errorf("identity: more than %d groups", MaxGroups)
				}
				s.Groups = append(s.Groups, v)
			} else {
				*strs[num] = v
			}
			off += m
		}
	}
	return s, nil
}

// parseTokens decodes a serialized gatehouse.session.v1.Tokens into s,
// as strictly as parseIdentity.
func parseTokens(b []byte, s *session.Session) error {
	str := string(b)
	dst := [...]*string{fieldTokenID: &s.IDToken, fieldTokenAccess: &s.AccessToken, fieldTokenRefresh: &s.RefreshToken}
	var seen uint32
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return fmt.Errorf("tokens: %w", protowire.ParseError(n))
		}
		off += n
		if num < fieldTokenID || num > fieldTokenRefresh {
			return fmt.Errorf("tokens: unknown field %d", num)
		}
		if seen&(1<<num) != 0 {
			return fmt.Errorf("tokens: field %d repeated", num)
		}
		seen |= 1 << num
		v, m, err := consumeString(b, str, off, num, typ)
		if err != nil {
			return fmt.Errorf("tokens: %w", err)
		}
		*dst[num] = v
		off += m
	}
	return nil
}

// consumeString reads the value of string field num, whose tag ended at
// off in b, as a substring of str (b as a string) rather than a copy.
func consumeString(b []byte, str string, off int, num protowire.Number, typ protowire.Type) (string, int, error) {
	if typ != protowire.BytesType {
		return "", 0, fmt.Errorf("field %d: wire type %d", num, typ)
	}
	v, n := protowire.ConsumeBytes(b[off:])
	if n < 0 {
		return "", 0, fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
	}
	end := off + n
	val := str[end-len(v) : end]
	if !utf8.ValidString(val) {
		return "", 0, fmt.Errorf("field %d: invalid UTF-8", num)
	}
	return val, n, nil
}
