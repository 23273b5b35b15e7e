package config

import (
	"os"
	"strings"
	"testing"
)

// TestPagesKeys: the pages section decodes, and each bad value is reported
// under its own path.
func TestPagesKeys(t *testing.T) {
	valid, err := os.ReadFile("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	good := string(valid) + `
pages:
  product_name: Acme SSO
  provider_name: Acme ID
  logo_file: logo.svg
  colors: {accent: "#0a7", accent_dark: "#33ddaa"}
  footer_links:
    - {text: Help, url: "https://help.acme.test/sso"}
    - {text: Status, url: /status}
    - {text: Mail us, url: "mailto:it@acme.test"}
  templates_dir: pages
`
	c, err := Load(writeFile(t, good), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Pages.ProductName != "Acme SSO" || c.Pages.ProviderName != "Acme ID" || c.Pages.Colors.AccentDark != "#33ddaa" || len(c.Pages.FooterLinks) != 3 || c.Pages.FooterLinks[1].URL != "/status" {
		t.Errorf("pages = %+v", c.Pages)
	}

	bad := string(valid) + `
pages:
  product_name: "` + strings.Repeat("x", 81) + `"
  provider_name: "a\tb"
  colors: {accent: "red; background: url(x)", accent_dark: "#12345"}
  footer_links:
    - {text: "", url: "javascript:alert(1)"}
    - {text: Other, url: "//evil.test/"}
`
	_, err = Load(writeFile(t, bad), env(nil))
	if err == nil {
		t.Fatal("bad pages section accepted")
	}
	for _, want := range []string{
		"pages.product_name: must be at most 80 characters",
		"pages.provider_name: must be at most 80 characters, without control characters",
		`pages.colors.accent: must be a colour as #rgb or #rrggbb, not "red; background: url(x)"`,
		`pages.colors.accent_dark: must be a colour as #rgb or #rrggbb, not "#12345"`,
		"pages.footer_links[0].text: required",
		`pages.footer_links[0].url: must be an absolute http(s) or mailto: URL, or a path starting with /, not "javascript:alert(1)"`,
		`pages.footer_links[1].url: must be an absolute http(s) or mailto: URL, or a path starting with /, not "//evil.test/"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}
