// Package metrics defines gatehouse's Prometheus metrics on a registry of its
// own (no global state) and the small hooks other packages report through.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse/gatehouse/internal/authz"
)

// Metrics holds every collector gatehouse exports.
type Metrics struct {
	reg           *prometheus.Registry
	decisions     *prometheus.CounterVec
	checkDuration *prometheus.HistogramVec
	logins        *prometheus.CounterVec
	logouts       *prometheus.CounterVec
	refreshes     *prometheus.CounterVec
	storeDuration *prometheus.HistogramVec
	storeErrors   *prometheus.CounterVec
	cache         *prometheus.CounterVec
	revocations   prometheus.Counter
	policyReloads *prometheus.CounterVec

	// The request path's children of the vectors above, resolved once.
	decisionChild *children[decisionKey, prometheus.Counter]
	checkChild    *children[string, prometheus.Observer]
	storeChild    *children[string, prometheus.Observer]
	cacheHit      prometheus.Counter
	cacheMiss     prometheus.Counter
}

// decisionKey is the label values of gatehouse_decisions_total.
type decisionKey struct {
	adapter string
	outcome authz.Outcome
	reason  authz.Reason
}

// New returns the metrics on a fresh registry, with the Go runtime and
// process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_decisions_total",
			Help: "Access decisions, by adapter (forward_auth, auth_request, ext_authz, spoe, and denied_page for the shipped nginx config's second look at a refusal), outcome and reason code.",
		}, []string{"adapter", "outcome", "reason"}),
		checkDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_check_duration_seconds",
			Help:    "Time to decide one check, session lookup included, by adapter.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"adapter"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_logins_total",
			Help: "Completed login callbacks, by result (success, failure).",
		}, []string{"result"}),
		logouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_logouts_total",
			Help: "Sign-outs, by kind (local, backchannel).",
		}, []string{"kind"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_token_refreshes_total",
			Help: "Provider token refreshes, by result (success, failure).",
		}, []string{"result"}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_session_store_duration_seconds",
			Help:    "Latency of session store operations, by operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"op"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_session_store_errors_total",
			Help: "Session store operations that failed (not counting sessions not found), by operation.",
		}, []string{"op"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_session_cache_requests_total",
			Help: "Local session cache lookups, by result (hit, miss).",
		}, []string{"result"}),
		revocations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_revocation_messages_total",
			Help: "Revocation messages received from other replicas.",
		}),
		policyReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_policy_reloads_total",
			Help: "Policy reloads, by result (success, failure).",
		}, []string{"result"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.decisions, m.checkDuration, m.logins, m.logouts, m.refreshes,
		m.storeDuration, m.storeErrors, m.cache, m.revocations, m.policyReloads,
	)
	m.cacheHit, m.cacheMiss = m.cache.WithLabelValues("hit"), m.cache.WithLabelValues("miss")
	m.decisionChild = newChildren(func(k decisionKey) prometheus.Counter {
		return m.decisions.WithLabelValues(k.adapter, k.outcome.String(), string(k.reason))
	})
	m.checkChild = newChildren(func(adapter string) prometheus.Observer { return m.checkDuration.WithLabelValues(adapter) })
	m.storeChild = newChildren(func(op string) prometheus.Observer { return m.storeDuration.WithLabelValues(op) })
	for _, r := range []string{"success", "failure"} {
		m.logins.WithLabelValues(r)
		m.refreshes.WithLabelValues(r)
		m.policyReloads.WithLabelValues(r)
	}
	return m
}

// Registry returns the registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveDecision records one check answered by adapter.
func (m *Metrics) ObserveDecision(adapter string, d authz.Decision, took time.Duration) {
	m.decisionChild.get(decisionKey{adapter, d.Outcome, d.Reason}).Inc()
	m.checkChild.get(adapter).Observe(took.Seconds())
}

// Login records a finished login callback.
func (m *Metrics) Login(ok bool) { m.logins.WithLabelValues(result(ok)).Inc() }

// Logout records a sign-out of kind "local" or "backchannel".
func (m *Metrics) Logout(kind string) { m.logouts.WithLabelValues(kind).Inc() }

// Refresh records a token refresh.
func (m *Metrics) Refresh(ok bool) { m.refreshes.WithLabelValues(result(ok)).Inc() }

// CacheLookup records a local session cache hit or miss.
func (m *Metrics) CacheLookup(hit bool) {
	if hit {
		m.cacheHit.Inc()
	} else {
		m.cacheMiss.Inc()
	}
}

// RevocationMessage records a revocation received from another replica.
func (m *Metrics) RevocationMessage() { m.revocations.Inc() }

// PolicyReload records a policy reload.
func (m *Metrics) PolicyReload(ok bool) { m.policyReloads.WithLabelValues(result(ok)).Inc() }

// StoreOp records one session store operation.
func (m *Metrics) StoreOp(op string, took time.Duration, failed bool) {
	m.storeChild.get(op).Observe(took.Seconds())
	if failed {
		m.storeErrors.WithLabelValues(op).Inc()
	}
}

func result(ok bool) string {
	if ok {
		return "success"
	}
	return "failure"
}
