package claim

import (
	"encoding/json"
	"slices"
	"testing"
)

// claims decodes JSON as go-oidc and go-jose hand claims over.
func claims(t *testing.T, js string) map[string]any {
	t.Helper()
	c := map[string]any{}
	if err := json.Unmarshal([]byte(js), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestString(t *testing.T) {
	c := claims(t, `{"sub":"alice","n":42,"l":["a"],"o":{"a":"b"},"null":null}`)
	for name, want := range map[string]string{"sub": "alice", "n": "", "l": "", "o": "", "null": "", "absent": ""} {
		if got := String(c, name); got != want {
			t.Errorf("String(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestBool(t *testing.T) {
	c := claims(t, `{"t":true,"f":false,"st":"true","sT":"TRUE","sf":"false","yes":"yes","one":1,"l":[true]}`)
	for name, want := range map[string]bool{"t": true, "f": false, "st": true, "sT": true, "sf": false, "yes": false, "one": false, "l": false, "absent": false} {
		if got := Bool(c, name); got != want {
			t.Errorf("Bool(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestStrings(t *testing.T) {
	c := claims(t, `{"one":"dev","empty":"","list":["dev","",7,"ops",null,["x"]],"none":[1,2],"nil":[],"n":3,"o":{"a":"b"}}`)
	for name, want := range map[string][]string{
		"one": {"dev"}, "empty": nil, "list": {"dev", "ops"}, "none": nil, "nil": nil, "n": nil, "o": nil, "absent": nil,
	} {
		got := Strings(c, name)
		if !slices.Equal(got, want) || (want == nil) != (got == nil) {
			t.Errorf("Strings(%q) = %#v, want %#v", name, got, want)
		}
	}
}
