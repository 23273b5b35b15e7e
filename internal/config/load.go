package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse/gatehouse/internal/limitedfile"
)

// EnvPrefix starts the name of every environment variable gatehouse reads.
const EnvPrefix = "GATEHOUSE_"

// FieldError is one problem with one setting, named by its YAML path.
type FieldError struct {
	Path string // e.g. "oidc.issuer_url" or "access.skip[2].path_regex"
	Msg  string
}

func (e FieldError) Error() string { return e.Path + ": " + e.Msg }

// Errors is every problem found in a configuration.
type Errors []FieldError

func (es Errors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid configuration (%d problem", len(es))
	if len(es) != 1 {
		b.WriteByte('s')
	}
	b.WriteString("):")
	for _, e := range es {
		b.WriteString("\n  - ")
		b.WriteString(e.Error())
	}
	return b.String()
}

func (es *Errors) add(path, format string, args ...any) {
	*es = append(*es, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// maxConfigFileSize bounds the configuration file; maxSecretFileSize each
// *_file secret.
const (
	maxConfigFileSize = 4 << 20
	maxSecretFileSize = 64 << 10
)

// Report is everything Check found in one configuration.
type Report struct {
	// Config is the checked configuration, its policy compiled; nil when
	// there is any error.
	Config *Config
	// Errors are the problems that stop startup, sorted by path.
	Errors Errors
	// Warnings are risky but valid choices; they never stop startup.
	Warnings Warnings
}

// Load reads the YAML file at path (none when path is ""), applies the
// environment (lookup, usually os.LookupEnv) and *_file secrets over the
// defaults, then validates the result and compiles its access policy in
// one step. The error, if any, is an Errors that lists every problem.
func Load(path string, lookup func(string) (string, bool)) (*Config, error) {
	r, err := Check(path, lookup)
	if err != nil {
		return nil, err
	}
	if len(r.Errors) > 0 {
		return nil, r.Errors
	}
	return r.Config, nil
}

// Check is Load that also returns the warnings, and every problem at once:
// unknown keys and badly typed values do not hide the problems of the
// other settings. Relative paths in the file are taken from the file's
// folder; those from the environment, and every path of a configuration
// without a file, from the working directory. The error is only for a
// configuration file that cannot be read.
func Check(path string, lookup func(string) (string, bool)) (Report, error) {
	cfg := Default()
	d := decoder{root: reflect.TypeFor[Config]()}
	if path != "" {
		data, err := limitedfile.Read(path, maxConfigFileSize)
		if err != nil {
			return Report{}, fmt.Errorf("config file: %w", err)
		}
		d.decodeYAML(data, &cfg)
		resolvePaths(reflect.ValueOf(&cfg).Elem(), filepath.Dir(path))
	}
	if lookup != nil {
		applyEnv(reflect.ValueOf(&cfg).Elem(), "", lookup, &d.errs)
	}
	n := len(d.errs)
	readSecretFiles(&cfg, &d.errs)
	for _, e := range d.errs[n:] {
		// A secret file that cannot be read speaks for its secret.
		d.covered = append(d.covered, strings.TrimSuffix(e.Path, "_file"))
	}
	errs := append(d.errs, d.uncovered(cfg.check())...)
	if path == "" {
		// Without a file, say where a missing setting goes.
		for i, e := range errs {
			if e.Msg == "required" && !strings.Contains(e.Path, "[") {
				errs[i].Msg = "required (set " + EnvName(e.Path) + ")"
			}
		}
	}
	r := Report{Warnings: cfg.Warnings()}
	if len(errs) > 0 {
		sortErrors(errs)
		r.Errors = errs
		return r, nil
	}
	r.Config = &cfg
	return r, nil
}

// check validates every setting and compiles the access policy in one
// pass that collects every problem; on success the policy is kept for
// Policy and the decision keys in force (a policy file's) are in c.Access.
func (c *Config) check() Errors {
	var errs Errors
	c.resolvePresets(&errs)
	errs = append(errs, c.validate()...)
	a, p, aerrs := c.compileAccess()
	errs = append(errs, aerrs...)
	if len(errs) > 0 {
		return errs
	}
	c.useDecisionKeys(a)
	c.policy = p
	return nil
}

// decoder decodes a YAML document into a struct key by key, so that unknown
// keys and badly typed values are reported with their YAML path, and
// decoding goes on past them.
type decoder struct {
	// root is the type of the whole document, where a key found in the
	// wrong section is looked for.
	root reflect.Type
	errs Errors
	// covered are the paths a decoding problem already speaks for: a
	// badly typed value, the key an unknown key was taken for. What
	// validation then says about them (required, invalid) would repeat it.
	covered []string
}

// decodeYAML decodes data into cfg.
func (d *decoder) decodeYAML(data []byte, cfg any) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return // an empty file means all defaults
		}
		d.errs.add("(file)", "not valid YAML: %v", err)
		return
	}
	if len(root.Content) == 0 {
		return
	}
	d.node(root.Content[0], reflect.ValueOf(cfg).Elem(), "")
}

