// Package authz is gatehouse's decision core.
//
// Decide is a pure function: it takes a normalized request, what the session
// lookup found, and a policy snapshot, and returns a Decision. It performs no
// I/O and knows nothing of gRPC, HTTP servers, Redis or OIDC, so every proxy
// adapter reaches the same verdict for the same request, and the function is
// trivially table-tested and benchmarked.
package authz
