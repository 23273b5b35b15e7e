// Package pages renders the pages gatehouse shows people: sign-in, signed
// out, sign-out confirmation, forbidden, service unavailable, sign-in
// failed and upstream unreachable. They are designed once (html/template,
// inline CSS, an inline SVG logo, no JavaScript, no external asset, light
// and dark colour schemes) and served through every proxy: the
// forward-auth reply bodies (internal/render), the login endpoints
// (internal/login) and, for nginx, the /oauth2/page endpoint that the
// shipped config's error_page locations ask (Handler).
//
// Operators customize them without a rebuild: product name, logo (inlined
// as a data: URI), accent colours, footer links, and whole templates from
// a folder. New reads and checks all of it once: every override must parse
// and execute against sample data of every variant, or New fails naming
// the file and the template.
package pages

import (
	"bytes"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/gatehouse/gatehouse/internal/limitedfile"
)

//go:embed templates/*.html
var builtin embed.FS

// Name names a page; the template file of a page is its name plus ".html".
type Name string

// The pages, and the frame around them.
const (
	SignIn      Name = "signin"
	SignedOut   Name = "signed_out"
	SignOut     Name = "sign_out"
	Forbidden   Name = "forbidden"
	Unavailable Name = "unavailable"
	Error       Name = "error"
	Upstream    Name = "upstream"
	// Layout is the frame around every page: it defines "layout", which
	// calls the page's "title" and "content".
	Layout Name = "layout"
)

// Names lists every page, Layout last.
func Names() []Name {
	return []Name{SignIn, SignedOut, SignOut, Forbidden, Unavailable, Error, Upstream, Layout}
}

// MaxLogoSize bounds the logo file: it is inlined into every page.
const MaxLogoSize = 64 << 10

// maxTemplateSize bounds each template override file.
const maxTemplateSize = 256 << 10

// The default accent colours: blue with white text in the light scheme
// (5.9:1), light blue with near-black text in the dark one (8.4:1).
const (
	defaultAccent     = "#1d5fd1"
	defaultAccentDark = "#8ab4ff"
	defaultProduct    = "gatehouse"
)

// Options customize the pages. The zero value gives the built-in design.
type Options struct {
	// ProductName is shown in every title and heading; default "gatehouse".
	ProductName string
	// LogoFile is a PNG, JPEG, GIF, WebP or SVG file of at most
	// MaxLogoSize bytes, inlined as a data: URI; empty keeps the built-in
	// logo.
	LogoFile string
	// Accent and AccentDark are #rgb or #rrggbb colours for buttons and
	// focus rings in the light and the dark scheme.
	Accent, AccentDark string
	// Links are shown at the foot of every page.
	Links []Link
	// TemplatesDir holds overrides: NAME.html for a Name replaces that
	// template. Any other .html file there is an error (a misspelt name
	// would otherwise be ignored without a word).
	TemplatesDir string
	// Logger reports an override that fails at run time (the built-in page
	// is served instead); nil discards.
	Logger *slog.Logger
}

// Link is one footer link.
type Link struct {
	Text string
	URL  string
}

// Brand is what every template gets as .Brand.
type Brand struct {
	ProductName string
	// Logo is the logo's data: URI; empty means the built-in SVG logo.
	Logo template.URL
	// Accent and AccentDark are checked hex colours.
	Accent, AccentDark template.CSS
	Links              []Link
}

// view is the value every template executes with.
type view struct {
	Brand Brand
	// Status is the HTTP status the page is sent with.
	Status int
	// Page is the page's own data (SignInData, ForbiddenData, ...).
	Page any
}

// Pages renders the pages. It is safe for concurrent use.
type Pages struct {
	brand    Brand
	builtin  map[Name]*template.Template
	override map[Name]*template.Template // pages whose template or layout is overridden
	log      *slog.Logger
}

