// Package migrate turns an oauth2-proxy configuration (its OAUTH2_PROXY_*
// environment, command-line flags or TOML config file) into an equivalent
// gatehouse configuration, saying for every setting what became of it.
package migrate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"
)

// EnvPrefix starts every oauth2-proxy environment variable.
const EnvPrefix = "OAUTH2_PROXY_"

// Setting is one oauth2-proxy option as a source gave it.
type Setting struct {
	// Name is the option's config-file name, e.g. email_domains.
	Name string
	// Values are a list option's items; any other option has one.
	Values []string
	// Source says where it was read: OAUTH2_PROXY_EMAIL_DOMAINS,
	// --email-domain, or the config file's key.
	Source string
}

// Value is the setting's last value (a scalar's only one).
func (s *Setting) Value() string {
	if len(s.Values) == 0 {
		return ""
	}
	return s.Values[len(s.Values)-1]
}

// Settings is an oauth2-proxy configuration: the options that are set.
type Settings struct {
	byName map[string]*Setting
}

// NewSettings returns an empty configuration.
func NewSettings() *Settings { return &Settings{byName: map[string]*Setting{}} }

// Len is the number of options set.
func (s *Settings) Len() int { return len(s.byName) }

// Get returns the named option, if set.
func (s *Settings) Get(name string) (*Setting, bool) {
	st, ok := s.byName[name]
	return st, ok
}

