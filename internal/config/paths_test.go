package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// fillPaths sets every path setting of v to value(path), giving each list
// of sections one element, and returns the paths it set.
func fillPaths(v reflect.Value, path string, value func(string) string) []string {
	var set []string
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		key := yamlName(f)
		if key == "" || !f.IsExported() {
			continue
		}
		p := join(path, key)
		switch {
		case f.Tag.Get("path") != "" && fv.Kind() == reflect.String:
			fv.SetString(value(p))
			set = append(set, p)
		case f.Tag.Get("path") != "":
			fv.Set(reflect.ValueOf([]string{value(p + "[0]"), "/abs/" + p}))
			set = append(set, p+"[0]")
		case fv.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Time]():
			set = append(set, fillPaths(fv, p, value)...)
		case fv.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			fv.Set(reflect.MakeSlice(f.Type, 1, 1))
			set = append(set, fillPaths(fv.Index(0), p+"[0]", value)...)
		}
	}
	return set
}

// TestRelativePathsFromTheConfigFolder: every path setting's relative
// value is taken from the configuration file's folder; absolute and empty
// values are left alone.
func TestRelativePathsFromTheConfigFolder(t *testing.T) {
	var c Config
	set := fillPaths(reflect.ValueOf(&c).Elem(), "", func(p string) string { return "rel/" + p })
	if len(set) < 14 {
		t.Fatalf("only %d path settings: %v", len(set), set)
	}
	resolvePaths(reflect.ValueOf(&c).Elem(), "/etc/gatehouse")
	var got []string
	check := reflect.ValueOf(&c).Elem()
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		for i := range v.NumField() {
			f, fv := v.Type().Field(i), v.Field(i)
			key := yamlName(f)
			if key == "" || !f.IsExported() {
				continue
			}
			p := join(path, key)
			switch {
			case f.Tag.Get("path") != "" && fv.Kind() == reflect.String:
				got = append(got, p+"="+fv.String())
			case f.Tag.Get("path") != "":
				got = append(got, p+"="+strings.Join(fv.Interface().([]string), ","))
			case fv.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Time]():
				walk(fv, p)
			case fv.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
				walk(fv.Index(0), p+"[0]")
			}
		}
	}
	walk(check, "")
	for _, g := range got {
		p, v, _ := strings.Cut(g, "=")
		want := "/etc/gatehouse/rel/" + p
		if strings.Contains(v, ",") {
			want = "/etc/gatehouse/rel/" + p + "[0],/abs/" + p
		}
		if v != want {
			t.Errorf("%s = %q, want %q", p, v, want)
		}
	}

	var empty Config
	empty.Admin.TokenFile = "/abs/token"
	resolvePaths(reflect.ValueOf(&empty).Elem(), "/etc/gatehouse")
	if empty.Admin.TokenFile != "/abs/token" || empty.OIDC.ClientSecretFile != "" {
		t.Errorf("absolute or empty paths changed: %q, %q", empty.Admin.TokenFile, empty.OIDC.ClientSecretFile)
	}
}

// TestLoadReadsRelativeFilesBesideTheConfig: a configuration whose secret
// and policy files sit beside it loads from any working directory; a
// relative path from the environment is the working directory's.
func TestLoadReadsRelativeFilesBesideTheConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etc")
	for name, content := range map[string]string{
		"client_secret":  "beside-the-config\n",
		"keys/cookie":    "3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		"policy.yaml":    "emails: [ann@example.com]\n",
		"gatehouse.yaml": "oidc:\n  issuer_url: https://login.example.com\n  client_id: gatehouse\n  client_secret_file: client_secret\n  redirect_url: https://app.example.com/oauth2/callback\ncookie:\n  secrets_file: keys/cookie\naccess:\n  policy_file: ./policy.yaml\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cwd := t.TempDir()
	t.Chdir(cwd)
	c, err := Load(filepath.Join(dir, "gatehouse.yaml"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.OIDC.ClientSecret != "beside-the-config" || len(c.Cookie.Secrets) != 1 || c.Access.PolicyFile != filepath.Join(dir, "policy.yaml") || len(c.Access.Emails) != 1 {
		t.Errorf("loaded %q, %d keys, policy %q with %v", c.OIDC.ClientSecret, len(c.Cookie.Secrets), c.Access.PolicyFile, c.Access.Emails)
	}
	// The relative config path itself works too.
	rel, _ := filepath.Rel(cwd, filepath.Join(dir, "gatehouse.yaml"))
	if _, err := Load(rel, env(nil)); err != nil {
		t.Errorf("config at a relative path: %v", err)
	}

	if err := os.WriteFile(filepath.Join(cwd, "env-secret"), []byte("from-cwd"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Load(filepath.Join(dir, "gatehouse.yaml"), env(map[string]string{"GATEHOUSE_OIDC_CLIENT_SECRET_FILE": "env-secret"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.OIDC.ClientSecret != "from-cwd" {
		t.Errorf("a relative path from the environment: secret %q", c.OIDC.ClientSecret)
	}
}

// TestPathSettingsAreTagged: a setting named like a file or folder is
// tagged as a path (so its relative value follows the config file), and
// only such settings are. A new *_file setting without the tag fails here.
func TestPathSettingsAreTagged(t *testing.T) {
	named := regexp.MustCompile(`_(file|files|dir|folder|directory|path)$`)
	var walk func(t2 reflect.Type, path string)
	walk = func(t2 reflect.Type, path string) {
		for i := range t2.NumField() {
			f := t2.Field(i)
			key := yamlName(f)
			if key == "" {
				continue
			}
			p := join(path, key)
			tagged := f.Tag.Get("path")
			switch {
			case named.MatchString(key) && tagged == "":
				t.Errorf("%s names a file or folder but has no path:\"file\" (or \"dir\") tag", p)
			case tagged != "" && !named.MatchString(key):
				t.Errorf("%s is tagged as a path but not named like one", p)
			case tagged != "" && tagged != "file" && tagged != "dir":
				t.Errorf("%s: path tag %q, want file or dir", p, tagged)
			case tagged != "" && f.Type != reflect.TypeFor[string]() && f.Type != reflect.TypeFor[[]string]():
				t.Errorf("%s is tagged as a path but is a %s", p, f.Type)
			}
			switch {
			case f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Time]():
				walk(f.Type, p)
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
				walk(f.Type.Elem(), p+"[]")
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
}

// TestPathSettingsAreDocumented: docs/configuration.md lists every path
// setting where it says relative paths follow the config file.
func TestPathSettingsAreDocumented(t *testing.T) {
	data, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	start := strings.Index(doc, "## Paths")
	if start < 0 {
		t.Fatal(`docs/configuration.md has no "## Paths" section`)
	}
	section := doc[start:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	for _, p := range PathSettings() {
		if !strings.Contains(section, "`"+p+"`") {
			t.Errorf("docs/configuration.md, section Paths: %s is not listed", p)
		}
	}
}
