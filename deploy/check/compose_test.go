package check_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"

	"github.com/gatehouse/gatehouse/internal/config"
)

// The compose files live in composeDir and are loaded, as a user would run
// them after "cp .env.example .env", with .env.example as their environment.
const (
	composeDir     = "../compose"
	composeEnvFile = ".env.example"
	// composeSecretsDir holds the files secrets/generate.sh writes; the
	// tests run the script into a temporary folder and use those files for
	// every reference into composeSecretsDir.
	composeSecretsDir = "secrets"
)

// composeFiles returns every compose file in composeDir, so that a new
// variant is checked without being listed here.
func composeFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"docker-compose*.yml", "docker-compose*.yaml", "compose*.yml", "compose*.yaml"} {
		m, err := filepath.Glob(filepath.Join(composeDir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			files = append(files, filepath.Base(f))
		}
	}
	if len(files) == 0 {
		t.Fatalf("no compose files in %s", composeDir)
	}
	slices.Sort(files)
	return files
}

func composeEnv(t *testing.T) map[string]string {
	t.Helper()
	env, err := dotenv.GetEnvFromFile(map[string]string{}, []string{filepath.Join(composeDir, composeEnvFile)})
	if err != nil {
		t.Fatalf("%s: %v", composeEnvFile, err)
	}
	return env
}

// loadComposeContent loads one compose file's content with compose-go, the
// loader Docker Compose itself uses: schema validation (an unknown or
// misspelt key fails), interpolation with env (a required variable that is
// not set fails), normalization, consistency checks (a service, network,
// volume or secret that is named but not defined fails) and paths resolved
// against composeDir.
func loadComposeContent(name string, content []byte, env map[string]string) (*types.Project, error) {
	wd, err := filepath.Abs(composeDir)
	if err != nil {
		return nil, err
	}
	return loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  wd,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(wd, name), Content: content}},
		Environment: env,
	}, func(o *loader.Options) {
		o.ResolvePaths = true
	})
}

func loadCompose(t *testing.T, name string) *types.Project {
	t.Helper()
	return loadComposeEnv(t, name, composeEnv(t))
}

// variantHost is the APP_HOST the variant tests load the files with: not
// .env.example's app.example.com, which is also the placeholder the shipped
// proxy configurations name, so that replacing it is seen to happen.
const variantHost = "clearml.corp.test"

// loadVariant loads a compose file with APP_HOST set to variantHost.
func loadVariant(t *testing.T, name string) *types.Project {
	t.Helper()
	env := composeEnv(t)
	env["APP_HOST"] = variantHost
	return loadComposeEnv(t, name, env)
}

func loadComposeEnv(t *testing.T, name string, env map[string]string) *types.Project {
	t.Helper()
	content, err := os.ReadFile(filepath.Join(composeDir, name))
	if err != nil {
		t.Fatal(err)
	}
	p, err := loadComposeContent(name, content, env)
	if err != nil {
		t.Fatalf("compose-go does not load %s: %v", name, err)
	}
	return p
}

// generateComposeSecrets runs secrets/generate.sh into a new folder as the
// test's user, as a user would (with APP_HOST from .env.example), and
// returns the folder.
func generateComposeSecrets(t *testing.T) string {
	t.Helper()
	// A folder like the checkout's secrets/ (0755), which generate.sh
	// leaves as it is when run as root.
	dir := filepath.Join(t.TempDir(), "secrets")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := runGenerate(t, dir, nil)
	if err != nil {
		t.Fatalf("secrets/generate.sh %s: %v\n%s", dir, err, out)
	}
	return dir
}

func runGenerate(t *testing.T, dir string, cred *syscall.Credential) ([]byte, error) {
	t.Helper()
	cmd := exec.Command("sh", filepath.Join(composeDir, composeSecretsDir, "generate.sh"), dir)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Dir(dir), "APP_HOST=" + composeEnv(t)["APP_HOST"]}
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	return cmd.CombinedOutput()
}

// composeRefs maps the host paths a project references (bind mount
// sources, secret and config files, env files) to the files that will be
// there when a user runs it: a path in composeSecretsDir to the file
// generate.sh wrote into generated, any other path to itself.
type composeRefs struct {
	secretsDir string // absolute composeDir/composeSecretsDir
	generated  string
}

func newComposeRefs(t *testing.T, generated string) composeRefs {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join(composeDir, composeSecretsDir))
	if err != nil {
		t.Fatal(err)
	}
	return composeRefs{secretsDir: abs, generated: generated}
}

func (r composeRefs) hostPath(p string) string {
	if filepath.Dir(p) == r.secretsDir {
		return filepath.Join(r.generated, filepath.Base(p))
	}
	return p
}

// composeUser is the uid and gid a container's process runs as.
type composeUser struct{ uid, gid int }

func (u composeUser) String() string { return fmt.Sprintf("uid %d gid %d", u.uid, u.gid) }

// thirdPartyImageUser is the user each third-party image's main process
// runs as, as each image's documentation and Dockerfile give it (nginx's
// master process, which reads the certificate, runs as root; Envoy drops to
// its uid 101; Redis to 999:1000).
func thirdPartyImageUser(image string) (composeUser, bool) {
	repo := image
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	switch repo {
	case "nginx", "traefik", "caddy", "traefik/whoami":
		return composeUser{0, 0}, true
	case "envoyproxy/envoy":
		return composeUser{101, 101}, true
	case "redis":
		return composeUser{999, 1000}, true
	}
	return composeUser{}, false
}

// dockerfileUser returns the user the gatehouse image runs as: the final
// stage's USER in the repository's Dockerfile, with distroless's names.
func dockerfileUser(t *testing.T) composeUser {
	t.Helper()
	data, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	last := df[strings.LastIndex(df, "\nFROM "):]
	m := regexp.MustCompile(`(?m)^USER\s+(\S+)\s*$`).FindAllStringSubmatch(last, -1)
	if m == nil {
		return composeUser{0, 0}
	}
	u, err := parseComposeUser(m[len(m)-1][1])
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	return u
}

