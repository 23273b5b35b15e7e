package oidctest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// authRequestTTL is how long an unfinished authorization request lives.
const authRequestTTL = 10 * time.Minute

var _ op.Storage = (*storage)(nil)
var _ op.CanSetUserinfoFromRequest = (*storage)(nil)

// storage is the provider's state: the op.Storage the OP library calls.
type storage struct {
	key          *rsa.PrivateKey
	keyID        string
	idLifetime   time.Duration
	atLifetime   time.Duration
	rtLifetime   time.Duration
	userinfoOnly atomic.Bool
	granted      atomic.Int64
	refreshTried atomic.Int64
	// onTerminate, if set, is called after a session ends at end_session,
	// with the provider session IDs that ended.
	onTerminate func(ctx context.Context, subject string, sids []string)

	mu       sync.Mutex
	client   Client
	users    map[string]User // by subject
	requests map[string]*authRequest
	codes    map[string]string // code → auth request ID
	access   map[string]*grant // access token ID → grant
	refresh  map[string]*grant // refresh token → grant
	ended    []string
	logouts  []LogoutDelivery
}

// grant is what an access or refresh token stands for.
type grant struct {
	subject  string
	clientID string
	sid      string
	scopes   []string
	authTime time.Time
	expires  time.Time
}

func newStorage(key *rsa.PrivateKey, opts Options) *storage {
	s := &storage{
		key:        key,
		keyID:      randomString(8),
		idLifetime: orDefault(opts.IDTokenLifetime, 5*time.Minute),
		atLifetime: orDefault(opts.AccessTokenLifetime, 5*time.Minute),
		rtLifetime: orDefault(opts.RefreshTokenLifetime, time.Hour),
		client:     opts.Client,
		users:      make(map[string]User, len(opts.Users)),
		requests:   make(map[string]*authRequest),
		codes:      make(map[string]string),
		access:     make(map[string]*grant),
		refresh:    make(map[string]*grant),
	}
	s.client.RedirectURIs = slices.Clone(s.client.RedirectURIs)
	s.client.PostLogoutRedirectURIs = slices.Clone(s.client.PostLogoutRedirectURIs)
	for _, u := range opts.Users {
		s.users[u.Subject] = u
	}
	s.userinfoOnly.Store(opts.ClaimsInUserinfoOnly)
	return s
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// randomString returns n random bytes, base64url encoded.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// errNotFound is returned for unknown IDs, codes and tokens.
var errNotFound = errors.New("oidctest: not found")

// --- authorization requests ---

func (s *storage) CreateAuthRequest(_ context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if req.CodeChallenge == "" || req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE with code_challenge_method S256 is required")
	}
	now := time.Now()
	a := &authRequest{
		id:           randomString(16),
		created:      now,
		clientID:     req.ClientID,
		redirectURI:  req.RedirectURI,
		state:        req.State,
		nonce:        req.Nonce,
		scopes:       slices.Clone(req.Scopes),
		responseType: req.ResponseType,
		responseMode: req.ResponseMode,
		challenge:    &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: req.CodeChallengeMethod},
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, old := range s.requests { // drop abandoned requests
		if now.Sub(old.created) > authRequestTTL {
			delete(s.requests, id)
			if old.code != "" {
				delete(s.codes, old.code)
			}
		}
	}
	s.requests[a.id] = a
	return a.clone(), nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok {
		return nil, errNotFound
	}
	return a.clone(), nil
}

func (s *storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[s.codes[code]]
	if !ok {
		return nil, errNotFound
	}
	return a.clone(), nil
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok {
		return errNotFound
	}
	a.code = code
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest is called when a code is redeemed, so a code works once.
func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.requests[id]; ok && a.code != "" {
		delete(s.codes, a.code)
	}
	delete(s.requests, id)
	return nil
}

// finishLogin marks the request as authenticated for the user with
// username and password, and reports whether the credentials were right.
func (s *storage) finishLogin(id, username, password string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok || a.done {
		return false, errNotFound
	}
	for _, u := range s.users {
		if username != u.Subject && (u.PreferredUsername == "" || username != u.PreferredUsername) {
			continue
		}
		if u.Password == "" || subtle.ConstantTimeCompare([]byte(password), []byte(u.Password)) != 1 {
			return false, nil
		}
		a.subject, a.authTime, a.sid, a.done = u.Subject, time.Now(), randomString(12), true
		return true, nil
	}
	return false, nil
}

// --- tokens ---

func (s *storage) newGrant(req op.TokenRequest, lifetime time.Duration) *grant {
	g := &grant{subject: req.GetSubject(), scopes: slices.Clone(req.GetScopes()), expires: time.Now().Add(lifetime)}
	switch r := req.(type) {
	case *authRequest:
		g.clientID, g.sid, g.authTime = r.clientID, r.sid, r.authTime
	case *refreshRequest:
		g.clientID, g.sid, g.authTime = r.g.clientID, r.g.sid, r.g.authTime
	}
	return g
}

func (s *storage) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	g := s.newGrant(req, s.atLifetime)
	id := randomString(16)
	s.mu.Lock()
	s.access[id] = g
	s.mu.Unlock()
	s.granted.Add(1)
	return id, g.expires, nil
}

func (s *storage) CreateAccessAndRefreshTokens(_ context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	at := s.newGrant(req, s.atLifetime)
	rt := s.newGrant(req, s.rtLifetime)
	atID, rtValue := randomString(16), randomString(32)
	s.mu.Lock()
	defer s.mu.Unlock()
	if current != "" {
		if _, ok := s.refresh[current]; !ok {
			return "", "", time.Time{}, op.ErrInvalidRefreshToken
		}
		delete(s.refresh, current) // rotation: a refresh token works once
	}
	s.access[atID] = at
	s.refresh[rtValue] = rt
	s.granted.Add(1)
	return atID, rtValue, at.expires, nil
}

