// Package e2e is gatehouse's end-to-end suite: real proxies (nginx, Caddy,
// Traefik) started from the files in deploy/, a real OpenID provider (the
// zitadel/oidc example server), two gatehouse replicas on a real Redis, an
// upstream that echoes the headers it received, and headless Chromium.
//
// The tests are behind the e2e build tag; run them with scripts/e2e.sh,
// which installs or builds what is missing, or with
//
//	go test -tags e2e -count=1 -timeout 15m ./e2e/...
//
// once the tools are in place (see scripts/e2e.sh for the environment
// variables that locate them).
package e2e
