package main

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oidctest"
	"github.com/gatehouse/gatehouse/internal/spoa"
	"github.com/gatehouse/gatehouse/internal/spop"
	"github.com/gatehouse/gatehouse/internal/spop/spoptest"
)

// TestServeAnswersHAProxy: with spoe.addr set, serve answers HAProxy's
// SPOE filter from the same checker, and a stop says goodbye to HAProxy's
// connections (AGENT-DISCONNECT) before Serve returns.
func TestServeAnswersHAProxy(t *testing.T) {
	prefix := fmt.Sprintf("gatehouse-test:%d:", time.Now().UnixNano())
	requireRedis(t, prefix)
	p := oidctest.Start(t, oidctest.Options{})
	env := baseEnv(t, p, prefix)
	env["GATEHOUSE_COOKIE_SECRETS"] = randomKey(t)
	env["GATEHOUSE_OIDC_REDIRECT_URL"] = "https://app.example.com/oauth2/callback"
	a, _ := appFromEnv(t, env)
	defer a.Close()
	ls := Listeners{HTTP: listenLocal(t), SPOE: listenLocal(t)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ls) }()
	waitReady(t, http.DefaultClient, "http://"+ls.HTTP.Addr().String())

	c, err := spoptest.Dial(ls.SPOE.Addr().String(), spoptest.HelloOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := spop.Message{Name: spoa.MessageName, Args: []spop.KV{
		{Name: spoa.ArgMethod, Value: spop.StringValue("GET")},
		{Name: spoa.ArgHTTPS, Value: spop.BoolValue(true)},
		{Name: spoa.ArgURL, Value: spop.StringValue("/dashboard")},
		{Name: spoa.ArgHeaders, Value: spop.BinaryValue(spoptest.HeadersBin([][2]string{{"host", "app.example.com"}, {"accept", "text/html"}}))},
		{Name: spoa.ArgSource, Value: spop.Value{Kind: spop.KindIPv4, Addr: netip.MustParseAddr("192.0.2.1")}},
	}}
	vars, err := c.Check(1, 1, msg)
	if err != nil {
		t.Fatal(err)
	}
	if vars["status"].Int != 302 || vars["reason"].String() != "no_session" || vars["hdr_location"].String() == "" {
		t.Errorf("variables %+v, want a 302 to the login page", vars)
	}
	// The answer is counted under its own adapter.
	if got := decisions(t, a, "spoe", "unauthenticated", "no_session"); got != 1 {
		t.Errorf("decisions{spoe,unauthenticated,no_session} = %v, want 1", got)
	}

	cancel()
	var gotBye bool
	for {
		f, err := c.Read()
		if err != nil {
			break
		}
		gotBye = gotBye || f.Type == spop.TypeAgentDisconnect
	}
	if !gotBye {
		t.Error("HAProxy's connection closed without AGENT-DISCONNECT")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
}

// decisions returns the value of gatehouse_decisions_total with these
// labels (0 when there is no such series).
func decisions(t *testing.T, a *app, adapter, outcome, reason string) float64 {
	t.Helper()
	mfs, err := a.metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gatehouse_decisions_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["adapter"] == adapter && l["outcome"] == outcome && l["reason"] == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
