package authz

import "strings"

// View is one reading of a request that some upstream may act on: the
// request line's method or the one a method-override header names, one
// of the path forms (Paths), and whether letter case is ignored, as
// case-insensitive servers do. Decide judges every view of a request and
// keeps the verdict that restricts most, so no reading an upstream may
// choose is admitted that the policy would not admit.
type View struct {
	Method string
	Path   string
	// Fold: path prefixes and path_regex ignore letter case.
	Fold bool
}

// String describes the view for logs and explanations.
func (v View) String() string {
	if v.Fold {
		return v.Method + " " + v.Path + " (letter case ignored)"
	}
	return v.Method + " " + v.Path
}

// maxViews bounds a request's views: two methods, three path forms, two
// letter-case readings.
const maxViews = 12

// views fills vs with the request's distinct views and returns how many.
// The first is the canonical one: Method, Path, letter case kept.
func (r *Request) views(vs *[maxViews]View) int {
	paths := r.paths()
	methods := [2]string{r.Method, r.MethodOverride}
	n := 0
	for _, fold := range [2]bool{false, true} {
		for mi, m := range methods {
			if mi == 1 && (m == "" || m == r.Method) {
				continue
			}
			for pi, p := range paths {
				if pi > 0 && (p == paths[0] || pi == 2 && p == paths[1]) {
					continue
				}
				vs[n] = View{Method: m, Path: p, Fold: fold}
				n++
			}
		}
	}
	return n
}

// CanonicalView is the view of r as the request line states it.
func (r *Request) CanonicalView() View { return View{Method: r.Method, Path: r.Path} }

// class orders what a view's first matching rule makes of a request, from
// the most open to the most restrictive.
type class uint8

const (
	classOpen            class = iota // allowed without identity (allow rule, skip route)
	classAdmitted                     // allowed with identity
	classUnauthenticated              // a login is needed
	classForbidden                    // refused (deny rule, or not admitted)
)

// viewVerdict is what one view comes to.
type viewVerdict struct {
	class  class
	skip   bool   // a skip route matched (idx into Policy.Skip)
	idx    int    // the matching rule or skip route; -1 for the default
	action Action // of the rule, ActionAuthenticate for the default
	view   View
	// wrongProvider: forbidden because the rule does not accept the
	// session's provider.
	wrongProvider bool
}

// judge finds the first skip route or rule that matches v and what it
// makes of the request. It allocates nothing.
func (p *Policy) judge(v View, host string, r *Request, state SessionState, id *Identity) viewVerdict {
	for i := range p.Skip {
		if p.Skip[i].Match(v, host) {
			return viewVerdict{class: classOpen, skip: true, idx: i, action: ActionAllow, view: v}
		}
	}
	vd := viewVerdict{idx: -1, action: ActionAuthenticate, view: v}
	for i := range p.Rules {
		if p.Rules[i].Match(v, host, r.ClientIP) == CondMatched {
			vd.idx, vd.action = i, p.Rules[i].Action
			break
		}
	}
	switch {
	case vd.action == ActionAllow:
		vd.class = classOpen
	case vd.action == ActionDeny:
		vd.class = classForbidden
	case state != ValidSession || id == nil:
		vd.class = classUnauthenticated
	case !p.knownProvider(id.Provider),
		vd.idx >= 0 && !p.Rules[vd.idx].acceptsProvider(id.Provider, p.DefaultProvider):
		vd.class, vd.wrongProvider = classForbidden, true
	case vd.action == ActionRequire && p.Rules[vd.idx].Require.admits(id, p.AllowUnverifiedEmail),
		vd.action != ActionRequire && p.admits(id):
		vd.class = classAdmitted
	default:
		vd.class = classForbidden
	}
	return vd
}

// strictest judges every view of r and returns the verdict that restricts
// most; among equals, the first (the canonical view comes first).
func (p *Policy) strictest(r *Request, host string, state SessionState, id *Identity) viewVerdict {
	var vs [maxViews]View
	n := r.views(&vs)
	best := p.judge(vs[0], host, r, state, id)
	for _, v := range vs[1:n] {
		if best.class == classForbidden {
			break
		}
		if vd := p.judge(v, host, r, state, id); vd.rank() > best.rank() {
			best = vd
		}
	}
	return best
}

// rank orders verdicts by class and, within one, prefers a require rule
// to an authenticate rule to the default allow-lists: the same answer,
// but the explanation names the rule a login will face.
func (vd viewVerdict) rank() int {
	r := int(vd.class) * 4
	switch {
	case vd.action == ActionRequire:
		r += 2
	case vd.idx >= 0:
		r++
	}
	return r
}

// pathForm names which form of the path a view reads, for explanations.
func (r *Request) pathForm(v View) string {
	var forms []string
	switch v.Path {
	case r.Path:
	case r.PathUndecoded:
		forms = append(forms, "without percent-decoding")
	case r.PathLenient:
		forms = append(forms, "without ;params and trailing dots or spaces")
	}
	if v.Method != r.Method {
		forms = append(forms, "with the method of the method-override header")
	}
	if v.Fold {
		forms = append(forms, "ignoring letter case")
	}
	return strings.Join(forms, ", ")
}
