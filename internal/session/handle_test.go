package session

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// TestHandleOfIsTheHexSHA256OfTheID pins the handle's value: stores keep
// sessions under it, so a change would orphan every stored session.
func TestHandleOfIsTheHexSHA256OfTheID(t *testing.T) {
	for range 20 {
		id, _ := NewID()
		b, err := ParseID(id)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		h, err := HandleOf(id)
		if err != nil || h != hex.EncodeToString(sum[:]) {
			t.Fatalf("HandleOf(%q) = %q, %v; want %x", id, h, err, sum)
		}
	}
}
