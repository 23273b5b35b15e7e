package main

import (
	"log/slog"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/pages"
)

// newPages builds the designed pages from the pages section: it reads the
// logo and every template override and executes each page, so a broken
// override stops startup with the file and the template named.
func newPages(cfg *config.Config, logger *slog.Logger) (*pages.Pages, error) {
	p := cfg.Pages
	links := make([]pages.Link, 0, len(p.FooterLinks))
	for _, l := range p.FooterLinks {
		links = append(links, pages.Link{Text: l.Text, URL: l.URL})
	}
	return pages.New(pages.Options{
		ProductName:  p.ProductName,
		LogoFile:     p.LogoFile,
		Accent:       p.Colors.Accent,
		AccentDark:   p.Colors.AccentDark,
		Links:        links,
		TemplatesDir: p.TemplatesDir,
		Logger:       logger,
	})
}
