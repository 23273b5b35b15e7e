// Package envoy is gatehouse's Envoy external-authorization adapter: it
// serves envoy.service.auth.v3.Authorization/Check over gRPC.
//
// The adapter only translates. A CheckRequest's HTTP attributes become an
// authz.Request, check.Checker loads the session and asks the decision core,
// and the Decision becomes a CheckResponse:
//
//   - allow: gRPC status OK and an OkHttpResponse that overwrites every
//     identity header that has a value and removes every identity header
//     that has none, so a client can never smuggle one to the upstream;
//   - deny: a non-OK gRPC status (UNAUTHENTICATED, PERMISSION_DENIED,
//     INVALID_ARGUMENT or UNAVAILABLE) and a DeniedHttpResponse carrying the
//     decision's HTTP status, headers and body.
//
// Every response carries dynamic metadata (reason, outcome, user) that
// Envoy can log or pass to later filters. A request Envoy describes badly
// (no HTTP attributes, a malformed path or host) is denied with 400; the
// adapter never panics on input.
package envoy
