// Package admin serves gatehouse's own administration API
// (gatehouse.admin.v1.SessionService) on the admin listener: list, inspect
// and revoke sessions by their handle, or every session of one user. Every
// call is authenticated (a bearer token read from a file, or a verified client
// certificate, or both) and logged; the package also has the client the
// "gatehouse sessions" command uses.
package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/gatehouse/gatehouse/gen/gatehouse/admin/v1"
	"github.com/gatehouse/gatehouse/internal/session"
)

// Page sizes of ListSessions.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// Limits on request fields; a request past them is InvalidArgument.
const (
	maxFieldLen  = 1024
	maxHandleLen = 128
	// maxRevokeScan bounds how many sessions RevokeUserSessions reads to
	// find the users behind an email, so one call cannot run unbounded.
	maxRevokeScan = 100_000
)

// Manager is the part of session.Manager the admin API uses.
type Manager interface {
	List(ctx context.Context, f session.Filter, cursor string, limit int) ([]*session.Session, string, error)
	LoadByHandle(ctx context.Context, handle string) (*session.Session, error)
	DeleteByHandle(ctx context.Context, handle string) error
	DeleteMatching(ctx context.Context, f session.Filter) (int, error)
}

var _ Manager = session.Manager(nil)

// Service implements adminv1.SessionServiceServer on a Manager. It does no
// authentication of its own: NewServer puts it behind the interceptors.
type Service struct {
	adminv1.UnimplementedSessionServiceServer

	mgr     Manager
	timeout time.Duration
}

var _ adminv1.SessionServiceServer = (*Service)(nil)

// NewService returns the SessionService on mgr; every call's store work is
// bounded by timeout (DefaultTimeout if <= 0).
func NewService(mgr Manager, timeout time.Duration) *Service {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Service{mgr: mgr, timeout: timeout}
}

// ListSessions returns one page of one user's sessions.
func (s *Service) ListSessions(ctx context.Context, req *adminv1.ListSessionsRequest) (*adminv1.ListSessionsResponse, error) {
	f, err := userFilter(req.GetIssuer(), req.GetSubject(), req.GetEmail())
	if err != nil {
		return nil, err
	}
	size := int(req.GetPageSize())
	switch {
	case size < 0 || size > MaxPageSize:
		return nil, status.Errorf(codes.InvalidArgument, "page_size must be between 0 and %d", MaxPageSize)
	case size == 0:
		size = DefaultPageSize
	}
	cursor, err := decodePageToken(req.GetPageToken(), f)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	list, next, err := s.mgr.List(ctx, f, cursor, size)
	if err != nil {
		return nil, storeError("list sessions", err)
	}
	resp := &adminv1.ListSessionsResponse{Sessions: make([]*adminv1.Session, 0, len(list))}
	for _, ss := range list {
		resp.Sessions = append(resp.Sessions, toProto(ss))
	}
	if next != "" {
		if resp.NextPageToken, err = encodePageToken(next, f); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
	}
	return resp, nil
}

// GetSession returns the session with the requested handle.
func (s *Service) GetSession(ctx context.Context, req *adminv1.GetSessionRequest) (*adminv1.GetSessionResponse, error) {
	h, err := checkHandle(req.GetHandle())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ss, err := s.mgr.LoadByHandle(ctx, h)
	if err != nil {
		return nil, storeError("get session", err)
	}
	return &adminv1.GetSessionResponse{Session: toProto(ss)}, nil
}

// RevokeSession ends the session with the requested handle; NotFound if no
// live session has it, so that a mistyped handle is not taken for success.
func (s *Service) RevokeSession(ctx context.Context, req *adminv1.RevokeSessionRequest) (*adminv1.RevokeSessionResponse, error) {
	h, err := checkHandle(req.GetHandle())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if _, err := s.mgr.LoadByHandle(ctx, h); err != nil {
		return nil, storeError("revoke session", err)
	}
	if err := s.mgr.DeleteByHandle(ctx, h); err != nil {
		return nil, storeError("revoke session", err)
	}
	return &adminv1.RevokeSessionResponse{}, nil
}

// RevokeUserSessions ends every session of the selected user. With issuer
// and subject it is one DeleteMatching. Otherwise (email, or subject without
// issuer) it first lists the matching sessions to learn which users
// (issuer, subject) they belong to, then ends all sessions of each of those
// users, so sessions of the same user opened meanwhile end too.
func (s *Service) RevokeUserSessions(ctx context.Context, req *adminv1.RevokeUserSessionsRequest) (*adminv1.RevokeUserSessionsResponse, error) {
	f, err := userFilter(req.GetIssuer(), req.GetSubject(), req.GetEmail())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var users []session.Filter
	if f.Issuer != "" && f.Subject != "" && f.Email == "" {
		users = []session.Filter{{Issuer: f.Issuer, Subject: f.Subject}}
	} else if users, err = s.usersMatching(ctx, f); err != nil {
		return nil, err
	}
	total := 0
	for _, u := range users {
		n, err := s.mgr.DeleteMatching(ctx, u)
		if err != nil {
			return nil, storeError("revoke user sessions", err)
		}
		total += n
	}
	return &adminv1.RevokeUserSessionsResponse{RevokedCount: int32(min(total, 1<<31-1))}, nil
}

