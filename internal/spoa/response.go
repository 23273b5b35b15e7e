package spoa

import (
	"strings"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/spop"
)

// Variables the ACK sets, in HAProxy's txn scope under the engine's
// var-prefix (txn.gatehouse.status, ...).
const (
	VarStatus = "status" // the HTTP status: 200 on allow
	VarReason = "reason" // the stable reason code
	VarUser   = "user"   // the user, for HAProxy's log; empty when unknown
	VarBody   = "body"   // a denial's body
)

// Prefixes of per-header variables.
const (
	UpstreamPrefix = "up_"  // headers for the upstream, on allow
	ReplyPrefix    = "hdr_" // headers for the client, on a denial
)

// VarName returns the variable that carries header name: prefix and the
// name in lower case, every character other than a letter or a digit
// replaced by "_" (HAProxy variable names allow letters, digits, "_" and
// "."). X-Auth-Request-User with UpstreamPrefix is up_x_auth_request_user.
func VarName(prefix, name string) string {
	var b strings.Builder
	b.Grow(len(prefix) + len(name))
	b.WriteString(prefix)
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteByte(c)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// appendVerdict appends the set-var actions that tell HAProxy the verdict.
// On allow every upstream header gets its variable, an empty one for a
// header to remove, so that the shipped config (and a config whose lines
// were renamed with headers.*) overwrites or removes the client's own value
// of every header gatehouse manages.
func appendVerdict(dst []byte, v *check.Verdict) []byte {
	status := v.Reply.Status
	if v.Outcome != authz.Allow && (status < 300 || status > 599) {
		status = 403 // a denial must never look like success
	}
	if v.Outcome == authz.Allow {
		status = 200
	}
	dst = spop.AppendSetVar(dst, spop.ScopeTransaction, VarStatus, spop.IntValue(int64(status)))
	dst = spop.AppendSetVar(dst, spop.ScopeTransaction, VarReason, spop.StringValue(string(v.Reason)))
	if v.User != "" {
		dst = spop.AppendSetVar(dst, spop.ScopeTransaction, VarUser, spop.StringValue(v.User))
	}
	if v.Outcome == authz.Allow {
		for _, h := range v.UpstreamHeaders {
			if h.Name == "" {
				continue
			}
			dst = spop.AppendSetVar(dst, spop.ScopeTransaction, VarName(UpstreamPrefix, h.Name), spop.StringValue(h.Value))
		}
		return dst
	}
	for _, h := range v.Reply.Headers {
		if h.Name == "" || h.Value == "" {
			continue
		}
		dst = spop.AppendSetVar(dst, spop.ScopeTransaction, VarName(ReplyPrefix, h.Name), spop.StringValue(h.Value))
	}
	if body := OneLine(v.Reply.Body); body != "" {
		dst = spop.AppendSetVar(dst, spop.ScopeTransaction, VarBody, spop.StringValue(body))
	}
	return dst
}

// OneLine is a reply body as the body variable carries it: line breaks at
// the end removed and every other one replaced by a space. HAProxy's
// log-format (http-request return lf-string) would print a CR or LF of a
// variable as "%0D" or "%0A"; the JSON and HTML bodies gatehouse renders
// mean the same with spaces.
func OneLine(body string) string {
	body = strings.TrimRight(body, "\r\n")
	if !strings.ContainsAny(body, "\r\n") {
		return body
	}
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(body)
}
