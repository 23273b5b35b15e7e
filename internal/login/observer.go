package login

// Observer is told about sign-ins, sign-outs and token refreshes where
// they happen, for metrics; *metrics.Metrics implements it. Its methods
// must be cheap and safe for concurrent use.
type Observer interface {
	// Login reports a finished callback: ok when a session was stored and
	// the browser sent on, false when the callback was refused.
	Login(ok bool)
	// Logout reports an ended sign-out of kind LogoutLocal (the sign-out
	// endpoint) or LogoutBackchannel (an accepted logout token).
	Logout(kind string)
	// Refresh reports a refresh grant at the provider: ok when it renewed
	// the tokens, false when it was refused, failed or gave unacceptable
	// tokens.
	Refresh(ok bool)
}

// The kinds of sign-out an Observer is told about.
const (
	LogoutLocal       = "local"
	LogoutBackchannel = "backchannel"
)

// nopObserver is the Observer of a Handler without Options.Observer.
type nopObserver struct{}

func (nopObserver) Login(bool)    {}
func (nopObserver) Logout(string) {}
func (nopObserver) Refresh(bool)  {}
