// Package session holds signed-in sessions: the Session record, the Store
// interface with its memory and Redis implementations, and the Codec that
// seals the cookie which refers to a session.
//
// The browser holds only an AEAD-sealed reference (the 256-bit session ID).
// Stores key records by a SHA-256 hash of the ID and encrypt the provider's
// tokens with a key derived from the ID, so a copy of the store alone reveals
// neither usable cookies nor tokens.
package session
