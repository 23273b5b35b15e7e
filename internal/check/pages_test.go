package check

import (
	"context"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/pages"
	"github.com/gatehouse/gatehouse/internal/render"
)

// TestRendererOption: the Renderer given in Options says the refusals, so
// the customized pages reach every adapter; the forbidden page names the
// session's email.
func TestRendererOption(t *testing.T) {
	pg, err := pages.New(pages.Options{ProductName: "Acme SSO"})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, policy())
	e.c.render = render.New(pg)
	// alice lacks the team claim the deploy host requires.
	v := e.c.Check(context.Background(), browser("deploy.example.com", "/"), Credentials{Cookie: e.cookie})
	if v.Outcome != authz.Forbidden || v.Reply.Status != 403 {
		t.Fatalf("got %v %d", v.Outcome, v.Reply.Status)
	}
	for _, want := range []string{"· Acme SSO</title>", `<span class="account">alice@example.com</span>`} {
		if !strings.Contains(v.Reply.Body, want) {
			t.Errorf("missing %q in\n%s", want, v.Reply.Body)
		}
	}
	if New(e.store, e.codec, e.c.cookies, policy(), Options{Renderer: render.New(pg)}).render == nil {
		t.Error("Options.Renderer not kept")
	}
}
