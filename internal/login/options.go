package login

import (
	"context"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/internal/pages"
	"github.com/gatehouse/gatehouse/internal/session"
)

// Locker takes a named lock shared by every replica, for at most ttl.
// session.Manager implements it. Refresh uses it so that one replica at a
// time refreshes a session; back-channel logout uses it as a set-if-absent
// to refuse a logout token seen before.
type Locker interface {
	TryLock(ctx context.Context, name string, ttl time.Duration) (release func(), ok bool, err error)
}

// Revoker ends every session matching a filter. session.Manager implements it.
type Revoker interface {
	DeleteMatching(ctx context.Context, f session.Filter) (int, error)
}

// Options are a Handler's optional dependencies; the zero value is valid.
type Options struct {
	// Logger receives the Handler's logs; default none.
	Logger *slog.Logger
	// Locker makes refreshes exclusive across replicas and enables replay
	// protection for back-channel logout (which is refused without it).
	Locker Locker
	// Revoker enables back-channel logout: the sessions a valid logout
	// token names are ended through it. Without it the endpoint answers 501.
	Revoker Revoker
	// Observer is told about sign-ins, sign-outs and token refreshes.
	Observer Observer
	// Pages are the designed pages the endpoints show (sign-in failed,
	// sign-out confirmation, signed out, sign-in); default pages.Builtin.
	Pages *pages.Pages
	// ProviderName names the provider on the pages ("Continue with NAME");
	// default the issuer URL's host.
	ProviderName string
}
