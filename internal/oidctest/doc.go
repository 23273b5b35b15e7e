// Package oidctest is an in-process OpenID Connect provider for tests and
// for the demo mode. It runs a real OP (github.com/zitadel/oidc/v3/pkg/op)
// on a loopback address, with in-memory users, one confidential client, the
// authorization-code flow with mandatory PKCE (S256), refresh tokens,
// userinfo and an end_session endpoint. Its login page is a plain HTML form,
// which Authorize and Login drive from Go without a browser.
//
// It is a library, not only a test helper: New and Close manage its life;
// Start adds the conveniences of a test.
package oidctest
