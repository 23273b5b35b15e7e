package metrics

import (
	"strconv"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse/gatehouse/internal/authz"
)

// TestChildrenCountInTheVector: observations through the cached children
// land in the vector's series, concurrently, and past the cache's bound too.
func TestChildrenCountInTheVector(t *testing.T) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "x"}, []string{"k"})
	made := 0
	c := newChildren(func(k string) prometheus.Counter { made++; return vec.WithLabelValues(k) })
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				c.get("a").Inc()
			}
		})
	}
	wg.Wait()
	if got := testutil.ToFloat64(vec.WithLabelValues("a")); got != 800 {
		t.Errorf("a = %v, want 800", got)
	}
	if made != 1 {
		t.Errorf("the child was resolved %d times, want once", made)
	}
	for i := range maxChildren + 10 {
		c.get(strconv.Itoa(i)).Inc()
	}
	c.get(strconv.Itoa(maxChildren + 5)).Inc()
	if got := testutil.ToFloat64(vec.WithLabelValues(strconv.Itoa(maxChildren + 5))); got != 2 {
		t.Errorf("a key past the bound counted %v, want 2", got)
	}
	if n := len(*c.m.Load()); n != maxChildren {
		t.Errorf("cache holds %d children, want the bound %d", n, maxChildren)
	}
}

func TestObserveDecisionLabels(t *testing.T) {
	m := New()
	d := authz.Decision{Outcome: authz.Allow, Reason: authz.ReasonAllowed}
	m.ObserveDecision("forward_auth", d, 0)
	m.ObserveDecision("forward_auth", d, 0)
	m.ObserveDecision("ext_authz", authz.Decision{Outcome: authz.Forbidden, Reason: authz.ReasonNotAllowed}, 0)
	if got := testutil.ToFloat64(m.decisions.WithLabelValues("forward_auth", "allow", string(authz.ReasonAllowed))); got != 2 {
		t.Errorf("forward_auth allow = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.decisions.WithLabelValues("ext_authz", authz.Forbidden.String(), string(authz.ReasonNotAllowed))); got != 1 {
		t.Errorf("ext_authz forbidden = %v, want 1", got)
	}
}