func (d *decoder) node(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch {
	case v.Kind() == reflect.Struct && v.Type() != reflect.TypeFor[time.Time]():
		if n.Kind != yaml.MappingNode {
			if n.Tag == "!!null" {
				return
			}
			d.errs.add(orRoot(path), "must be a mapping (line %d)", n.Line)
			d.covered = append(d.covered, path)
			return
		}
		fields := yamlFields(v.Type())
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			idx, ok := fields[k.Value]
			if !ok {
				d.unknown(k, val, v.Type(), path)
				continue
			}
			d.node(val, v.Field(idx), p)
		}
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct:
		if n.Tag == "!!null" {
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.errs.add(path, "must be a list (line %d)", n.Line)
			d.covered = append(d.covered, path)
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.node(item, s.Index(i), indexPath(path, i))
		}
		v.Set(s)
	default:
		ptr := reflect.New(v.Type())
		if err := n.Decode(ptr.Interface()); err != nil {
			d.errs.add(path, "want %s (line %d)", kindName(v.Type()), n.Line)
			d.covered = append(d.covered, path)
			return
		}
		v.Set(ptr.Elem())
	}
}

// unknown reports the unknown key k (of value val) of a mapping of type t
// at path, with the key it was most likely meant to be: a close one beside
// it, else one of that name in another section.
func (d *decoder) unknown(k, val *yaml.Node, t reflect.Type, path string) {
	p := join(path, k.Value)
	fields := yamlFields(t)
	if name, ok := closest(k.Value, slices.Sorted(maps.Keys(fields))); ok {
		meant := join(path, name)
		d.errs.add(p, "unknown key (line %d); did you mean %s?", k.Line, meant)
		d.covered = append(d.covered, meant)
		if ft := t.Field(fields[name]).Type; ft.Kind() == reflect.Struct || ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			// A misspelt section: its content's own problems, named where
			// they are, so that fixing the name reveals nothing new. The
			// content is not used.
			d.node(val, reflect.New(ft).Elem(), p)
		}
		return
	}
	if meant, ok := elsewhere(d.root, k.Value, path); ok {
		where := meant
		if !strings.Contains(meant, ".") {
			where = "the top-level " + meant
		}
		d.errs.add(p, "unknown key (line %d); did you mean %s?", k.Line, where)
		d.covered = append(d.covered, meant)
		return
	}
	d.errs.add(p, "unknown key (line %d)", k.Line)
}

// uncovered returns the problems of errs that no decoding problem already
// speaks for.
func (d *decoder) uncovered(errs Errors) Errors {
	var out Errors
	for _, e := range errs {
		if !slices.ContainsFunc(d.covered, func(c string) bool { return within(e.Path, c) }) {
			out = append(out, e)
		}
	}
	return out
}

// within reports whether path is the setting at prefix or inside it.
func within(path, prefix string) bool {
	if prefix == "" {
		return false
	}
	rest, ok := strings.CutPrefix(path, prefix)
	return ok && (rest == "" || rest[0] == '.' || rest[0] == '[')
}