// Names returns the names of the options set, sorted.
func (s *Settings) Names() []string {
	names := make([]string, 0, len(s.byName))
	for n := range s.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Merge sets every option of higher over s: oauth2-proxy's precedence is
// config file, then environment, then flags.
func (s *Settings) Merge(higher *Settings) {
	for n, st := range higher.byName {
		s.byName[n] = st
	}
}

func (s *Settings) set(st *Setting) { s.byName[st.Name] = st }

// splitList splits a list value as oauth2-proxy's flags and environment
// do: on commas, without empty items.
func splitList(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// FromEnv reads the OAUTH2_PROXY_* variables of environ (KEY=VALUE
// entries, as os.Environ gives them). Other variables are ignored.
func FromEnv(environ []string) (*Settings, error) {
	byName, _ := options()
	s := NewSettings()
	for _, kv := range environ {
		key, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(key, EnvPrefix) || key == EnvPrefix {
			continue
		}
		name := strings.ToLower(strings.TrimPrefix(key, EnvPrefix))
		st := &Setting{Name: name, Values: []string{val}, Source: key}
		if o, ok := byName[name]; ok {
			if o.kind == kindList {
				st.Values = splitList(val)
			}
			if err := checkKind(o, st); err != nil {
				return nil, err
			}
		}
		s.set(st)
	}
	return s, nil
}

// checkKind refuses a value oauth2-proxy would refuse too.
func checkKind(o option, st *Setting) error {
	switch o.kind {
	case kindBool:
		if _, err := strconv.ParseBool(st.Value()); err != nil {
			return fmt.Errorf("%s: %q is not true or false", st.Source, st.Value())
		}
	case kindInt:
		if _, err := strconv.Atoi(st.Value()); err != nil {
			return fmt.Errorf("%s: %q is not a whole number", st.Source, st.Value())
		}
	}
	return nil
}

// ParseEnvFile reads an env file (docker compose's env_file, systemd's
// EnvironmentFile): KEY=VALUE lines, # comments, an optional "export ",
// values optionally in single or double quotes. It returns KEY=VALUE
// entries for FromEnv.
func ParseEnvFile(data []byte) ([]string, error) {
	var env []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, val, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(key) == "" {
			return nil, fmt.Errorf("line %d: want KEY=VALUE", n)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if len(val) >= 2 && (val[0] == '"' || val[0] == '\'') && val[len(val)-1] == val[0] {
			val = val[1 : len(val)-1]
		} else if i := strings.Index(val, " #"); i >= 0 {
			val = strings.TrimSpace(val[:i])
		}
		env = append(env, key+"="+val)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return env, nil
}

// FromFlags reads oauth2-proxy's command-line flags (--name=value,
// --name value, a bare --name for a true boolean; one dash works too, as
// in older releases). It returns the --config file named, if any, which
// the caller reads with FromTOML.
func FromFlags(args []string) (s *Settings, configFile string, err error) {
	_, byFlag := options()
	s = NewSettings()
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") || arg == "-" || arg == "--" {
			return nil, "", fmt.Errorf("argument %q: oauth2-proxy takes only flags", arg)
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		o, known := byFlag[name]
		if !known {
			o = option{name: strings.ReplaceAll(name, "-", "_"), kind: kindString, flag: name}
		}
		if !hasVal {
			// A flag this package does not know, followed by another flag,
			// is taken as a boolean rather than swallowing that flag.
			if o.kind == kindBool || !known && (i+1 >= len(args) || strings.HasPrefix(args[i+1], "-")) {
				val = "true"
			} else {
				if i+1 >= len(args) {
					return nil, "", fmt.Errorf("flag --%s needs a value", name)
				}
				i++
				val = args[i]
			}
		}
		st := &Setting{Name: o.name, Values: []string{val}, Source: "--" + name}
		if o.kind == kindList {
			st.Values = splitList(val)
			if prev, ok := s.byName[o.name]; ok {
				st.Values = append(slicesClone(prev.Values), st.Values...)
			}
		}
		if known {
			if err := checkKind(o, st); err != nil {
				return nil, "", err
			}
		}
		if o.name == "config" {
			configFile = val
		}
		s.set(st)
	}
	return s, configFile, nil
}

func slicesClone(v []string) []string { return append([]string(nil), v...) }

// FromTOML reads oauth2-proxy's TOML config file; source names the file
// in what each setting says of its origin.
func FromTOML(data []byte, source string) (*Settings, error) {
	var m map[string]any
	if _, err := toml.Decode(string(data), &m); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	s := NewSettings()
	for key, v := range m {
		vals, err := tomlValues(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", source, key, err)
		}
		name := strings.ReplaceAll(key, "-", "_")
		s.set(&Setting{Name: name, Values: vals, Source: source + ": " + key})
	}
	return s, nil
}

func tomlValues(v any) ([]string, error) {
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case bool:
		return []string{strconv.FormatBool(x)}, nil
	case int64:
		return []string{strconv.FormatInt(x, 10)}, nil
	case float64:
		return []string{strconv.FormatFloat(x, 'f', -1, 64)}, nil
	case []any:
		var out []string
		for _, item := range x {
			vs, err := tomlValues(item)
			if err != nil {
				return nil, err
			}
			if len(vs) != 1 {
				return nil, errors.New("nested lists are not oauth2-proxy options")
			}
			out = append(out, vs[0])
		}
		return out, nil
	}
	return nil, fmt.Errorf("a %T is not an oauth2-proxy option value", v)
}

// ComposeService is what FromCompose found in a docker-compose file.
type ComposeService struct {
	// Name is the service's name.
	Name string
	// Environment is the service's environment as KEY=VALUE entries.
	Environment []string
	// EnvFiles are the service's env_file entries, as written.
	EnvFiles []string
	// Command is the service's command, split into arguments.
	Command []string
}

// FromCompose finds the oauth2-proxy service of a docker-compose file:
// the one named service, or else the only one whose image is
// oauth2-proxy's or whose environment sets OAUTH2_PROXY_* variables.
// Variables such as ${CLIENT_SECRET} are left as written.
func FromCompose(data []byte, service string) (*ComposeService, error) {
	var f struct {
		Services map[string]struct {
			Image       string    `yaml:"image"`
			Environment yaml.Node `yaml:"environment"`
			EnvFile     yaml.Node `yaml:"env_file"`
			Command     yaml.Node `yaml:"command"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("compose file: %w", err)
	}
	var found []*ComposeService
	names := make([]string, 0, len(f.Services))
	for n := range f.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		svc := f.Services[name]
		cs := &ComposeService{Name: name}
		var err error
		if cs.Environment, err = composeEnv(&svc.Environment); err != nil {
			return nil, fmt.Errorf("compose file: services.%s.environment: %w", name, err)
		}
		if cs.EnvFiles, err = composeList(&svc.EnvFile, "path"); err != nil {
			return nil, fmt.Errorf("compose file: services.%s.env_file: %w", name, err)
		}
		if cs.Command, err = composeCommand(&svc.Command); err != nil {
			return nil, fmt.Errorf("compose file: services.%s.command: %w", name, err)
		}
		if service != "" {
			if name == service {
				return cs, nil
			}
			continue
		}
		isProxy := strings.Contains(svc.Image, "oauth2-proxy") || strings.Contains(svc.Image, "oauth2_proxy")
		for _, kv := range cs.Environment {
			isProxy = isProxy || strings.HasPrefix(kv, EnvPrefix)
		}
		if isProxy {
			found = append(found, cs)
		}
	}
	switch {
	case service != "":
		return nil, fmt.Errorf("compose file: no service %q", service)
	case len(found) == 0:
		return nil, errors.New("compose file: no service runs oauth2-proxy (no oauth2-proxy image, no OAUTH2_PROXY_* variables); name it with --service")
	case len(found) > 1:
		var ns []string
		for _, cs := range found {
			ns = append(ns, cs.Name)
		}
		return nil, fmt.Errorf("compose file: several services run oauth2-proxy (%s); name one with --service", strings.Join(ns, ", "))
	}
	return found[0], nil
}

// composeEnv reads environment: as a mapping or a list of KEY=VALUE.
func composeEnv(n *yaml.Node) ([]string, error) {
	switch n.Kind {
	case 0:
		return nil, nil
	case yaml.MappingNode:
		var env []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: %s is not a scalar", v.Line, k.Value)
			}
			env = append(env, k.Value+"="+v.Value)
		}
		return env, nil
	case yaml.SequenceNode:
		return composeList(n, "")
	}
	return nil, fmt.Errorf("line %d: want a mapping or a list", n.Line)
}

// composeList reads a string or a list of strings; key names the field of
// a long-form item ({path: ...}) when there is one.
func composeList(n *yaml.Node, key string) ([]string, error) {
	switch n.Kind {
	case 0:
		return nil, nil
	case yaml.ScalarNode:
		return []string{n.Value}, nil
	case yaml.SequenceNode:
		var out []string
		for _, item := range n.Content {
			switch {
			case item.Kind == yaml.ScalarNode:
				out = append(out, item.Value)
			case item.Kind == yaml.MappingNode && key != "":
				var m map[string]string
				if err := item.Decode(&m); err != nil {
					return nil, err
				}
				out = append(out, m[key])
			default:
				return nil, fmt.Errorf("line %d: want a string", item.Line)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("line %d: want a string or a list", n.Line)
}

// composeCommand reads command: as a list, or a string split as a shell
// would split words (quotes, backslashes; no expansions).
func composeCommand(n *yaml.Node) ([]string, error) {
	if n.Kind != yaml.ScalarNode {
		return composeList(n, "")
	}
	return SplitWords(n.Value)
}

// SplitWords splits a command line into words as a POSIX shell does for
// quotes and backslashes, without any expansion.
func SplitWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
		quote byte
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case quote == '"':
			switch {
			case c == '"':
				quote = 0
			case c == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`+"`", s[i+1]) >= 0:
				i++
				cur.WriteByte(s[i])
			default:
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			in = true
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}
