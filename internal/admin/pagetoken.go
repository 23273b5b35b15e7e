package admin

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/session"
)

// maxPageTokenLen bounds a page token before it is decoded.
const maxPageTokenLen = 2048

// pageToken is what a ListSessions page token carries: the store's cursor
// and a digest of the selection it was issued for, so a token is refused
// when replayed with another selection. Tokens are opaque to clients but not
// secret: they hold no session data, and every caller is authenticated.
type pageToken struct {
	V      int    `json:"v"`
	Filter string `json:"f"`
	Cursor string `json:"c"`
}

// errBadPageToken is the client-facing reason for any unusable token.
var errBadPageToken = errors.New("invalid page_token: use the next_page_token of the previous page, with the same issuer, subject and email")

func filterDigest(f session.Filter) string {
	h := sha256.New()
	for _, v := range []string{f.Issuer, f.Subject, f.Email} {
		h.Write([]byte(v))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

func encodePageToken(cursor string, f session.Filter) (string, error) {
	b, err := json.Marshal(pageToken{V: 1, Filter: filterDigest(f), Cursor: cursor})
	if err != nil {
		return "", fmt.Errorf("encode page token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// decodePageToken returns the store cursor in tok ("" for an empty token),
// or errBadPageToken.
func decodePageToken(tok string, f session.Filter) (string, error) {
	if tok == "" {
		return "", nil
	}
	if len(tok) > maxPageTokenLen {
		return "", errBadPageToken
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil {
		return "", errBadPageToken
	}
	var pt pageToken
	if err := json.Unmarshal(b, &pt); err != nil || pt.V != 1 || pt.Cursor == "" || pt.Filter != filterDigest(f) {
		return "", errBadPageToken
	}
	return pt.Cursor, nil
}