// parseComposeUser reads "user[:group]" as numbers or as the names the
// distroless base image defines.
func parseComposeUser(s string) (composeUser, error) {
	names := map[string]int{"root": 0, "nonroot": 65532, "nobody": 65534}
	id := func(v string) (int, error) {
		if n, ok := names[v]; ok {
			return n, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("user %q is neither a number nor one of %v", s, names)
		}
		return n, nil
	}
	us, gs, hasGroup := strings.Cut(s, ":")
	uid, err := id(us)
	if err != nil {
		return composeUser{}, err
	}
	gid := uid
	if hasGroup {
		if gid, err = id(gs); err != nil {
			return composeUser{}, err
		}
	}
	return composeUser{uid, gid}, nil
}

// isGatehouse reports whether a service runs the gatehouse image: built
// from the repository's Dockerfile, or the image that build produces.
func isGatehouse(svc types.ServiceConfig) bool {
	if svc.Build != nil {
		ctx, err := filepath.Abs("../..")
		return err == nil && filepath.Clean(svc.Build.Context) == ctx
	}
	return strings.HasPrefix(svc.Image, "gatehouse:") || strings.Contains(svc.Image, "/gatehouse:")
}

// serviceUser is the user a service's process runs as: its user key, else
// the image's user.
func serviceUser(t *testing.T, svc types.ServiceConfig) (composeUser, error) {
	if svc.User != "" {
		return parseComposeUser(svc.User)
	}
	if isGatehouse(svc) {
		return dockerfileUser(t), nil
	}
	if u, ok := thirdPartyImageUser(svc.Image); ok {
		return u, nil
	}
	return composeUser{}, fmt.Errorf("image %s: the user it runs as is not known to this test; add it to thirdPartyImageUser", svc.Image)
}

// readableBy reports whether u (with no supplementary groups) may read the
// file: the kernel checks the owner's bits if u owns it, else the group's
// if the group is u's, else the others'. Root reads everything.
func readableBy(fi fs.FileInfo, u composeUser) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	if u.uid == 0 {
		return true
	}
	mode := fi.Mode().Perm()
	switch {
	case int(st.Uid) == u.uid:
		return mode&0o400 != 0
	case int(st.Gid) == u.gid:
		return mode&0o040 != 0
	default:
		return mode&0o004 != 0
	}
}

func describeOwner(fi fs.FileInfo) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("owner %d, group %d, mode %04o", st.Uid, st.Gid, fi.Mode().Perm())
	}
	return fi.Mode().String()
}

// composeProblems checks what a loaded project needs from the host and its
// images: every referenced file exists, every file mounted into a service
// (bind mounts and secrets; compose mounts file secrets as bind mounts, with
// the host's owner and mode) is readable by the user the service runs as,
// and a gatehouse service's environment is a valid gatehouse configuration
// whose *_FILE settings name secrets mounted in it.
func composeProblems(t *testing.T, p *types.Project, refs composeRefs) []string {
	t.Helper()
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	exists := func(what, p string) (fs.FileInfo, bool) {
		fi, err := os.Stat(refs.hostPath(p))
		if err != nil {
			if filepath.Dir(p) == refs.secretsDir {
				add("%s %s: secrets/generate.sh does not write it (%v)", what, p, err)
			} else {
				add("%s %s does not exist: %v", what, p, err)
			}
			return nil, false
		}
		return fi, true
	}
	for _, name := range slices.Sorted(maps.Keys(p.Secrets)) {
		s := p.Secrets[name]
		if s.File == "" {
			add("secret %s is not file-based; only file secrets are supported by these files", name)
			continue
		}
		exists("secret "+name+" file", s.File)
	}
	for name, c := range p.Configs {
		if c.File != "" {
			exists("config "+name+" file", c.File)
		}
	}

	for _, name := range p.ServiceNames() {
		svc := p.Services[name]
		if svc.Build != nil {
			if fi, ok := exists("service "+name+" build context", svc.Build.Context); ok && !fi.IsDir() {
				add("service %s build context %s is not a folder", name, svc.Build.Context)
			}
			df := svc.Build.Dockerfile
			if df == "" {
				df = "Dockerfile"
			}
			if !filepath.IsAbs(df) {
				df = filepath.Join(svc.Build.Context, df)
			}
			exists("service "+name+" Dockerfile", df)
		}
		for _, ef := range svc.EnvFiles {
			if bool(ef.Required) {
				exists("service "+name+" env_file", ef.Path)
			}
		}
		user, err := serviceUser(t, svc)
		if err != nil {
			add("service %s: %v", name, err)
			continue
		}
		readable := func(what, path string) {
			fi, ok := exists(what, path)
			if ok && !fi.IsDir() && !readableBy(fi, user) {
				add("%s %s (%s) is not readable by service %s's user (%s): run secrets/generate.sh as root, or chmod 0444 it", what, refs.hostPath(path), describeOwner(fi), name, user)
			}
		}
		for _, v := range svc.Volumes {
			if v.Type == types.VolumeTypeBind {
				readable("service "+name+" bind mount", v.Source)
			}
		}
		for _, s := range svc.Secrets {
			if ps, ok := p.Secrets[s.Source]; ok && ps.File != "" {
				readable("service "+name+" secret "+s.Source, ps.File)
				if s.UID != "" || s.GID != "" || s.Mode != nil {
					add("service %s secret %s sets uid, gid or mode, which Compose ignores for a file secret outside Swarm (it warns and mounts the host file as it is): set the owner and mode on the host (secrets/generate.sh)", name, s.Source)
				}
			}
		}
		if isGatehouse(svc) {
			problems = append(problems, gatehouseEnvProblems(p, svc, refs)...)
		}
	}
	return problems
}

