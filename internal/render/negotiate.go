package render

import (
	"strings"

	"github.com/elnormous/contenttype"

	"github.com/gatehouse/gatehouse/internal/authz"
)

// The two kinds of reply a denial can take: a page (and, for sign-in, a
// redirect to the login page) or JSON. The order matters: when a client
// accepts both equally, from the same media range (*/* alone, as curl and
// fetch() send it), the first wins, so such a client is an API client.
var offered = []contenttype.MediaType{
	{Type: "application", Subtype: "json"},
	{Type: "text", Subtype: "html", Parameters: contenttype.Parameters{"charset": "utf-8"}},
}

// PrefersHTML reports whether a client with this Accept header would
// rather have an HTML page than JSON, by the rules of RFC 9110 §12.5.1:
// each media range's quality (q, default 1) counts for the types it
// matches, the most specific range decides a type's quality ("text/html"
// before "text/*" before "*/*"; a range with parameters matches only a
// type with them, and the page is text/html;charset=utf-8), and q=0 means
// "not acceptable". HTML wins
// only with a quality above 0 and above JSON's; between equal qualities
// the range listed first wins, and "*/*" alone names JSON. An empty header
// and a malformed one (which a browser never sends) are API clients': a
// 401 is safe for anyone, a redirect only for a browser.
func PrefersHTML(accept string) bool {
	if accept == "" {
		return false
	}
	mt, _, err := contenttype.GetAcceptableMediaTypeFromHeader(accept, offered)
	return err == nil && mt.Type == "text" && mt.Subtype == "html"
}

// IsScripted reports whether the Fetch Metadata and X-Requested-With
// headers say a request was made by a script (fetch, XMLHttpRequest, a
// subresource load) rather than by the user navigating: Sec-Fetch-Mode
// present and not "navigate", or X-Requested-With: XMLHttpRequest (sent by
// jQuery and other libraries). A script cannot follow a redirect to the
// login page, so it is answered as an API client. Header values are
// compared without regard to case; several values (a repeated header
// joined with ",") are scripted unless every one says navigate.
func IsScripted(fetchMode, requestedWith string) bool {
	if fetchMode != "" {
		for mode := range strings.SplitSeq(fetchMode, ",") {
			if !strings.EqualFold(strings.TrimSpace(mode), "navigate") {
				return true
			}
		}
	}
	for v := range strings.SplitSeq(requestedWith, ",") {
		if strings.EqualFold(strings.TrimSpace(v), "XMLHttpRequest") {
			return true
		}
	}
	return false
}

// IsBrowser reports whether r is a user's browser navigating, which is
// shown HTML pages and sent to the login page, rather than an API client,
// script or tool, which gets JSON and a 401 with the login URL in
// LoginHeader. A nil r (a request that could not be read) is not.
func IsBrowser(r *authz.Request) bool {
	return r != nil && !IsScripted(r.FetchMode, r.RequestedWith) && PrefersHTML(r.Accept)
}
