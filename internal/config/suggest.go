package config

import (
	"reflect"
	"slices"
	"strings"
	"time"
)

// closest returns the candidate that the misspelt name was most likely
// meant to be, if one is close enough to say so: the same but for letter
// case and separators ("issuerURL"), a cut or lengthened word ("issuer" for
// issuer_url), the same consonants ("adress" for addrs), or a few typing
// mistakes (edit distance 1 for short names, up to 3 for long ones). Ties go
// to the candidate first in candidates.
func closest(name string, candidates []string) (string, bool) {
	n := fold(name)
	best, bestScore := "", -1
	for _, c := range candidates {
		if s, ok := closeness(n, fold(c)); ok && (bestScore < 0 || s < bestScore) {
			best, bestScore = c, s
		}
	}
	return best, bestScore >= 0
}

// closeness scores how close the folded names a and b are, lower being
// closer; false means not close.
func closeness(a, b string) (int, bool) {
	switch {
	case a == b:
		return 0, true
	case len(a) >= 4 && len(b) >= 4 && (strings.HasPrefix(a, b) || strings.HasPrefix(b, a)) && abs(len(a)-len(b)) <= 5:
		return 1, true
	case len(a) >= 4 && len(skeleton(a)) >= 3 && skeleton(a) == skeleton(b):
		return 2, true
	}
	if d := editDistance(a, b); d <= maxTypos(len(a)) {
		return 2 + d, true
	}
	return 0, false
}

// maxTypos is how many edits a name of n letters may be from what it meant.
func maxTypos(n int) int {
	switch {
	case n <= 4:
		return 1
	case n <= 8:
		return 2
	}
	return 3
}

// fold lower-cases s and drops the separators people vary: _, - and space.
func fold(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', ' ':
			return -1
		}
		return toLower(r)
	}, s)
}

func toLower(r rune) rune {
	if 'A' <= r && r <= 'Z' {
		return r + 'a' - 'A'
	}
	return r
}

// skeleton is s without vowels and without doubled letters.
func skeleton(s string) string {
	var b strings.Builder
	var last rune
	for _, r := range s {
		if strings.ContainsRune("aeiouy", r) || r == last {
			continue
		}
		b.WriteRune(r)
		last = r
	}
	return b.String()
}

// editDistance is the optimal string alignment distance of a and b: the
// insertions, deletions, substitutions and swaps of neighbours that turn
// one into the other.
func editDistance(a, b string) int {
	x, y := []rune(a), []rune(b)
	prev2 := make([]int, len(y)+1)
	prev := make([]int, len(y)+1)
	cur := make([]int, len(y)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(x); i++ {
		cur[0] = i
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(y)]
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// elsewhere looks for a setting named key (but for letter case and
// separators) in another section of the document type root than the one at
// path, for a key put in the wrong place ("session.redis" for redis). It
// answers only when exactly one setting has that name, and never inside
// lists.
func elsewhere(root reflect.Type, key, path string) (string, bool) {
	var found []string
	walkSettings(root, "", func(p string, _ reflect.StructField) {
		if fold(lastKey(p)) == fold(key) && !within(p, path) && p != join(path, key) {
			found = append(found, p)
		}
	})
	if len(found) != 1 {
		return "", false
	}
	return found[0], true
}

// walkSettings calls fn with the path of every key of t, sections
// included, outside lists.
func walkSettings(t reflect.Type, path string, fn func(path string, f reflect.StructField)) {
	walkKeys(t, path, false, fn)
}

// walkKeys calls fn with the path of every key of t, sections included,
// and, when lists is set, of every key of a list of sections too ("[]"
// standing for the index). It is the one walk over the Config type.
func walkKeys(t reflect.Type, path string, lists bool, fn func(path string, f reflect.StructField)) {
	for i := range t.NumField() {
		f := t.Field(i)
		key := yamlName(f)
		if key == "" {
			continue
		}
		p := join(path, key)
		fn(p, f)
		switch {
		case f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Time]():
			walkKeys(f.Type, p, lists, fn)
		case lists && f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			walkKeys(f.Type.Elem(), p+"[]", lists, fn)
		}
	}
}

func lastKey(path string) string {
	return path[strings.LastIndexByte(path, '.')+1:]
}

// EnvWarnings returns a warning for every GATEHOUSE_* variable in environ
// (as os.Environ gives it) that is not a setting, with the variable it was
// most likely meant to be.
func EnvWarnings(environ []string) Warnings {
	var names []string
	walkSettings(reflect.TypeFor[Config](), "", func(p string, f reflect.StructField) {
		if f.Type.Kind() != reflect.Struct {
			names = append(names, strings.TrimPrefix(EnvName(p), EnvPrefix))
		}
	})
	slices.Sort(names)
	var ws Warnings
	for _, name := range UnknownEnv(environ) {
		msg := "set, but not a setting"
		if meant, ok := closest(strings.TrimPrefix(name, EnvPrefix), names); ok {
			msg += "; did you mean " + EnvPrefix + meant + "?"
		} else {
			msg += " (misspelt?)"
		}
		ws = append(ws, Warning{Path: name, Msg: msg})
	}
	return ws
}
