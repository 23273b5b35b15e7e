// Package session holds signed-in sessions: the Session record, the Store
// and Manager interfaces with their memory and Redis implementations, the
// Codec that seals the cookie which refers to a session, a CachedStore that
// answers most lookups in process and hears revocations over Redis pub/sub,
// and an IdleStore that ends sessions left unused.
//
// The browser holds only an AEAD-sealed reference (the 256-bit session ID).
// Stores key records by a SHA-256 hash of the ID (the Handle) and seal the
// provider's tokens, with the session's identity as additional data, under
// a key derived from the ID, so a copy of the store alone reveals neither
// usable cookies nor tokens, and write access to it alone cannot change
// who a session is.
//
// The check path reads through one Reader (LoadIdentity, or LoadWithTokens
// for policies that need them), each method implemented by every layer:
// for Redis, metrics -> IdleStore -> CachedStore -> RedisStore; for memory,
// metrics -> IdleStore -> MemoryStore (a cache would add nothing). Login,
// refresh and sign-out use the CachedStore (or store) as a Manager: its
// Load has the tokens and is never cached, and its writes evict
// everywhere. Refresh saves with Update, which writes only while the
// session is still stored.
package session
