package record

import (
	"crypto/rand"
	"encoding/json"
	"testing"

	"github.com/gatehouse/gatehouse/internal/session"
)

// encodeV2 is the v2 encoder of earlier releases, kept for tests only
// (production code reads v2 and never writes it): the identity's JSON,
// with the tokens' JSON sealed under the v2 key with that JSON as
// additional data.
func encodeV2(tb testing.TB, s *session.Session) []byte {
	tb.Helper()
	idBytes, err := session.ParseID(s.ID)
	if err != nil {
		tb.Fatal(err)
	}
	ad, err := json.Marshal(s)
	if err != nil {
		tb.Fatal(err)
	}
	plain, err := json.Marshal(tokensV2{s.IDToken, s.AccessToken, s.RefreshToken})
	if err != nil {
		tb.Fatal(err)
	}
	aead, err := recordAEAD(idBytes, infoV2)
	if err != nil {
		tb.Fatal(err)
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		tb.Fatal(err)
	}
	data, err := json.Marshal(recordV2{Session: s, Tokens: aead.Seal(nonce, nonce, plain, ad)})
	if err != nil {
		tb.Fatal(err)
	}
	return data
}
