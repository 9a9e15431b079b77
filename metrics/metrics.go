// Package metrics counts what hubgate does, for Prometheus: requests by route class,
// auth decisions, the identity cache, provider calls and the upstream's latency.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds hubgate's collectors in a registry of its own. A nil *Metrics counts
// nothing, so tests and callers need no special case.
type Metrics struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	decisions *prometheus.CounterVec
	cache     *prometheus.CounterVec
	evictions prometheus.Counter
	provider  *prometheus.HistogramVec
	upstream  *prometheus.HistogramVec

	// The label sets a request touches, looked up once: WithLabelValues hashes its
	// labels on every call (and the status code needs formatting), which costs a
	// cached /auth decision as much as its cache lookup.
	requestCounters children[requestKey, prometheus.Counter]
	durations       children[string, prometheus.Observer]
	decisionCounter children[string, prometheus.Counter]
	cacheCounters   children[string, prometheus.Counter]
}

type requestKey struct {
	route, name string
	code        int
}

// children remembers a vector's child per label set. Typed keys, not a sync.Map's
// any: a key converted to an interface would be an allocation per request.
type children[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
}

func (c *children[K, V]) get(key K, newChild func(K) V) V {
	c.mu.RLock()
	v, ok := c.m[key]
	c.mu.RUnlock()
	if ok {
		return v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.m[key]; ok {
		return v
	}
	if c.m == nil {
		c.m = map[K]V{}
	}
	v = newChild(key)
	c.m[key] = v
	return v
}

// New registers hubgate's metrics and the Go runtime's.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hubgate_requests_total", Help: "Requests served, by route class, the app's route name and status code.",
		}, []string{"route", "route_name", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hubgate_request_duration_seconds", Help: "Time to serve a request, by route class.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hubgate_auth_decisions_total", Help: "Authentication decisions: authenticated, unauthenticated, forbidden, provider_down, store_down.",
		}, []string{"result"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hubgate_cache_lookups_total", Help: "Identity cache lookups: hit, miss or stale (served past its TTL while the provider was down).",
		}, []string{"result"}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hubgate_cache_evictions_total", Help: "Identities dropped from the cache, by expiry or for room.",
		}),
		provider: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hubgate_provider_request_duration_seconds", Help: "Calls to the identity provider, by operation and result (ok, invalid, error).",
			Buckets: prometheus.DefBuckets,
		}, []string{"op", "result"}),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hubgate_upstream_response_seconds", Help: "Time until the upstream's response headers, by status code class (2xx, 5xx, error).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10, 30},
		}, []string{"code"}),
	}
	m.registry.MustRegister(m.requests, m.duration, m.decisions, m.cache, m.evictions, m.provider, m.upstream,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Request counts one served request.
func (m *Metrics) Request(route, name string, code int, d time.Duration) {
	if m == nil {
		return
	}
	m.requestCounters.get(requestKey{route, name, code}, m.newRequestCounter).Inc()
	m.durations.get(route, m.newDuration).Observe(d.Seconds())
}

func (m *Metrics) newRequestCounter(k requestKey) prometheus.Counter {
	return m.requests.WithLabelValues(k.route, k.name, strconv.Itoa(k.code))
}
func (m *Metrics) newDuration(route string) prometheus.Observer {
	return m.duration.WithLabelValues(route)
}
func (m *Metrics) newDecision(result string) prometheus.Counter {
	return m.decisions.WithLabelValues(result)
}
func (m *Metrics) newCacheCounter(result string) prometheus.Counter {
	return m.cache.WithLabelValues(result)
}

// Decision counts one authentication decision.
func (m *Metrics) Decision(result string) {
	if m == nil {
		return
	}
	m.decisionCounter.get(result, m.newDecision).Inc()
}

// CacheLookup counts one identity cache lookup: "hit", "miss" or "stale".
func (m *Metrics) CacheLookup(result string) {
	if m == nil {
		return
	}
	m.cacheCounters.get(result, m.newCacheCounter).Inc()
}

// Eviction counts one identity leaving the cache.
func (m *Metrics) Eviction() {
	if m == nil {
		return
	}
	m.evictions.Inc()
}

// ProviderCall times one call to the identity provider.
func (m *Metrics) ProviderCall(op, result string, d time.Duration) {
	if m == nil {
		return
	}
	m.provider.WithLabelValues(op, result).Observe(d.Seconds())
}

// Upstream times one upstream round trip; code 0 means it failed.
func (m *Metrics) Upstream(code int, d time.Duration) {
	if m == nil {
		return
	}
	class := "error"
	if code > 0 {
		class = strconv.Itoa(code/100) + "xx"
	}
	m.upstream.WithLabelValues(class).Observe(d.Seconds())
}