// usersMatching returns each distinct (issuer, subject) with a live session
// matching f.
func (s *Service) usersMatching(ctx context.Context, f session.Filter) ([]session.Filter, error) {
	seen := map[session.Filter]bool{}
	var users []session.Filter
	cursor, scanned := "", 0
	for {
		list, next, err := s.mgr.List(ctx, f, cursor, MaxPageSize)
		if err != nil {
			return nil, storeError("revoke user sessions: list", err)
		}
		for _, ss := range list {
			u := session.Filter{Issuer: ss.Issuer, Subject: ss.Subject}
			if u.Issuer == "" || u.Subject == "" || seen[u] {
				continue
			}
			seen[u] = true
			users = append(users, u)
		}
		scanned += len(list)
		if next == "" {
			return users, nil
		}
		if scanned >= maxRevokeScan || next == cursor {
			return nil, status.Errorf(codes.ResourceExhausted, "more than %d sessions match; narrow the selection with issuer and subject", maxRevokeScan)
		}
		cursor = next
	}
}

// userFilter checks a user selection: subject or email is required, and no
// field may be oversized.
func userFilter(issuer, subject, email string) (session.Filter, error) {
	if subject == "" && email == "" {
		return session.Filter{}, status.Error(codes.InvalidArgument, "subject or email is required")
	}
	for name, v := range map[string]string{"issuer": issuer, "subject": subject, "email": email} {
		if len(v) > maxFieldLen {
			return session.Filter{}, status.Errorf(codes.InvalidArgument, "%s is longer than %d bytes", name, maxFieldLen)
		}
	}
	return session.Filter{Issuer: issuer, Subject: subject, Email: email}, nil
}

// checkHandle rejects an empty, oversized or oddly spelled handle before it
// reaches the store.
func checkHandle(h string) (string, error) {
	if h == "" {
		return "", status.Error(codes.InvalidArgument, "handle is required")
	}
	if len(h) > maxHandleLen {
		return "", status.Errorf(codes.InvalidArgument, "handle is longer than %d bytes", maxHandleLen)
	}
	for _, c := range h {
		ok := c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_'
		if !ok {
			return "", status.Error(codes.InvalidArgument, "handle may contain only letters, digits, '-' and '_'")
		}
	}
	return h, nil
}

// storeError maps a Manager error to a gRPC status: expected states keep
// their meaning; anything else is the store being unavailable. The detail
// stays in the server's log (see the logging interceptor), not the reply.
func storeError(op string, err error) error {
	switch {
	case errors.Is(err, session.ErrNotFound):
		return status.Error(codes.NotFound, "no live session has this handle")
	case errors.Is(err, session.ErrInvalidID):
		return status.Error(codes.InvalidArgument, "malformed handle")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Errorf(codes.DeadlineExceeded, "%s: session store did not answer in time", op)
	case errors.Is(err, context.Canceled):
		return status.Errorf(codes.Canceled, "%s: canceled", op)
	default:
		return &storeFailure{op: op, err: err}
	}
}

// storeFailure is an Unavailable status whose cause is kept for the log.
type storeFailure struct {
	op  string
	err error
}

func (e *storeFailure) Error() string { return fmt.Sprintf("%s: %v", e.op, e.err) }
func (e *storeFailure) Unwrap() error { return e.err }

// GRPCStatus makes the client see only Unavailable and the operation.
func (e *storeFailure) GRPCStatus() *status.Status {
	return status.Newf(codes.Unavailable, "%s: session store unavailable", e.op)
}

// toProto converts a session to its API form; tokens are never copied.
func toProto(s *session.Session) *adminv1.Session {
	p := &adminv1.Session{
		Handle:            s.Handle,
		Issuer:            s.Issuer,
		Subject:           s.Subject,
		Email:             s.Email,
		User:              s.User,
		PreferredUsername: s.PreferredUsername,
		Groups:            append([]string(nil), s.Groups...),
		Sid:               s.SID,
	}
	if !s.CreatedAt.IsZero() {
		p.CreatedAt = timestamppb.New(s.CreatedAt)
	}
	if !s.ExpiresAt.IsZero() {
		p.ExpiresAt = timestamppb.New(s.ExpiresAt)
	}
	return p
}
