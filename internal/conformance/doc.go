// Package conformance holds the one scenario table that every proxy adapter
// must answer alike: Envoy ext_authz over gRPC (internal/envoy), and the
// forward-auth and auth-request HTTP endpoints (internal/forwardauth), and
// HAProxy's SPOE agent (internal/spoa, spoa_test.go), and gatehouse's own
// reverse-proxy mode (internal/reverseproxy, reverseproxy_test.go: what the
// upstream behind it receives), each driven over a real loopback
// connection against one shared check.Checker.
//
// The package has no code of its own; its tests are the contract. A new
// adapter joins by adding a driver that turns a scenario into that proxy's
// request and the reply back into the common verdict.
package conformance
