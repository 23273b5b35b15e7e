package authz

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"unicode/utf8"
)

// ErrBadRequest is wrapped by every error of the request constructor
// (NewRequest, ParsePath): the request is refused with 400 and never judged.
var ErrBadRequest = errors.New("malformed request")

// MaxTargetLen bounds a request target (path and query); a longer one is
// never legitimate behind the shipped proxies.
const MaxTargetLen = 8 << 10

// Paths are the forms of one request path that an upstream may act on.
// Servers disagree: Go, nginx and Caddy percent-decode and resolve dot
// segments; some servers resolve dot segments without decoding; Tomcat and
// Spring drop ";params" from each segment; Windows servers (IIS, ASP.NET,
// anything serving NTFS paths) drop trailing dots and spaces. Rules that
// restrict match if any form matches (and ignore letter case); rules that
// open match only if every form matches exactly. See docs/policy.md.
type Paths struct {
	// Clean is decoded, with dot segments resolved and "//" merged; a
	// trailing slash is kept. It is the path logs and explanations show.
	Clean string
	// Undecoded is Clean without percent-decoding.
	Undecoded string
	// Lenient is Clean as the most lenient server reads it: ";params"
	// dropped and trailing dots and spaces trimmed from every segment
	// before dot segments are resolved.
	Lenient string
}

// ParsePath checks raw, a request path as the client sent it (no query),
// and returns its forms. It refuses, with an error wrapping ErrBadRequest,
// every path whose meaning depends on the server: one not starting with
// "/", holding a control character, space, "#" or backslash, a bad or
// double percent-escape, an encoded "/" or "\", a segment that is "." or
// ".." only once decoded ("%2e%2e"), a dot segment with ";params" ("..;"),
// a segment of dots and spaces other than "." and ".." ("...", ".. "),
// bytes that are not UTF-8 once decoded, or a full-width or small look-alike
// of ".", "/" or "\" (which NFKC normalization turns into them).
func ParsePath(raw string) (Paths, error) {
	if raw == "" || raw[0] != '/' {
		return Paths{}, badRequest("path must start with /")
	}
	if len(raw) > MaxTargetLen {
		return Paths{}, badRequest("path too long")
	}
	if isClean(raw) {
		return Paths{raw, raw, raw}, nil // the common case: nothing allocated
	}
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c < 0x20 || c == 0x7f || c == ' ':
			return Paths{}, badRequest("control character or space in path")
		case c == '#':
			return Paths{}, badRequest("fragment in request target")
		case c == '\\':
			return Paths{}, badRequest("backslash in path")
		}
	}
	dec, err := url.PathUnescape(raw)
	if err != nil {
		return Paths{}, badRequest("bad percent-escape in path")
	}
	if !utf8.ValidString(dec) {
		return Paths{}, badRequest("path is not UTF-8 once decoded")
	}
	if dec != raw {
		if err := checkDecoded(raw, dec); err != nil {
			return Paths{}, err
		}
	}
	if err := checkSegments(raw); err != nil {
		return Paths{}, err
	}
	if strings.ContainsAny(dec, lookAlikeSeparators) {
		return Paths{}, badRequest("look-alike of a dot or slash in path")
	}
	ps := Paths{Clean: cleanPath(dec)}
	ps.Undecoded = ps.Clean
	if dec != raw {
		ps.Undecoded = cleanPath(raw)
	}
	ps.Lenient = ps.Clean
	if strings.IndexByte(dec, ';') >= 0 || strings.Contains(dec, "./") || strings.Contains(dec, " /") ||
		strings.HasSuffix(dec, ".") || strings.HasSuffix(dec, " ") {
		ps.Lenient = cleanPath(lenientSegments(dec))
	}
	return ps, nil
}

// lookAlikeSeparators are runes that NFKC normalization (which some
// frameworks apply to paths) turns into ".", "/" or "\": FULLWIDTH FULL
// STOP, ONE DOT LEADER, SMALL FULL STOP, FULLWIDTH SOLIDUS, FULLWIDTH
// REVERSE SOLIDUS, SMALL REVERSE SOLIDUS and TWO DOT LEADER.
const lookAlikeSeparators = "\uff0e\u2024\ufe52\uff0f\uff3c\ufe68\u2025"

// NormalizePath returns ParsePath(raw).Clean, and false when ParsePath
// refuses raw.
func NormalizePath(raw string) (string, bool) {
	ps, err := ParsePath(raw)
	return ps.Clean, err == nil
}

// checkDecoded refuses what percent-decoding makes ambiguous.
func checkDecoded(raw, dec string) error {
	lower := strings.ToLower(raw)
	if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") {
		return badRequest("encoded / or \\ in path")
	}
	for i := 0; i < len(dec); i++ {
		if c := dec[i]; c < 0x20 || c == 0x7f {
			return badRequest("encoded control character in path")
		}
	}
	if again, err := url.PathUnescape(dec); err == nil && again != dec {
		return badRequest("double percent-encoding in path")
	}
	return nil
}

// checkSegments refuses segments whose dot-ness depends on the server:
// "%2e%2e" (a dot segment only once decoded), "..;x" or ".;" (a dot
// segment only once ";params" are dropped), and "...", ".. " or ". ."
// (a dot segment, or nothing, once trailing dots and spaces are trimmed).
func checkSegments(raw string) error {
	for seg := range strings.SplitSeq(raw[1:], "/") {
		name, _, hasParams := strings.Cut(seg, ";")
		decName, _ := url.PathUnescape(name) // raw was already unescaped whole
		decName, _, decParams := strings.Cut(decName, ";")
		isDot := decName == "." || decName == ".."
		switch {
		case isDot && (hasParams || decParams):
			return badRequest("dot segment with ;params in path")
		case isDot && name != decName:
			return badRequest("percent-encoded dot segment in path")
		case !isDot && decName != "" && strings.Trim(decName, ". ") == "":
			return badRequest("segment of dots and spaces in path")
		}
	}
	return nil
}

// lenientSegments drops ";params" and trims trailing dots and spaces
// from every segment of p.
func lenientSegments(p string) string {
	var b strings.Builder
	b.Grow(len(p))
	for i, seg := range strings.Split(p, "/") {
		if i > 0 {
			b.WriteByte('/')
		}
		name, _, _ := strings.Cut(seg, ";")
		if name != "." && name != ".." {
			name = strings.TrimRight(name, ". ")
		}
		b.WriteString(name)
	}
	return b.String()
}

// cleanPath resolves dot segments and merges slashes, keeping a trailing
// slash.
func cleanPath(p string) string {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// isClean reports whether raw needs no normalization: no escapes, no
// ";", backslash, "#", space or control characters, no empty or dot
// segments, no segment ending in ".", only ASCII.
func isClean(raw string) bool {
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '%' || c == '\\' || c == ';' || c == '#' || c <= ' ' || c >= 0x7f:
			return false
		case c == '.' && (i+1 == len(raw) || raw[i+1] == '/'):
			return false // a trailing dot, which Windows servers drop
		case c == '/':
			if i+1 < len(raw) {
				n := raw[i+1]
				if n == '/' {
					return false
				}
				if n == '.' && (i+2 == len(raw) || raw[i+2] == '/' || raw[i+2] == '.') {
					return false
				}
			}
		}
	}
	return true
}

func badRequest(detail string) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, detail)
}
