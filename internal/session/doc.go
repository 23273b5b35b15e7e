// Package session holds signed-in sessions: the Session record, the Store
// and Manager interfaces with their memory and Redis implementations, the
// Codec that seals the cookie which refers to a session, a CachedStore that
// answers most lookups in process and hears revocations over Redis pub/sub,
// and an IdleStore that ends sessions left unused.
//
// The browser holds only an AEAD-sealed reference (the 256-bit session ID).
// Stores key records by a SHA-256 hash of the ID (the Handle) and encrypt the
// provider's tokens with a key derived from the ID, so a copy of the store
// alone reveals neither usable cookies nor tokens.
//
// Wiring for Redis: RedisStore -> CachedStore -> IdleStore for the check
// path, and CachedStore.Fresh() (tokens, never cached, writes still evict
// everywhere) for login, refresh and sign-out. For memory: MemoryStore ->
// IdleStore; a cache would add nothing.
package session
