package config

import (
	"testing"
)

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "abc", 3}, {"abc", "abc", 0},
		{"abc", "abd", 1}, {"abc", "ab", 1}, {"abc", "xabc", 1},
		{"acb", "abc", 1}, // neighbours swapped: one edit
		{"kitten", "sitting", 3}, {"lifetme", "lifetime", 1},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestClosest(t *testing.T) {
	candidates := []string{"addrs", "db", "key_prefix", "master_name", "password", "password_file", "tls", "username"}
	for _, tc := range []struct{ name, want string }{
		{"Password", "password"},       // letter case
		{"master-name", "master_name"}, // separators
		{"masternme", "master_name"},   // a typo
		{"pasword", "password"},        // a typo
		{"passwrod", "password"},       // neighbours swapped
		{"adress", "addrs"},            // the same consonants
		{"address", "addrs"},
		{"key_prefixes", "key_prefix"}, // lengthened
		{"passwordfile", "password_file"},
		{"user", "username"},
		{"bd", "db"},
		{"tsl", "tls"},
		{"x", ""}, {"key", ""}, {"cluster", ""}, {"sentinel_addrs", ""},
	} {
		got, ok := closest(tc.name, candidates)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("closest(%q) = %q, %v; want %q", tc.name, got, ok, tc.want)
		}
	}
}

// TestEnvWarnings: every GATEHOUSE_* variable that is not a setting is
// named, with the variable it was most likely meant to be.
func TestEnvWarnings(t *testing.T) {
	got := EnvWarnings([]string{
		"PATH=/bin",
		"GATEHOUSE_OIDC_ISSUER_URL=x",
		"GATEHOUSE_OIDC_ISSUERURL=typo",
		"GATEHOUSE_COOKIE_SECRETS_FILE=/f",
		"GATEHOUSE_SESSION_LIFE=1h",
		"GATEHOUSE_REDIS_ADRESS=r:6379",
		"GATEHOUSE_COOKIE_SECURED=true",
		"GATEHOUSE_FROBNICATE=1",
		"GATEHOUSE_TEST_REDIS=127.0.0.1:6379",
	})
	sameLines(t, "warnings", warningStrings(got), []string{
		"GATEHOUSE_COOKIE_SECURED: set, but not a setting; did you mean GATEHOUSE_COOKIE_SECURE?",
		"GATEHOUSE_FROBNICATE: set, but not a setting (misspelt?)",
		"GATEHOUSE_OIDC_ISSUERURL: set, but not a setting; did you mean GATEHOUSE_OIDC_ISSUER_URL?",
		"GATEHOUSE_REDIS_ADRESS: set, but not a setting; did you mean GATEHOUSE_REDIS_ADDRS?",
		"GATEHOUSE_SESSION_LIFE: set, but not a setting; did you mean GATEHOUSE_SESSION_LIFETIME?",
	})
}
