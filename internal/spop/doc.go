// Package spop is a codec for HAProxy's Stream Processing Offload Protocol
// (SPOP 2.0, doc/SPOE.txt in the HAProxy sources), the protocol HAProxy's
// SPOE filter speaks to an offload agent: length-prefixed frames
// (HAPROXY-HELLO, AGENT-HELLO, NOTIFY, ACK, HAPROXY-DISCONNECT,
// AGENT-DISCONNECT), "Peers" varints, typed data, key/value lists, the
// messages of a NOTIFY and the set-var/unset-var actions of an ACK, and the
// HELLO negotiation of version, max-frame-size and capabilities.
//
// It is written here from the specification because no maintained Go SPOE
// library is reachable from the Go module proxy gatehouse builds from
// (negasus/haproxy-spoe-go, dropmorepackets/haproxy-go, criteo's and
// DataDog's are not served). It is small on purpose: only what an agent
// that answers HAProxy 2.6 needs.
//
// Decoding never panics and never allocates more than the input it is
// given: every length is checked against the bytes left before it is used,
// and a frame is read only after its length passed the negotiated
// max-frame-size. Fragmented payloads are refused with
// StatusFragNotSupported, since the agent never announces the
// "fragmentation" capability.
package spop