// secretTarget is where compose mounts a service's secret.
func secretTarget(s types.ServiceSecretConfig) string {
	if s.Target == "" {
		return "/run/secrets/" + s.Source
	}
	if filepath.IsAbs(s.Target) {
		return s.Target
	}
	return "/run/secrets/" + s.Target
}

// gatehouseEnvProblems checks a gatehouse service's environment with
// gatehouse's own loader: every GATEHOUSE_* variable is a setting, every
// *_FILE setting names a secret mounted in the service, and the whole
// environment, with those files as generate.sh writes them, is a valid
// configuration.
func gatehouseEnvProblems(p *types.Project, svc types.ServiceConfig, refs composeRefs) []string {
	var problems []string
	mounted := map[string]string{} // container path -> host file
	for _, s := range svc.Secrets {
		if ps, ok := p.Secrets[s.Source]; ok {
			mounted[secretTarget(s)] = refs.hostPath(ps.File)
		}
	}
	for _, v := range svc.Volumes {
		if v.Type == types.VolumeTypeBind {
			mounted[v.Target] = refs.hostPath(v.Source)
		}
	}
	env := map[string]string{}
	for k, v := range svc.Environment {
		if v == nil {
			problems = append(problems, fmt.Sprintf("service %s environment %s has no value", svc.Name, k))
			continue
		}
		if strings.HasPrefix(k, "GATEHOUSE_") && len(config.UnknownEnv([]string{k + "="})) > 0 {
			problems = append(problems, fmt.Sprintf("service %s environment %s is not a gatehouse setting", svc.Name, k))
		}
		val := *v
		if strings.HasSuffix(k, "_FILE") {
			host, ok := mounted[val]
			if !ok {
				problems = append(problems, fmt.Sprintf("service %s: %s = %s is not a file mounted in the service", svc.Name, k, val))
			}
			val = host
		}
		env[k] = val
	}
	if _, err := config.Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		problems = append(problems, fmt.Sprintf("service %s environment is not a valid gatehouse configuration: %v", svc.Name, err))
	}
	return problems
}

// TestComposeFiles loads every compose file with compose-go and checks it
// against the host files, the images' users and gatehouse's configuration
// loader, with the secrets generate.sh writes.
func TestComposeFiles(t *testing.T) {
	refs := newComposeRefs(t, generateComposeSecrets(t))
	for _, file := range composeFiles(t) {
		t.Run(file, func(t *testing.T) {
			p := loadCompose(t, file)
			// A top-level name is Compose v2 only; README.md says so.
			var top struct {
				Name string `yaml:"name"`
			}
			data, _ := os.ReadFile(filepath.Join(composeDir, file))
			if err := yaml.Unmarshal(data, &top); err != nil || top.Name == "" || p.Name != top.Name {
				t.Errorf("%s has no top-level name (project %q, %v): every variant names its project", file, p.Name, err)
			}
			for _, problem := range composeProblems(t, p, refs) {
				t.Error(problem)
			}
			// A command run by a shell parses (after interpolation).
			for _, name := range p.ServiceNames() {
				c := p.Services[name].Command
				if len(c) == 3 && (c[0] == "/bin/sh" || c[0] == "sh") && c[1] == "-c" {
					if out, err := exec.Command("sh", "-n", "-c", c[2]).CombinedOutput(); err != nil {
						t.Errorf("service %s's shell command does not parse: %v %s", name, err, out)
					}
				}
			}
			var gatehouses int
			for _, svc := range p.Services {
				if isGatehouse(svc) {
					gatehouses++
				}
			}
			if gatehouses != 1 {
				t.Errorf("%s has %d gatehouse services, want 1", file, gatehouses)
			}
		})
	}
}

