// Package spoa is gatehouse's HAProxy adapter: a Stream Processing Offload
// Agent that HAProxy's SPOE filter asks, over SPOP (package spop), about
// every request.
//
// The adapter only translates. The "gatehouse-check" message HAProxy sends
// (deploy/haproxy/gatehouse.spoe.conf: the method, TLS or not, the request
// target, the request headers in HAProxy's binary form and the client
// address) becomes an authz.Request through authz.NewRequest, as in every
// other adapter; check.Checker loads the session and asks the decision
// core; and the verdict becomes set-var actions in the ACK, which the
// shipped haproxy.cfg acts on:
//
//   - status (an integer, 200 on allow), reason and user, always;
//   - on allow, up_<header> for each upstream header that has a value
//     (the identity headers, and up_cookie: the client's cookies without
//     gatehouse's own); a header without a variable is removed;
//   - on a denial, body and hdr_<header> for each reply header
//     (hdr_location, hdr_www_authenticate, hdr_content_type, ...).
//
// Header names become variable names in lower case with every character
// other than a letter or digit replaced by "_". A request the agent cannot
// read is answered with status 400; a NOTIFY without the message gets an
// ACK with no variables, and haproxy.cfg denies every request whose status
// variable is missing, so an agent that fails or does not answer never
// lets a request through.
package spoa
