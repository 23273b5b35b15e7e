package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/gatehouse/gatehouse/internal/limitedfile"
)

// MinTokenLen is the shortest bearer token accepted, in bytes.
const MinTokenLen = 32

// maxTokenFileSize bounds how much of a token file is read.
const maxTokenFileSize = 4096

// ReadTokenFile reads a bearer token from path: the file's content without
// surrounding whitespace (so a trailing newline is harmless). It refuses an
// empty or short token (< MinTokenLen bytes) and one with inner whitespace or
// control characters. Errors never contain the token.
func ReadTokenFile(path string) ([]byte, error) {
	if path == "" {
		return nil, errors.New("admin: token file: no path")
	}
	buf, err := limitedfile.Read(path, maxTokenFileSize)
	if err != nil {
		return nil, fmt.Errorf("admin: token file: %w", err)
	}
	tok := bytes.TrimSpace(buf)
	if err := checkToken(tok); err != nil {
		return nil, fmt.Errorf("admin: token file %s: %w", path, err)
	}
	return tok, nil
}

// checkToken refuses tokens that are short or could not travel intact in a
// gRPC "authorization" header.
func checkToken(tok []byte) error {
	if len(tok) == 0 {
		return errors.New("token is empty")
	}
	if len(tok) < MinTokenLen {
		return fmt.Errorf("token is %d bytes, shorter than %d", len(tok), MinTokenLen)
	}
	for _, c := range tok {
		if c <= ' ' || c >= 0x7f {
			return errors.New("token must be printable ASCII without spaces")
		}
	}
	return nil
}

// authenticator checks a call's credentials: the bearer token when one is
// configured, and a verified client certificate when mTLS is required. Each
// configured mechanism is required; none is optional.
type authenticator struct {
	tokenSum    *[sha256.Size]byte // SHA-256 of the token; nil: no token auth
	requireMTLS bool
}

// errUnauthenticated is the only thing a refused client learns.
var errUnauthenticated = status.Error(codes.Unauthenticated, "admin API: missing or invalid credentials")

// authenticate returns how the caller was authenticated ("token", "mtls" or
// "token+mtls"), or errUnauthenticated with the reason for the log.
func (a *authenticator) authenticate(ctx context.Context) (method string, reason string, err error) {
	var methods []string
	if a.requireMTLS {
		if !hasVerifiedClientCert(ctx) {
			return "", "no verified client certificate", errUnauthenticated
		}
		methods = append(methods, "mtls")
	}
	if a.tokenSum != nil {
		tok, why := bearerToken(ctx)
		if why != "" {
			return "", why, errUnauthenticated
		}
		// Comparing digests in constant time reveals neither the token's
		// bytes nor its length.
		got := sha256.Sum256([]byte(tok))
		if subtle.ConstantTimeCompare(got[:], a.tokenSum[:]) != 1 {
			return "", "wrong bearer token", errUnauthenticated
		}
		methods = append([]string{"token"}, methods...)
	}
	return strings.Join(methods, "+"), "", nil
}

// bearerToken returns the token of the call's single "authorization: Bearer"
// header, or why there is none.
func bearerToken(ctx context.Context) (string, string) {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return "", "no metadata"
	}
	vals := md.Get("authorization")
	switch {
	case len(vals) == 0:
		return "", "no authorization header"
	case len(vals) > 1:
		return "", "several authorization headers"
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || tok == "" {
		return "", "authorization is not a bearer token"
	}
	return tok, ""
}

// hasVerifiedClientCert reports whether the call came over TLS with a client
// certificate that chained to the configured client CAs.
func hasVerifiedClientCert(ctx context.Context) bool {
	p, ok := peer.FromContext(ctx)
	if !ok || p.AuthInfo == nil {
		return false
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	return ok && len(ti.State.VerifiedChains) > 0 && len(ti.State.PeerCertificates) > 0
}