// The checks above fail on what they are for: a misspelt key, a file that
// is not there, a secret its service's user cannot read.
func TestComposeChecksFail(t *testing.T) {
	gen := generateComposeSecrets(t)
	refs := newComposeRefs(t, gen)
	orig, err := os.ReadFile(filepath.Join(composeDir, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	env := composeEnv(t)
	mutate := func(t *testing.T, old, new string) []byte {
		t.Helper()
		if !bytes.Contains(orig, []byte(old)) {
			t.Fatalf("docker-compose.yml has no %q to change", old)
		}
		return bytes.Replace(orig, []byte(old), []byte(new), 1)
	}
	want := func(t *testing.T, problems []string, substr string) {
		t.Helper()
		for _, p := range problems {
			if strings.Contains(p, substr) {
				return
			}
		}
		t.Errorf("no problem mentions %q; got %q", substr, problems)
	}

	t.Run("unknown key", func(t *testing.T) {
		_, err := loadComposeContent("docker-compose.yml", mutate(t, "    restart: unless-stopped\n", "    restart_policy: unless-stopped\n"), env)
		if err == nil || !strings.Contains(err.Error(), "restart_policy") {
			t.Errorf("a misspelt key loaded: %v", err)
		}
	})
	t.Run("required variable unset", func(t *testing.T) {
		e := composeEnv(t)
		delete(e, "OIDC_ISSUER_URL")
		_, err := loadComposeContent("docker-compose.yml", orig, e)
		if err == nil || !strings.Contains(err.Error(), "OIDC_ISSUER_URL") {
			t.Errorf("loaded without OIDC_ISSUER_URL: %v", err)
		}
	})
	t.Run("missing mounted file", func(t *testing.T) {
		p, err := loadComposeContent("docker-compose.yml", mutate(t, "./traefik-tls.yml:", "./traefik-tsl.yml:"), env)
		if err != nil {
			t.Fatal(err)
		}
		want(t, composeProblems(t, p, refs), "traefik-tsl.yml does not exist")
	})
	t.Run("secret not generated", func(t *testing.T) {
		p, err := loadComposeContent("docker-compose.yml", mutate(t, "file: ./secrets/cookie_secrets", "file: ./secrets/cookie_secret"), env)
		if err != nil {
			t.Fatal(err)
		}
		want(t, composeProblems(t, p, refs), "secrets/generate.sh does not write it")
	})
	t.Run("secret mode key", func(t *testing.T) {
		p, err := loadComposeContent("docker-compose.yml", mutate(t, "      - cookie_secrets\n", "      - source: cookie_secrets\n        mode: 0444\n"), env)
		if err != nil {
			t.Fatal(err)
		}
		want(t, composeProblems(t, p, refs), "secret cookie_secrets sets uid, gid or mode, which Compose ignores")
	})
	t.Run("unknown gatehouse setting", func(t *testing.T) {
		p, err := loadComposeContent("docker-compose.yml", mutate(t, "GATEHOUSE_OIDC_SCOPES:", "GATEHOUSE_OIDC_SCOPE:"), env)
		if err != nil {
			t.Fatal(err)
		}
		want(t, composeProblems(t, p, refs), "GATEHOUSE_OIDC_SCOPE is not a gatehouse setting")
	})
	t.Run("secret 0600", func(t *testing.T) {
		p := loadCompose(t, "docker-compose.yml")
		f := filepath.Join(gen, "cookie_secrets")
		// As a non-root user generate.sh leaves the file the user's own:
		// 0600 is unreadable by 65532 either way.
		if err := os.Chmod(f, 0o600); err != nil {
			t.Fatal(err)
		}
		if os.Geteuid() == 0 {
			if err := os.Chown(f, 0, 0); err != nil {
				t.Fatal(err)
			}
		}
		want(t, composeProblems(t, p, refs), fmt.Sprintf("cookie_secrets (owner %d, group %d, mode 0600) is not readable by service gatehouse's user (uid 65532 gid 65532)", os.Geteuid(), os.Getegid()))
	})
}

// TestComposeGenerateSecrets runs secrets/generate.sh as the test's user
// (and, as root, also as an unprivileged user, who cannot chown): each file
// is readable by the image's user, the cookie key is one gatehouse accepts,
// the certificate is a pair for APP_HOST, and generate.sh itself refuses a
// file the image's user could not read.
func TestComposeGenerateSecrets(t *testing.T) {
	img := dockerfileUser(t)
	if img != (composeUser{65532, 65532}) {
		t.Errorf("the Dockerfile's user is %s; generate.sh is written for 65532:65532", img)
	}
	host := composeEnv(t)["APP_HOST"]
	check := func(t *testing.T, dir string, root bool) {
		t.Helper()
		for _, f := range []string{"cookie_secrets", "oidc_client_secret", "tls.crt", "tls.key"} {
			fi, err := os.Stat(filepath.Join(dir, f))
			if err != nil {
				t.Errorf("generate.sh did not write %s: %v", f, err)
				continue
			}
			if !readableBy(fi, img) {
				t.Errorf("%s (%s) is not readable by the image's user %s", f, describeOwner(fi), img)
			}
			if fi.Mode().Perm()&0o222 != 0 {
				t.Errorf("%s is writable (%s)", f, describeOwner(fi))
			}
		}
		// As another user the files are 0444, and only the folder keeps
		// other host users out; as root the folder is left as it was, so a
		// non-root git can still update the checkout.
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if want := os.FileMode(0o700); !root && fi.Mode().Perm() != want {
			t.Errorf("folder %s is %v, want %v", dir, fi.Mode().Perm(), want)
		}
		if want := os.FileMode(0o755); root && fi.Mode().Perm() != want {
			t.Errorf("folder %s is %v, want it left %v", dir, fi.Mode().Perm(), want)
		}
		key, _ := os.ReadFile(filepath.Join(dir, "cookie_secrets"))
		if _, err := config.Load("", func(k string) (string, bool) {
			v, ok := map[string]string{
				"GATEHOUSE_OIDC_ISSUER_URL":    "https://login.example.com",
				"GATEHOUSE_OIDC_CLIENT_ID":     "gatehouse",
				"GATEHOUSE_OIDC_CLIENT_SECRET": "secret",
				"GATEHOUSE_OIDC_REDIRECT_URL":  "https://" + host + "/oauth2/callback",
				"GATEHOUSE_COOKIE_SECRETS":     strings.TrimSpace(string(key)),
			}[k]
			return v, ok
		}); err != nil {
			t.Errorf("gatehouse does not accept the generated cookie key: %v", err)
		}
		pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
		if err != nil {
			t.Fatalf("generated certificate: %v", err)
		}
		if err := pair.Leaf.VerifyHostname(host); err != nil {
			t.Errorf("generated certificate: %v", err)
		}
	}

	t.Run("as "+strconv.Itoa(os.Geteuid()), func(t *testing.T) {
		dir := generateComposeSecrets(t)
		check(t, dir, os.Geteuid() == 0)
		// Run again: existing files are kept.
		before, _ := os.ReadFile(filepath.Join(dir, "cookie_secrets"))
		if out, err := runGenerate(t, dir, nil); err != nil {
			t.Fatalf("second run: %v\n%s", err, out)
		}
		after, _ := os.ReadFile(filepath.Join(dir, "cookie_secrets"))
		if !bytes.Equal(before, after) {
			t.Error("a second run replaced the cookie key")
		}
		check(t, dir, os.Geteuid() == 0)
	})
	if os.Geteuid() != 0 {
		return // the cases below need to act as another user
	}
	// An unprivileged user's files (mode 0444 in a 0700 folder).
	const uid = 23456
	base, err := os.MkdirTemp("", "gatehouse-generate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	cred := &syscall.Credential{Uid: uid, Gid: uid}
	t.Run("as an unprivileged user", func(t *testing.T) {
		dir := filepath.Join(base, "user")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, uid, uid); err != nil {
			t.Fatal(err)
		}
		if out, err := runGenerate(t, dir, cred); err != nil {
			t.Fatalf("generate.sh as uid %d: %v\n%s", uid, err, out)
		}
		check(t, dir, false)
	})
	t.Run("refuses an unreadable file", func(t *testing.T) {
		// A root-owned 0600 secret the unprivileged user cannot chmod: the
		// check at the end must fail and name it.
		dir := filepath.Join(base, "refuse")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, uid, uid); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "oidc_client_secret"), []byte("s3cret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := runGenerate(t, dir, cred)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || !strings.Contains(string(out), "oidc_client_secret (owner 0, group 0, mode 600) is not readable by uid 65532") {
			t.Errorf("generate.sh with an unreadable secret: %v\n%s", err, out)
		}
		if strings.Contains(string(out), "s3cret") {
			t.Error("generate.sh printed a secret")
		}
	})
}

