// Package session is the model of a signed-in session and the contracts
// around it: the Session record, the ID and the Handle it is stored under,
// and the Store, Manager and Reader interfaces that every store and layer
// implements.
//
// The browser holds only an AEAD-sealed reference (the 256-bit session ID).
// Stores key records by a SHA-256 hash of the ID (the Handle) and seal the
// provider's tokens, with the session's identity as additional data, under
// a key derived from the ID (package record), so a copy of the store alone
// reveals neither usable cookies nor tokens, and write access to it alone
// cannot change who a session is.
//
// The implementations live in packages of their own, each with one job:
//
//   - cookie: the sealed cookie that refers to a session, the login
//     cookies, their attributes, and stripping them from the upstream's
//     Cookie header;
//   - record: how a session is stored (sealed record, indexes);
//   - memstore: the in-memory store of a single replica;
//   - redisstore: the Redis store (standalone, Sentinel, Cluster) shared by
//     replicas, with revocations published over pub/sub;
//   - cache: a local cache in front of a Manager that hears those
//     revocations;
//   - idle: the sliding idle timeout, a pure check on LastSeenAt plus
//     throttled background writes of it.
//
// The check path reads through one Reader (LoadIdentity, or LoadWithTokens
// for policies that need them), each method implemented by every layer:
// for Redis, metrics -> idle -> cache -> redisstore; for memory, metrics ->
// idle -> memstore (a cache would add nothing). Login, refresh and sign-out
// use the cache (or store) as a Manager: its Load has the tokens and is
// never cached, and its writes evict everywhere. Refresh saves with Update,
// which writes only while the session is still stored.
package session