var hexColor = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// New builds the pages from o, reading the logo and every template
// override and executing each page against sample data. Errors name the
// option (as its config key) and the file.
func New(o Options) (*Pages, error) {
	p := &Pages{log: o.Logger, override: map[Name]*template.Template{}}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	var errs []error
	b, err := brandOf(o)
	if err != nil {
		errs = append(errs, err)
	}
	p.brand = b

	builtinSrc := map[Name]string{}
	for _, n := range Names() {
		src, err := builtin.ReadFile("templates/" + string(n) + ".html")
		if err != nil {
			return nil, fmt.Errorf("pages: built-in template %s: %w", n, err)
		}
		builtinSrc[n] = string(src)
	}
	p.builtin, err = build(builtinSrc, nil)
	if err != nil {
		return nil, fmt.Errorf("pages: built-in templates: %w", err)
	}

	if o.TemplatesDir != "" {
		overrides, err := readOverrides(o.TemplatesDir)
		if err != nil {
			errs = append(errs, err)
		} else if len(overrides) > 0 {
			src := map[Name]string{}
			files := map[Name]string{}
			for n, f := range overrides {
				src[n] = f.src
				files[n] = f.path
			}
			for n, s := range builtinSrc {
				if _, ok := src[n]; !ok {
					src[n] = s
				}
			}
			set, err := build(src, files)
			if err != nil {
				errs = append(errs, err)
			} else {
				for _, n := range Names() {
					_, own := overrides[n]
					_, layout := overrides[Layout]
					if n != Layout && (own || layout) {
						p.override[n] = set[n]
					}
				}
				errs = append(errs, p.execSamples(p.override, files)...)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// The built-in templates must execute too; a failure here is a bug.
	if err := p.execSamples(p.builtin, nil); err != nil {
		return nil, fmt.Errorf("pages: built-in templates: %w", errors.Join(err...))
	}
	return p, nil
}

func brandOf(o Options) (Brand, error) {
	b := Brand{ProductName: o.ProductName, Accent: defaultAccent, AccentDark: defaultAccentDark, Links: slices.Clone(o.Links)}
	if strings.TrimSpace(b.ProductName) == "" {
		b.ProductName = defaultProduct
	}
	var errs []error
	for key, c := range map[string]*template.CSS{"pages.colors.accent": &b.Accent, "pages.colors.accent_dark": &b.AccentDark} {
		v := o.Accent
		if key == "pages.colors.accent_dark" {
			v = o.AccentDark
			if v == "" {
				v = o.Accent // one accent for both schemes when only one is given
				if v == "" {
					v = defaultAccentDark
				}
			}
		}
		if v == "" {
			continue
		}
		if !hexColor.MatchString(v) {
			errs = append(errs, fmt.Errorf("%s: must be a colour as #rgb or #rrggbb, not %q", key, v))
			continue
		}
		*c = template.CSS(v) // checked: a hex colour cannot leave the declaration
	}
	if o.LogoFile != "" {
		uri, err := logoURI(o.LogoFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("pages.logo_file: %w", err))
		}
		b.Logo = uri
	}
	return b, errors.Join(errs...)
}

// logoURI reads an image file into a data: URI.
func logoURI(path string) (template.URL, error) {
	data, err := limitedfile.Read(path, MaxLogoSize)
	if err != nil {
		return "", err
	}
	mime := http.DetectContentType(data)
	switch {
	case mime == "image/png", mime == "image/jpeg", mime == "image/gif", mime == "image/webp":
	case strings.EqualFold(filepath.Ext(path), ".svg") && bytes.Contains(data, []byte("<svg")):
		// An SVG in an <img> runs no script and loads nothing (and the
		// pages' CSP allows images from data: only).
		mime = "image/svg+xml"
	default:
		return "", fmt.Errorf("%s: not a PNG, JPEG, GIF, WebP or SVG image (looks like %s)", path, mime)
	}
	return template.URL("data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(data)), nil
}

type overrideFile struct{ path, src string }

func readOverrides(dir string) (map[Name]overrideFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("pages.templates_dir: %w", err)
	}
	known := Names()
	out := map[Name]overrideFile{}
	var errs []error
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".html") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		n := Name(strings.TrimSuffix(e.Name(), ".html"))
		if !slices.Contains(known, n) {
			errs = append(errs, fmt.Errorf("pages.templates_dir: %s: no page is called %q (the templates are %s)", path, n, nameList()))
			continue
		}
		src, err := limitedfile.Read(path, maxTemplateSize)
		if err != nil {
			errs = append(errs, fmt.Errorf("pages.templates_dir: %w", err))
			continue
		}
		out[n] = overrideFile{path: path, src: string(src)}
	}
	return out, errors.Join(errs...)
}