// TestComposeIgnored: .env and every file generate.sh writes are ignored by
// git, as git itself decides.
func TestComposeIgnored(t *testing.T) {
	paths := []string{filepath.Join(composeDir, ".env")}
	for _, f := range []string{"cookie_secrets", "oidc_client_secret", "tls.crt", "tls.key"} {
		paths = append(paths, filepath.Join(composeDir, composeSecretsDir, f))
	}
	for _, p := range paths {
		if out, err := exec.Command("git", "check-ignore", "--no-index", "-q", p).CombinedOutput(); err != nil {
			t.Errorf("%s is not ignored by git: %v %s", p, err, out)
		}
	}
	if out, err := exec.Command("git", "check-ignore", "--no-index", "-q", filepath.Join(composeDir, composeEnvFile)).CombinedOutput(); err == nil {
		t.Errorf("%s is ignored by git %s", composeEnvFile, out)
	}
}

// TestComposeReadme: the README names every variant and the Compose v2
// requirement.
func TestComposeReadme(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(composeDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	for _, f := range composeFiles(t) {
		if !strings.Contains(readme, "`"+f+"`") {
			t.Errorf("README.md does not name %s", f)
		}
	}
	for _, s := range []string{"Compose v2", "docker compose", "secrets/generate.sh", "tls.crt", "tls.key"} {
		if !strings.Contains(readme, s) {
			t.Errorf("README.md does not say %q", s)
		}
	}
}

// --- the variants -------------------------------------------------------

// renderedConfig is a proxy's configuration as a service's command writes
// it at start: "sed 'SCRIPT' SRC > DST", SRC being a file mounted from the
// repository. The same sed runs here on the host file.
type renderedConfig struct {
	source, dest string // container paths
	hostSource   string
	text         string
	command      string
}

var sedRender = regexp.MustCompile(`sed '([^']*)' (\S+) > (\S+)`)

func renderConfig(t *testing.T, p *types.Project, service string) renderedConfig {
	t.Helper()
	svc, ok := p.Services[service]
	if !ok {
		t.Fatalf("no service %s", service)
	}
	cmd := strings.Join(svc.Command, " ")
	m := sedRender.FindStringSubmatch(cmd)
	if m == nil {
		t.Fatalf("service %s's command does not render its config with sed: %q", service, cmd)
	}
	r := renderedConfig{source: m[2], dest: m[3], command: cmd}
	for _, v := range svc.Volumes {
		if v.Type == types.VolumeTypeBind && v.Target == r.source {
			r.hostSource = v.Source
			if !v.ReadOnly {
				t.Errorf("service %s mounts %s writable", service, v.Source)
			}
		}
	}
	if r.hostSource == "" {
		t.Fatalf("service %s renders %s, which is not mounted", service, r.source)
	}
	out, err := exec.Command("sed", m[1], r.hostSource).Output()
	if err != nil {
		t.Fatalf("sed %q %s: %v", m[1], r.hostSource, err)
	}
	r.text = string(out)
	return r
}

func mountsOf(svc types.ServiceConfig) map[string]types.ServiceVolumeConfig {
	m := map[string]types.ServiceVolumeConfig{}
	for _, v := range svc.Volumes {
		m[v.Target] = v
	}
	return m
}

func envOf(svc types.ServiceConfig) map[string]string {
	m := map[string]string{}
	for k, v := range svc.Environment {
		if v != nil {
			m[k] = *v
		}
	}
	return m
}

func portOfAddr(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return port
}

// appPort is the port the whoami stand-in listens on.
func appPort(svc types.ServiceConfig) string {
	if i := slices.Index(svc.Command, "--port"); i >= 0 && i+1 < len(svc.Command) {
		return svc.Command[i+1]
	}
	return "80"
}

func published(svc types.ServiceConfig) []string {
	var out []string
	for _, p := range svc.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		out = append(out, fmt.Sprintf("%s:%d/%s", p.Published, p.Target, proto))
	}
	slices.Sort(out)
	return out
}

func serviceNames(p *types.Project) []string {
	names := p.ServiceNames()
	slices.Sort(names)
	return names
}

// The shared-namespace variants: gatehouse and the app join the proxy's
// network namespace, so the shipped configuration's 127.0.0.1 addresses
// reach them, and gatehouse trusts only loopback.
func checkSharedNamespace(t *testing.T, p *types.Project, owner string, others ...string) {
	t.Helper()
	for _, name := range others {
		if got := p.Services[name].NetworkMode; got != "service:"+owner {
			t.Errorf("%s network_mode = %q, want service:%s", name, got, owner)
		}
		if len(p.Services[name].Ports) != 0 {
			t.Errorf("%s publishes ports; in a shared namespace only %s can", name, owner)
		}
	}
	env := envOf(p.Services["gatehouse"])
	if host, _, _ := net.SplitHostPort(env["GATEHOUSE_HTTP_ADDR"]); host != "127.0.0.1" {
		t.Errorf("GATEHOUSE_HTTP_ADDR = %q, want 127.0.0.1 (only the proxy in the namespace asks)", env["GATEHOUSE_HTTP_ADDR"])
	}
	if env["GATEHOUSE_TRUSTED_PROXIES"] != "127.0.0.1/32" {
		t.Errorf("GATEHOUSE_TRUSTED_PROXIES = %q, want 127.0.0.1/32", env["GATEHOUSE_TRUSTED_PROXIES"])
	}
}

