package record

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/session"
)

// The v2 format of earlier releases: a JSON object (so its first byte is
// '{') holding the identity in clear and, under "tokens", the base64 of
// nonce || AES-GCM(JSON tokens) sealed under the key of infoV2 with the
// JSON encoding of the decoded identity as additional data. Always read,
// so sessions written before v3 keep working until they expire; written
// only when asked (V2), while replicas of an earlier release still read
// the same store during a rolling upgrade.

// infoV2 is the HKDF info string of v2 record keys.
const infoV2 = "gatehouse session record v2"

// recordV2 is a session.Session as stored in v2.
type recordV2 struct {
	*session.Session
	Tokens []byte `json:"tokens,omitempty"`
}

// tokensV2 are the sealed tokens of a v2 record.
type tokensV2 struct {
	IDToken      string `json:"id,omitempty"`
	AccessToken  string `json:"access,omitempty"`
	RefreshToken string `json:"refresh,omitempty"`
}

// identityV2 decodes the clear part of a v2 record.
func identityV2(data []byte) (*session.Session, error) {
	s := &session.Session{}
	if err := json.Unmarshal(data, &recordV2{Session: s}); err != nil {
		return nil, fmt.Errorf("decode v2 identity: %w", err)
	}
	if len(s.Groups) > MaxGroups {
		return nil, fmt.Errorf("decode v2 identity: more than %d groups", MaxGroups)
	}
	return s, nil
}

// decodeV2 decodes a v2 record, checks that its identity is the one sealed
// with its tokens (the JSON re-encoding of what was decoded, so what is
// authenticated is what the check path acts on), and opens them with idBytes.
func decodeV2(idBytes []byte, data []byte) (*session.Session, error) {
	s := &session.Session{}
	rec := recordV2{Session: s}
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("decode v2 session: %w", err)
	}
	aead, err := recordAEAD(idBytes, infoV2)
	if err != nil {
		return nil, err
	}
	ns := aead.NonceSize()
	if len(rec.Tokens) < ns+aead.Overhead() {
		return nil, errors.New("decode v2 session: not sealed")
	}
	ad, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("decode v2 session: encode identity: %w", err)
	}
	plain, err := aead.Open(nil, rec.Tokens[:ns], rec.Tokens[ns:], ad)
	if err != nil {
		return nil, fmt.Errorf("decode v2 session: identity or tokens altered: %w", err)
	}
	var t tokensV2
	if err := json.Unmarshal(plain, &t); err != nil {
		return nil, fmt.Errorf("decode v2 session: tokens: %w", err)
	}
	s.IDToken, s.AccessToken, s.RefreshToken = t.IDToken, t.AccessToken, t.RefreshToken
	return s, nil
}

// encodeV2 encodes s as a v2 record, as releases before v3 did.
func encodeV2(s *session.Session) ([]byte, error) {
	idBytes, err := session.ParseID(s.ID)
	if err != nil {
		return nil, err
	}
	ad, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode v2 identity: %w", err)
	}
	plain, err := json.Marshal(tokensV2{s.IDToken, s.AccessToken, s.RefreshToken})
	if err != nil {
		return nil, fmt.Errorf("encode v2 tokens: %w", err)
	}
	sealed, err := seal(idBytes, infoV2, plain, ad)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(recordV2{Session: s, Tokens: sealed})
	if err != nil {
		return nil, fmt.Errorf("encode v2 record: %w", err)
	}
	return data, nil
}