func nameList() string {
	var s []string
	for _, n := range Names() {
		s = append(s, string(n)+".html")
	}
	return strings.Join(s, ", ")
}

// build parses one template set per page: the layout and the page. files
// names the override files, for errors.
func build(src map[Name]string, files map[Name]string) (map[Name]*template.Template, error) {
	where := func(n Name) string {
		if f, ok := files[n]; ok {
			return "pages.templates_dir: " + f + ": "
		}
		return "built-in " + string(n) + ".html: "
	}
	out := map[Name]*template.Template{}
	var errs []error
	for _, n := range Names() {
		if n == Layout {
			continue
		}
		t := template.New(string(n)).Option("missingkey=error")
		if _, err := t.New(string(Layout) + ".html").Parse(src[Layout]); err != nil {
			errs = append(errs, fmt.Errorf("%s%w", where(Layout), err))
			continue
		}
		if _, err := t.New(string(n) + ".html").Parse(src[n]); err != nil {
			errs = append(errs, fmt.Errorf("%s%w", where(n), err))
			continue
		}
		out[n] = t
	}
	return out, errors.Join(errs...)
}

// execSamples executes every page of set against the sample data of each
// of its variants; files names the override files, for errors.
func (p *Pages) execSamples(set map[Name]*template.Template, files map[Name]string) []error {
	var errs []error
	failed := map[Name]bool{} // the first failing variant of a page says enough
	for _, s := range samples() {
		t, ok := set[s.name]
		if !ok || failed[s.name] {
			continue
		}
		if _, err := p.exec(t, s.status, s.data); err != nil {
			file := "built-in " + string(s.name) + ".html"
			if f, ok := files[s.name]; ok {
				file = "pages.templates_dir: " + f
			} else if f, ok := files[Layout]; ok {
				file = "pages.templates_dir: " + f
			}
			errs = append(errs, fmt.Errorf("%s: page %s (%s): %w", file, s.name, s.variant, err))
			failed[s.name] = true
		}
	}
	return errs
}

func (p *Pages) exec(t *template.Template, status int, data any) ([]byte, error) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", view{Brand: p.brand, Status: status, Page: data}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// render executes page n: the override when there is one, else (or when
// the override fails on this data) the built-in template.
func (p *Pages) render(n Name, status int, data any) []byte {
	if t, ok := p.override[n]; ok {
		out, err := p.exec(t, status, data)
		if err == nil {
			return out
		}
		p.log.Error("page template override failed; serving the built-in page", slog.String("page", string(n)), slog.String("error", err.Error()))
	}
	out, err := p.exec(p.builtin[n], status, data)
	if err != nil {
		// New executed every built-in page with every variant of its data.
		p.log.Error("built-in page failed", slog.String("page", string(n)), slog.String("error", err.Error()))
		return []byte("<!doctype html><html lang=\"en\"><title>Error</title><p>" + http.StatusText(status) + "</p></html>\n")
	}
	return out
}

// Brand returns the branding the pages are rendered with.
func (p *Pages) Brand() Brand { return p.brand }

// builtinPages is the built-in design, built once on first use and never
// changed after.
var builtinPages = sync.OnceValue(func() *Pages {
	p, err := New(Options{})
	if err != nil {
		// The built-in templates are tested (TestEveryPageRendersEscaped).
		panic("pages: built-in templates: " + err.Error())
	}
	return p
})

// Builtin returns the pages with the built-in design and no
// customization, for callers that were given none.
func Builtin() *Pages { return builtinPages() }
