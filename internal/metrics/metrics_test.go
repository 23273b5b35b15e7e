package metrics

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/memstore"
)

// samples is how many observations the histogram h holds.
func samples(t *testing.T, h prometheus.Observer) uint64 {
	t.Helper()
	m, ok := h.(prometheus.Metric)
	if !ok {
		t.Fatalf("%T is not a metric", h)
	}
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatal(err)
	}
	return out.GetHistogram().GetSampleCount()
}

// TestEveryMetricMoves: each hook moves its metric, with its labels, and
// no other series of it.
func TestEveryMetricMoves(t *testing.T) {
	m := New()
	m.ObserveDecision("forward_auth", authz.Decision{Outcome: authz.Forbidden, Reason: authz.ReasonNotAllowed}, time.Millisecond)
	if got := testutil.ToFloat64(m.decisions.WithLabelValues("forward_auth", "forbidden", "not_allowed")); got != 1 {
		t.Errorf("decisions{forward_auth,forbidden,not_allowed} = %v, want 1", got)
	}
	if got := samples(t, m.checkDuration.WithLabelValues("forward_auth")); got != 1 {
		t.Errorf("check_duration{forward_auth} holds %d samples, want 1", got)
	}
	for _, c := range []struct {
		name string
		do   func()
		c    prometheus.Collector
		want float64
	}{
		{"login success", func() { m.Login(true) }, m.logins.WithLabelValues("success"), 1},
		{"login failure", func() { m.Login(false); m.Login(false) }, m.logins.WithLabelValues("failure"), 2},
		{"logout local", func() { m.Logout("local") }, m.logouts.WithLabelValues("local"), 1},
		{"logout backchannel", func() { m.Logout("backchannel") }, m.logouts.WithLabelValues("backchannel"), 1},
		{"refresh success", func() { m.Refresh(true) }, m.refreshes.WithLabelValues("success"), 1},
		{"refresh failure", func() { m.Refresh(false) }, m.refreshes.WithLabelValues("failure"), 1},
		{"cache hit", func() { m.CacheLookup(true) }, m.cache.WithLabelValues("hit"), 1},
		{"cache miss", func() { m.CacheLookup(false) }, m.cache.WithLabelValues("miss"), 1},
		{"revocation", m.RevocationMessage, m.revocations, 1},
		{"reload success", func() { m.PolicyReload(true) }, m.policyReloads.WithLabelValues("success"), 1},
		{"reload failure", func() { m.PolicyReload(false) }, m.policyReloads.WithLabelValues("failure"), 1},
	} {
		before := testutil.ToFloat64(c.c)
		c.do()
		if got := testutil.ToFloat64(c.c) - before; got != c.want {
			t.Errorf("%s: moved by %v, want %v", c.name, got, c.want)
		}
	}
	if got := testutil.ToFloat64(m.logins.WithLabelValues("success")); got != 1 {
		t.Errorf("a failed login moved logins{success} to %v", got)
	}
	m.StoreOp("load", time.Millisecond, false)
	m.StoreOp("load", time.Millisecond, true)
	if got := samples(t, m.storeDuration.WithLabelValues("load")); got != 2 {
		t.Errorf("store_duration{load} holds %d samples, want 2", got)
	}
	if got := testutil.ToFloat64(m.storeErrors.WithLabelValues("load")); got != 1 {
		t.Errorf("store_errors{load} = %v, want 1", got)
	}
}

// TestResultSeriesStartAtZero: the result series exist from the start, so
// a rate over them is defined before the first event.
func TestResultSeriesStartAtZero(t *testing.T) {
	m := New()
	want := `
# HELP gatehouse_logins_total Completed login callbacks, by result (success, failure).
# TYPE gatehouse_logins_total counter
gatehouse_logins_total{result="failure"} 0
gatehouse_logins_total{result="success"} 0
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "gatehouse_logins_total"); err != nil {
		t.Error(err)
	}
	for _, name := range []string{"gatehouse_token_refreshes_total", "gatehouse_policy_reloads_total", "gatehouse_session_cache_requests_total"} {
		if n, err := testutil.GatherAndCount(m.Registry(), name); err != nil || n != 2 {
			t.Errorf("%s: %d series (%v), want 2 at zero", name, n, err)
		}
	}
}

// failingStore is a store whose every read fails.
type failingStore struct{ session.ReadManager }

var errDown = errors.New("store down")

func (failingStore) LoadIdentity(context.Context, string) (*session.Session, error) {
	return nil, errDown
}

func (failingStore) LoadWithTokens(context.Context, string) (*session.Session, error) {
	return nil, errDown
}

// TestInstrumentStore: every read, save and delete is timed; a failure is
// counted, a session not found is not.
func TestInstrumentStore(t *testing.T) {
	m := New()
	st := m.InstrumentStore(memstore.New(memstore.Options{}))
	ctx := t.Context()
	now := time.Now()
	s := &session.Session{User: "alice", Subject: "alice", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	id, err := session.NewID()
	if err != nil {
		t.Fatal(err)
	}
	s.ID = id
	if err := st.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, err := st.LoadIdentity(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := st.LoadWithTokens(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := st.LoadIdentity(ctx, id); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("deleted session: %v", err)
	}
	for op, want := range map[string]uint64{"save": 1, "load": 3, "delete": 1} {
		if got := samples(t, m.storeDuration.WithLabelValues(op)); got != want {
			t.Errorf("store_duration{%s} holds %d samples, want %d", op, got, want)
		}
	}
	if n, err := testutil.GatherAndCount(m.Registry(), "gatehouse_session_store_errors_total"); err != nil || n != 0 {
		t.Errorf("store errors counted without a failure: %d series (%v)", n, err)
	}

	failing := m.InstrumentStore(failingStore{memstore.New(memstore.Options{})})
	if _, err := failing.LoadIdentity(ctx, id); !errors.Is(err, errDown) {
		t.Fatal(err)
	}
	if _, err := failing.LoadWithTokens(ctx, id); !errors.Is(err, errDown) {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.storeErrors.WithLabelValues("load")); got != 2 {
		t.Errorf("store_errors{load} = %v after two failed reads, want 2", got)
	}
}

// TestHandlerServesMetrics: /metrics speaks the exposition format and
// carries gatehouse's metrics and the runtime's.
func TestHandlerServesMetrics(t *testing.T) {
	m := New()
	m.Logout("backchannel")
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{`gatehouse_logouts_total{kind="backchannel"} 1`, "go_goroutines", "process_"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestDocumentedMetrics: the metrics section of docs/operations.md names
// exactly the metrics gatehouse exports.
func TestDocumentedMetrics(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## Metrics\n")
	if !ok {
		t.Fatal("docs/operations.md has no ## Metrics section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var documented []string
	for _, n := range regexp.MustCompile(`gatehouse_[a-z_]+`).FindAllString(section, -1) {
		if !slices.Contains(documented, n) {
			documented = append(documented, n)
		}
	}
	slices.Sort(documented)

	m := New()
	m.ObserveDecision("ext_authz", authz.Decision{}, 0) // vectors without preset series
	m.Logout("local")
	m.StoreOp("load", 0, true)
	m.RevocationMessage()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var exported []string
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "gatehouse_") {
			exported = append(exported, f.GetName())
		}
	}
	slices.Sort(exported)
	if !slices.Equal(documented, exported) {
		t.Errorf("documented metrics %q, exported %q", documented, exported)
	}
}