func checkRedis(t *testing.T, p *types.Project) {
	t.Helper()
	env := envOf(p.Services["gatehouse"])
	if env["GATEHOUSE_SESSION_STORE"] != "redis" || env["GATEHOUSE_REDIS_ADDRS"] != "redis:6379" {
		t.Errorf("gatehouse does not keep sessions in the redis service: store %q, addrs %q", env["GATEHOUSE_SESSION_STORE"], env["GATEHOUSE_REDIS_ADDRS"])
	}
	if d, ok := p.Services["gatehouse"].DependsOn["redis"]; !ok || d.Condition != types.ServiceConditionHealthy {
		t.Error("gatehouse does not wait for redis to be healthy")
	}
	if p.Services["redis"].HealthCheck == nil {
		t.Error("redis has no health check")
	}
}

// TestComposeNginxVariant is the ClearML setup of today with gatehouse in
// oauth2-proxy's place: nginx (TLS) + gatehouse + an app on port 5050 +
// Redis, nginx running the shipped deploy/nginx/nginx.conf. The config as
// rendered at start, with the container's mounts, passes nginx -t.
func TestComposeNginxVariant(t *testing.T) {
	p := loadVariant(t, "docker-compose.nginx.yml")
	if got := serviceNames(p); !slices.Equal(got, []string{"app", "gatehouse", "nginx", "redis"}) {
		t.Errorf("services %v, want the seed's shape: app, gatehouse, nginx, redis", got)
	}
	checkSharedNamespace(t, p, "nginx", "gatehouse", "app")
	checkRedis(t, p)
	nginx := p.Services["nginx"]
	if got := published(nginx); !slices.Equal(got, []string{"443:443/tcp", "80:80/tcp"}) {
		t.Errorf("nginx publishes %v, want 80 and 443", got)
	}
	if port := appPort(p.Services["app"]); port != "5050" {
		t.Errorf("app listens on %s, want 5050", port)
	}

	r := renderConfig(t, p, "nginx")
	shipped, err := filepath.Abs("../nginx/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	if r.hostSource != shipped {
		t.Errorf("nginx renders %s, want the shipped %s", r.hostSource, shipped)
	}
	if r.dest != "/etc/nginx/nginx.conf" || !strings.Contains(r.command, "exec nginx -g 'daemon off;'") {
		t.Errorf("nginx does not run the rendered %s: %q", r.dest, r.command)
	}
	host := variantHost // interpolated into the command
	text := r.text
	if n := strings.Count(text, "server_name "+host+";"); n != 2 {
		t.Errorf("rendered nginx.conf names %s in %d server_name lines, want 2 (HTTP and HTTPS)", host, n)
	}
	// The IPv6 listen lines are dropped in a container without IPv6; the
	// IPv4 ones stay.
	m := regexp.MustCompile(`sed -i '([^']*)' ([^\s;]+)`).FindStringSubmatch(r.command)
	if m == nil || m[2] != r.dest || !strings.Contains(r.command, "[ -e /proc/net/if_inet6 ] ||") {
		t.Fatalf("nginx command does not drop IPv6 listens without IPv6: %q", r.command)
	}
	ipv4Only := filepath.Join(t.TempDir(), "nginx.conf")
	if err := os.WriteFile(ipv4Only, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sed", "-i", m[1], ipv4Only).CombinedOutput(); err != nil {
		t.Fatalf("sed -i %q: %v %s", m[1], err, out)
	}
	v4, _ := os.ReadFile(ipv4Only)
	if strings.Contains(string(v4), "[::]") || strings.Count(string(v4), "listen 443 ssl") != 2 || strings.Count(string(v4), "listen 80") != 2 {
		t.Errorf("without IPv6 the listen lines are wrong:\n%s", regexp.MustCompile(`(?m)^.*listen.*$`).FindAllString(string(v4), -1))
	}

	// Upstreams are the app's and gatehouse's ports on loopback.
	ghPort := portOfAddr(t, envOf(p.Services["gatehouse"])["GATEHOUSE_HTTP_ADDR"])
	for _, want := range []string{"server 127.0.0.1:" + appPort(p.Services["app"]) + ";", "server 127.0.0.1:" + ghPort + ";"} {
		if !strings.Contains(text, want) {
			t.Errorf("rendered nginx.conf has no upstream %q", want)
		}
	}

	// The certificate paths nginx.conf names are mounted from
	// secrets/tls.crt and tls.key.
	mounts := mountsOf(nginx)
	secrets, _ := filepath.Abs(filepath.Join(composeDir, composeSecretsDir))
	for _, d := range []struct{ directive, file string }{{"ssl_certificate", "tls.crt"}, {"ssl_certificate_key", "tls.key"}} {
		mm := regexp.MustCompile(`(?m)^\s*` + d.directive + `\s+(\S+);`).FindStringSubmatch(text)
		if mm == nil {
			t.Errorf("rendered nginx.conf has no %s", d.directive)
			continue
		}
		if v, ok := mounts[mm[1]]; !ok || v.Source != filepath.Join(secrets, d.file) || !v.ReadOnly {
			t.Errorf("%s %s is not mounted read-only from secrets/%s (%+v)", d.directive, mm[1], d.file, v)
		}
	}

	// nginx -t on the rendered file, with and without IPv6, each container
	// path replaced by the host file mounted there (the generated secrets
	// for secrets/).
	refs := newComposeRefs(t, generateComposeSecrets(t))
	for what, conf := range map[string]string{"with IPv6": text, "without IPv6": string(v4)} {
		for target, v := range mounts {
			if v.Type == types.VolumeTypeBind {
				conf = strings.ReplaceAll(conf, target, refs.hostPath(v.Source))
			}
		}
		f := filepath.Join(t.TempDir(), "nginx.conf")
		if err := os.WriteFile(f, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("nginx", "-t", "-q", "-c", f).CombinedOutput(); err != nil {
			t.Errorf("nginx -t on the rendered nginx.conf %s: %v\n%s", what, err, out)
		}
	}
}

// TestComposeCaddyVariant: Caddy with automatic HTTPS runs the shipped
// deploy/caddy/Caddyfile for APP_HOST; the rendered file is adapted by
// caddy itself.
func TestComposeCaddyVariant(t *testing.T) {
	p := loadVariant(t, "docker-compose.caddy.yml")
	if got := serviceNames(p); !slices.Equal(got, []string{"app", "caddy", "gatehouse", "redis"}) {
		t.Errorf("services %v, want app, caddy, gatehouse, redis", got)
	}
	checkSharedNamespace(t, p, "caddy", "gatehouse", "app")
	checkRedis(t, p)
	caddy := p.Services["caddy"]
	if got := published(caddy); !slices.Equal(got, []string{"443:443/tcp", "443:443/udp", "80:80/tcp"}) {
		t.Errorf("caddy publishes %v, want 80 (ACME HTTP challenge), 443 and 443/udp", got)
	}
	if v, ok := mountsOf(caddy)["/data"]; !ok || v.Type != types.VolumeTypeVolume {
		t.Error("caddy keeps its certificates in no named volume at /data")
	}
	r := renderConfig(t, p, "caddy")
	shipped, _ := filepath.Abs("../caddy/Caddyfile")
	if r.hostSource != shipped {
		t.Errorf("caddy renders %s, want the shipped %s", r.hostSource, shipped)
	}
	if !strings.Contains(r.command, "exec caddy run --config "+r.dest+" --adapter caddyfile") {
		t.Errorf("caddy does not run the rendered %s: %q", r.dest, r.command)
	}
	host := variantHost
	ghPort := portOfAddr(t, envOf(p.Services["gatehouse"])["GATEHOUSE_HTTP_ADDR"])
	for _, want := range []string{"\n" + host + " {", "forward_auth 127.0.0.1:" + ghPort + " {", "reverse_proxy 127.0.0.1:" + ghPort + "\n", "reverse_proxy 127.0.0.1:" + appPort(p.Services["app"]) + "\n"} {
		if !strings.Contains(r.text, want) {
			t.Errorf("rendered Caddyfile has no %q", want)
		}
	}
	f := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(f, []byte(r.text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("caddy", "adapt", "--config", f, "--adapter", "caddyfile").Output()
	if err != nil {
		t.Fatalf("caddy adapt on the rendered Caddyfile: %v", err)
	}
	if !strings.Contains(string(out), `"host":["`+host+`"]`) {
		t.Errorf("adapted Caddyfile serves no route for %s", host)
	}
}

// TestComposeEnvoyVariant: Envoy runs the shipped deploy/envoy/envoy.yaml
// with APP_HOST as its domain; its clusters reach gatehouse's gRPC and HTTP
// ports and the app on loopback.
func TestComposeEnvoyVariant(t *testing.T) {
	p := loadVariant(t, "docker-compose.envoy.yml")
	if got := serviceNames(p); !slices.Equal(got, []string{"app", "envoy", "gatehouse", "redis"}) {
		t.Errorf("services %v, want app, envoy, gatehouse, redis", got)
	}
	checkSharedNamespace(t, p, "envoy", "gatehouse", "app")
	checkRedis(t, p)
	r := renderConfig(t, p, "envoy")
	shipped, _ := filepath.Abs("../envoy/envoy.yaml")
	if r.hostSource != shipped {
		t.Errorf("envoy renders %s, want the shipped %s", r.hostSource, shipped)
	}
	if !strings.Contains(r.command, "exec envoy -c "+r.dest) {
		t.Errorf("envoy does not run the rendered %s: %q", r.dest, r.command)
	}
	host := variantHost
	if !strings.Contains(r.text, `domains: ["`+host+`", "`+host+`:8080"]`) {
		t.Errorf("rendered envoy.yaml does not serve %s", host)
	}
	env := envOf(p.Services["gatehouse"])
	ports := map[string]string{
		"gatehouse gRPC": portOfAddr(t, env["GATEHOUSE_GRPC_ADDR"]),
		"gatehouse HTTP": portOfAddr(t, env["GATEHOUSE_HTTP_ADDR"]),
		"app":            appPort(p.Services["app"]),
	}
	for what, port := range ports {
		if !strings.Contains(r.text, "address: 127.0.0.1, port_value: "+port+" }") {
			t.Errorf("envoy.yaml has no 127.0.0.1:%s cluster for %s", port, what)
		}
	}
	pub := p.Services["envoy"].Ports
	if len(pub) != 1 || !strings.Contains(r.text, fmt.Sprintf("port_value: %d }", pub[0].Target)) {
		t.Errorf("published ports %v are not Envoy's listener", published(p.Services["envoy"]))
	}
}

// TestComposeTraefikVariant: two gatehouse replicas behind Traefik's
// ForwardAuth, Traefik running the shipped deploy/traefik/dynamic.yml with
// the compose service names as addresses, and serving secrets/tls.crt.
func TestComposeTraefikVariant(t *testing.T) {
	p := loadVariant(t, "docker-compose.yml")
	if got := serviceNames(p); !slices.Equal(got, []string{"app", "gatehouse", "redis", "traefik"}) {
		t.Errorf("services %v, want app, gatehouse, redis, traefik", got)
	}
	checkRedis(t, p)
	gh := p.Services["gatehouse"]
	if gh.GetScale() < 2 {
		t.Errorf("gatehouse replicas = %d, want >= 2", gh.GetScale())
	}
	ghPort := portOfAddr(t, envOf(gh)["GATEHOUSE_HTTP_ADDR"])
	traefik := p.Services["traefik"]
	if got := published(traefik); !slices.Equal(got, []string{"443:443/tcp", "80:80/tcp"}) {
		t.Errorf("traefik publishes %v, want 80 and 443", got)
	}

	r := renderConfig(t, p, "traefik")
	shipped, _ := filepath.Abs("../traefik/dynamic.yml")
	if r.hostSource != shipped {
		t.Errorf("traefik renders %s, want the shipped %s", r.hostSource, shipped)
	}
	// Traefik reads every file in its file provider's folder: the rendered
	// routes and the mounted TLS file.
	dir := regexp.MustCompile(`--providers\.file\.directory=(\S+)`).FindStringSubmatch(r.command)
	if !strings.Contains(r.command, "exec traefik ") || dir == nil || dir[1] != filepath.Dir(r.dest) {
		t.Fatalf("traefik does not run with the rendered %s in its file provider folder: %q", r.dest, r.command)
	}
	mounts := mountsOf(traefik)
	var tlsFile string
	for target, v := range mounts {
		if filepath.Dir(target) == dir[1] && v.Type == types.VolumeTypeBind {
			tlsFile = v.Source
		}
	}
	if tlsFile == "" {
		t.Fatalf("nothing is mounted in traefik's file provider folder %s", dir[1])
	}

	type certFiles struct {
		CertFile string `yaml:"certFile"`
		KeyFile  string `yaml:"keyFile"`
	}
	type dynamic struct {
		HTTP struct {
			Routers map[string]struct {
				Rule        string   `yaml:"rule"`
				Middlewares []string `yaml:"middlewares"`
			} `yaml:"routers"`
			Middlewares map[string]struct {
				ForwardAuth *struct {
					Address                string   `yaml:"address"`
					TrustForwardHeader     *bool    `yaml:"trustForwardHeader"`
					PreserveLocationHeader *bool    `yaml:"preserveLocationHeader"`
					AuthResponseHeaders    []string `yaml:"authResponseHeaders"`
				} `yaml:"forwardAuth"`
			} `yaml:"middlewares"`
			Services map[string]struct {
				LoadBalancer struct {
					PassHostHeader *bool `yaml:"passHostHeader"`
					Servers        []struct {
						URL string `yaml:"url"`
					} `yaml:"servers"`
				} `yaml:"loadBalancer"`
			} `yaml:"services"`
		} `yaml:"http"`
		TLS struct {
			Stores map[string]struct {
				DefaultCertificate certFiles `yaml:"defaultCertificate"`
			} `yaml:"stores"`
		} `yaml:"tls"`
	}
	var dyn dynamic
	if err := yaml.Unmarshal([]byte(r.text), &dyn); err != nil {
		t.Fatalf("rendered dynamic.yml: %v", err)
	}
	for name, router := range dyn.HTTP.Routers {
		if !strings.HasPrefix(router.Rule, "Host(`"+variantHost+"`)") {
			t.Errorf("router %s rule %q is not for APP_HOST %s", name, router.Rule, variantHost)
		}
	}
	fa := dyn.HTTP.Middlewares["gatehouse-auth"].ForwardAuth
	if fa == nil {
		t.Fatal("no gatehouse-auth forwardAuth middleware")
	}
	u, err := url.Parse(fa.Address)
	if err != nil || u.Hostname() != "gatehouse" || u.Port() != ghPort || u.Path != "/authz/forward-auth" {
		t.Errorf("forwardAuth address %q does not reach the gatehouse service's /authz/forward-auth on %s", fa.Address, ghPort)
	}
	if fa.TrustForwardHeader == nil || *fa.TrustForwardHeader {
		t.Error("trustForwardHeader must be false")
	}
	// The login redirect is host-relative: without this Traefik would send
	// the browser to http://gatehouse:4180/..., a name only the compose
	// network knows.
	if fa.PreserveLocationHeader == nil || !*fa.PreserveLocationHeader {
		t.Error("preserveLocationHeader must be true")
	}
	d := config.Default()
	wantHeaders := []string{d.Headers.User, d.Headers.Email, d.Headers.Groups, d.Headers.PreferredUsername, config.AccessTokenHeader, "Cookie"}
	if !slices.Equal(fa.AuthResponseHeaders, wantHeaders) {
		t.Errorf("authResponseHeaders = %v, want %v", fa.AuthResponseHeaders, wantHeaders)
	}
	for name, want := range map[string]string{"gatehouse": "http://gatehouse:" + ghPort, "app": "http://app:" + appPort(p.Services["app"])} {
		s := dyn.HTTP.Services[name].LoadBalancer.Servers
		if len(s) != 1 || s[0].URL != want {
			t.Errorf("traefik service %s servers %v, want %s", name, s, want)
		}
	}

	// The certificate Traefik serves is the mounted secrets/tls.crt.
	data, err := os.ReadFile(tlsFile)
	if err != nil {
		t.Fatal(err)
	}
	var tlsDyn dynamic
	if err := yaml.Unmarshal(data, &tlsDyn); err != nil {
		t.Fatalf("%s: %v", tlsFile, err)
	}
	secrets, _ := filepath.Abs(filepath.Join(composeDir, composeSecretsDir))
	cert := tlsDyn.TLS.Stores["default"].DefaultCertificate
	for path, file := range map[string]string{cert.CertFile: "tls.crt", cert.KeyFile: "tls.key"} {
		if v, ok := mounts[path]; !ok || v.Source != filepath.Join(secrets, file) || !v.ReadOnly {
			t.Errorf("traefik's default certificate file %q is not mounted read-only from secrets/%s", path, file)
		}
	}
	refs := newComposeRefs(t, generateComposeSecrets(t))
	crt, err := os.ReadFile(refs.hostPath(filepath.Join(secrets, "tls.crt")))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(crt)
	if block == nil {
		t.Fatal("tls.crt is not PEM")
	}
	if c, err := x509.ParseCertificate(block.Bytes); err != nil || c.VerifyHostname(composeEnv(t)["APP_HOST"]) != nil {
		t.Errorf("tls.crt is not a certificate for APP_HOST: %v", err)
	}
}
