package session

import "crypto/sha256"

// checkHandle accepts only the canonical form of a handle (64 lower-case
// hex digits), so a handle can never address another key.
func checkHandle(h string) error {
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
