// Package check validates the shipped deployment files under deploy/ with
// each tool's own loader: the Compose files with compose-go (the library
// Docker Compose itself uses) and the Kubernetes manifests by decoding them
// strictly into their real Go types. It is a separate module so that those
// libraries stay out of gatehouse's own go.mod and binary; its tests run in
// "make test" (cd deploy/check && go test ./...).
package check
