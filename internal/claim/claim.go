// Package claim reads JWT and userinfo claims (decoded JSON) leniently and
// the same way everywhere: for a session at sign-in and for a bearer token.
// A claim of the wrong type reads as absent, never as an error.
package claim

import "strings"

// String returns claim name if it is a string, else "".
func String(c map[string]any, name string) string {
	s, _ := c[name].(string)
	return s
}

// Bool returns claim name if it is true; some providers send "true" as a
// string (any letter case). Anything else, absence included, is false.
func Bool(c map[string]any, name string) bool {
	return boolValue(c[name])
}

// Strings returns claim name as a list of strings: a single non-empty
// string is a list of one; a list keeps its non-empty strings and drops
// other members. Anything else, or nothing left, is nil.
func Strings(c map[string]any, name string) []string {
	return StringsOf(c[name])
}

// StringsOf is Strings for a claim's value.
func StringsOf(v any) []string {
	switch x := v.(type) {
	case string:
		if x == "" {
			return nil
		}
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func boolValue(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return strings.EqualFold(x, "true")
	}
	return false
}
