package config

import (
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Pages customizes the pages gatehouse shows people (sign-in, signed out,
// forbidden, errors) without a rebuild. Every key is optional; internal/pages
// reads the files named here at startup and refuses to start when a logo or
// a template override is unusable.
type Pages struct {
	// ProductName is shown in titles and headings; default "gatehouse".
	ProductName string `yaml:"product_name"`
	// ProviderName names the provider on the sign-in page ("Continue with
	// Google") and the signed-out page; default the issuer URL's host.
	ProviderName string `yaml:"provider_name"`
	// LogoFile is a PNG, JPEG, GIF, WebP or SVG image of at most 64 KiB,
	// inlined into the pages as a data: URI.
	LogoFile string `yaml:"logo_file" path:"file"`
	// Colors override the accent colours, as #rgb or #rrggbb.
	Colors PageColors `yaml:"colors"`
	// FooterLinks are shown at the foot of every page, in order.
	FooterLinks []FooterLink `yaml:"footer_links"`
	// TemplatesDir holds html/template overrides: a file named like a page
	// (signin.html, signed_out.html, forbidden.html, unavailable.html,
	// error.html, upstream.html, or layout.html for the frame around them)
	// replaces the built-in template of that name.
	TemplatesDir string `yaml:"templates_dir" path:"dir"`
}

// PageColors are the pages' accent colours.
type PageColors struct {
	// Accent colours buttons and links in the light scheme.
	Accent string `yaml:"accent"`
	// AccentDark colours them in the dark scheme; default Accent's built-in
	// dark counterpart.
	AccentDark string `yaml:"accent_dark"`
}

// FooterLink is one link at the foot of every page.
type FooterLink struct {
	Text string `yaml:"text"`
	URL  string `yaml:"url"`
}

var hexColor = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// maxProductName bounds pages.product_name, which is shown in every title.
const maxProductName = 80

// validatePages checks the page customization that can be checked without
// reading files.
func validatePages(errs *Errors, p *Pages) {
	for path, v := range map[string]string{"pages.product_name": p.ProductName, "pages.provider_name": p.ProviderName} {
		if utf8.RuneCountInString(v) > maxProductName || strings.ContainsFunc(v, isControl) {
			errs.add(path, "must be at most %d characters, without control characters", maxProductName)
		}
	}
	for path, c := range map[string]string{"pages.colors.accent": p.Colors.Accent, "pages.colors.accent_dark": p.Colors.AccentDark} {
		if c != "" && !hexColor.MatchString(c) {
			errs.add(path, "must be a colour as #rgb or #rrggbb, not %q", c)
		}
	}
	for i, l := range p.FooterLinks {
		path := indexPath("pages.footer_links", i)
		if strings.TrimSpace(l.Text) == "" {
			errs.add(path+".text", "required")
		}
		if !footerURL(l.URL) {
			errs.add(path+".url", "must be an absolute http(s) or mailto: URL, or a path starting with /, not %q", l.URL)
		}
	}
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// footerURL reports whether raw is a link fit for a footer: an absolute
// http(s) URL, a mailto: address or a host-relative path.
func footerURL(raw string) bool {
	if strings.ContainsFunc(raw, isControl) || strings.Contains(raw, `\`) {
		return false
	}
	if strings.HasPrefix(raw, "/") {
		return !strings.HasPrefix(raw, "//")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "http", "https":
		return u.Host != "" && u.User == nil
	case "mailto":
		return u.Opaque != ""
	}
	return false
}