func (s *storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	s.refreshTried.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.refresh[token]
	if !ok || time.Now().After(g.expires) {
		return nil, op.ErrInvalidRefreshToken
	}
	c := *g
	c.scopes = slices.Clone(g.scopes)
	return &refreshRequest{g: &c}, nil
}

func (s *storage) TerminateSession(ctx context.Context, userID, clientID string) error {
	sids := s.revoke(userID, clientID)
	s.mu.Lock()
	s.ended = append(s.ended, userID)
	s.mu.Unlock()
	if s.onTerminate != nil {
		s.onTerminate(ctx, userID, sids)
	}
	return nil
}

// revoke drops every token of subject (for clientID, or for any client
// when it is empty) and returns the provider session IDs they belonged to.
func (s *storage) revoke(subject, clientID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sids []string
	for _, m := range []map[string]*grant{s.access, s.refresh} {
		for k, g := range m {
			if g.subject == subject && (clientID == "" || g.clientID == clientID) {
				if g.sid != "" && !slices.Contains(sids, g.sid) {
					sids = append(sids, g.sid)
				}
				delete(m, k)
			}
		}
	}
	slices.Sort(sids)
	return sids
}

func (s *storage) RevokeToken(_ context.Context, tokenOrID, _, _ string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.access, tokenOrID)
	delete(s.refresh, tokenOrID)
	return nil
}

func (s *storage) GetRefreshTokenInfo(_ context.Context, _, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.refresh[token]
	if !ok {
		return "", "", op.ErrInvalidRefreshToken
	}
	return g.subject, token, nil
}

// --- keys ---

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k signingKey) Key() any                                    { return k.key }
func (k signingKey) ID() string                                  { return k.id }

type publicKey struct {
	id  string
	key *rsa.PublicKey
}

func (k publicKey) ID() string                         { return k.id }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return k.key }

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	return signingKey{id: s.keyID, key: s.key}, nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{id: s.keyID, key: &s.key.PublicKey}}, nil
}

// --- clients ---

func (s *storage) GetClientByClientID(_ context.Context, clientID string) (op.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if clientID != s.client.ID {
		return nil, fmt.Errorf("oidctest: unknown client %q", clientID)
	}
	return &client{
		id:              s.client.ID,
		redirectURIs:    slices.Clone(s.client.RedirectURIs),
		postLogoutURIs:  slices.Clone(s.client.PostLogoutRedirectURIs),
		idTokenLifetime: s.idLifetime,
		claimsInIDToken: !s.userinfoOnly.Load(),
	}, nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, clientID, secret string) error {
	s.mu.Lock()
	c := s.client
	s.mu.Unlock()
	idOK := subtle.ConstantTimeCompare([]byte(clientID), []byte(c.ID))
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret))
	if idOK&secretOK != 1 {
		return errors.New("oidctest: invalid client credentials")
	}
	return nil
}

// --- claims ---

// SetUserinfoFromScopes is deprecated in the OP library; SetUserinfoFromRequest does the work.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's claims. The library has
// already removed the profile and email scopes when the client does not
// want identity claims in the ID token.
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	info.Subject = req.GetSubject()
	var sid string
	switch r := req.(type) {
	case *authRequest:
		sid = r.sid
	case *refreshRequest:
		sid = r.g.sid
	}
	if sid != "" {
		info.AppendClaims("sid", sid)
	}
	if s.userinfoOnly.Load() {
		return nil
	}
	return s.fill(info, req.GetSubject(), scopes)
}

func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	s.mu.Lock()
	g, ok := s.access[tokenID]
	s.mu.Unlock()
	if !ok || g.subject != subject || time.Now().After(g.expires) {
		return errors.New("oidctest: access token invalid or expired")
	}
	return s.fill(info, subject, g.scopes)
}

// fill sets the claims of subject that scopes grant: email and
// email_verified for "email", preferred_username for "profile", and groups
// for "groups" or "profile".
func (s *storage) fill(info *oidc.UserInfo, subject string, scopes []string) error {
	s.mu.Lock()
	u, ok := s.users[subject]
	s.mu.Unlock()
	if !ok {
		return errNotFound
	}
	info.Subject = u.Subject
	if slices.Contains(scopes, oidc.ScopeEmail) && u.Email != "" {
		info.Email = u.Email
		info.EmailVerified = oidc.Bool(u.EmailVerified)
		if !u.EmailVerified {
			// The library omits a false email_verified; say it, as real providers do.
			info.AppendClaims("email_verified", false)
		}
	}
	if slices.Contains(scopes, oidc.ScopeProfile) {
		info.PreferredUsername = u.PreferredUsername
	}
	if (slices.Contains(scopes, "groups") || slices.Contains(scopes, oidc.ScopeProfile)) && len(u.Groups) > 0 {
		info.AppendClaims("groups", slices.Clone(u.Groups))
	}
	return nil
}

func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	s.mu.Lock()
	g, ok := s.access[tokenID]
	s.mu.Unlock()
	if !ok || g.subject != subject || time.Now().After(g.expires) {
		return errors.New("oidctest: token invalid")
	}
	resp.Active = true
	resp.Subject = subject
	resp.ClientID = g.clientID
	resp.Scope = g.scopes
	resp.Expiration = oidc.FromTime(g.expires)
	return nil
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("oidctest: private_key_jwt is not supported")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("oidctest: JWT profile grants are not supported")
}

func (s *storage) Health(context.Context) error { return nil }