// applyEnv sets every leaf that has a GATEHOUSE_* variable.
func applyEnv(v reflect.Value, path string, lookup func(string) (string, bool), errs *Errors) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		key := yamlName(f)
		if key == "" {
			continue
		}
		p := join(path, key)
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct {
			applyEnv(fv, p, lookup, errs)
			continue
		}
		name := EnvName(p)
		raw, ok := lookup(name)
		if !ok {
			continue
		}
		if err := setFromString(fv, raw); err != nil {
			errs.add(p, "from %s: %v", name, err)
		}
	}
}

// EnvName returns the environment variable for a YAML path.
func EnvName(path string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

func setFromString(v reflect.Value, raw string) error {
	switch {
	case v.Type() == reflect.TypeFor[time.Duration]():
		d, err := time.ParseDuration(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("want a duration such as 30s or 12h")
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(raw)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		v.SetBool(b)
	case v.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil {
			return fmt.Errorf("want a number")
		}
		v.SetFloat(f)
	case v.Kind() == reflect.Int:
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("want an integer")
		}
		v.SetInt(int64(n))
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		var items []string
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		v.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("cannot be set from the environment; use the config file")
	}
	return nil
}

// readSecretFiles fills secrets from their *_file settings.
func readSecretFiles(c *Config, errs *Errors) {
	read := func(path, filePath string) (string, bool) {
		data, err := limitedfile.Read(filePath, maxSecretFileSize)
		if err != nil {
			errs.add(path, "cannot read secret file: %v", unwrapPathError(err))
			return "", false
		}
		return strings.TrimRight(string(data), "\r\n"), true
	}
	if c.OIDC.ClientSecretFile != "" {
		if c.OIDC.ClientSecret != "" {
			errs.add("oidc.client_secret_file", "set either oidc.client_secret or oidc.client_secret_file, not both")
		} else if s, ok := read("oidc.client_secret_file", c.OIDC.ClientSecretFile); ok {
			c.OIDC.ClientSecret = s
		}
	}
	for i := range c.Providers {
		p := &c.Providers[i]
		path := indexPath("providers", i)
		if p.ClientSecretFile == "" {
			continue
		}
		if p.ClientSecret != "" {
			errs.add(path+".client_secret_file", "set either client_secret or client_secret_file, not both")
		} else if s, ok := read(path+".client_secret_file", p.ClientSecretFile); ok {
			p.ClientSecret = s
		}
	}
	if c.Redis.PasswordFile != "" {
		if c.Redis.Password != "" {
			errs.add("redis.password_file", "set either redis.password or redis.password_file, not both")
		} else if s, ok := read("redis.password_file", c.Redis.PasswordFile); ok {
			c.Redis.Password = s
		}
	}
	if c.Cookie.SecretsFile != "" {
		if len(c.Cookie.Secrets) > 0 {
			errs.add("cookie.secrets_file", "set either cookie.secrets or cookie.secrets_file, not both")
		} else if s, ok := read("cookie.secrets_file", c.Cookie.SecretsFile); ok {
			for _, line := range strings.Split(s, "\n") {
				line = strings.TrimSpace(line)
				if line != "" && !strings.HasPrefix(line, "#") {
					c.Cookie.Secrets = append(c.Cookie.Secrets, line)
				}
			}
		}
	}
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

func yamlFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		if name := yamlName(t.Field(i)); name != "" {
			m[name] = i
		}
	}
	return m
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

func kindName(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "a duration such as 30s or 12h"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.Int:
		return "an integer"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Slice:
		return "a list"
	}
	return t.String()
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orRoot(path string) string {
	if path == "" {
		return "(file)"
	}
	return path
}

// UnknownEnv returns the GATEHOUSE_* names in environ (as os.Environ gives
// it) that are not settings, so a misspelt variable does not go unnoticed.
func UnknownEnv(environ []string) []string {
	known := map[string]bool{}
	walkSettings(reflect.TypeFor[Config](), "", func(p string, f reflect.StructField) {
		if f.Type.Kind() != reflect.Struct {
			known[EnvName(p)] = true
		}
	})
	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, EnvPrefix) && !known[name] && !strings.HasPrefix(name, EnvPrefix+"TEST_") {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	return unknown
}
