package metrics

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The label sets remembered per request count into the same series as the vectors.
func TestCountsByLabels(t *testing.T) {
	m := New()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				m.Request("auth", "", 202, time.Second/2) // sums exactly in binary
				m.Request("auth", "docs", 401, time.Second/2)
				m.Decision("authenticated")
				m.CacheLookup("hit")
			}
		})
	}
	wg.Wait()
	m.Request("protected", "", 502, time.Second)
	for _, c := range []struct {
		got  float64
		want float64
		what string
	}{
		{testutil.ToFloat64(m.requests.WithLabelValues("auth", "", "202")), 800, "auth 202"},
		{testutil.ToFloat64(m.requests.WithLabelValues("auth", "docs", "401")), 800, "auth 401"},
		{testutil.ToFloat64(m.requests.WithLabelValues("protected", "", "502")), 1, "protected 502"},
		{testutil.ToFloat64(m.decisions.WithLabelValues("authenticated")), 800, "decisions"},
		{testutil.ToFloat64(m.cache.WithLabelValues("hit")), 800, "cache hits"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
	want := `
# HELP hubgate_request_duration_seconds Time to serve a request, by route class.
# TYPE hubgate_request_duration_seconds histogram
`
	if err := testutil.CollectAndCompare(m.duration, strings.NewReader(want+histogram()), "hubgate_request_duration_seconds"); err != nil {
		t.Error(err)
	}
}

func histogram() string {
	return `hubgate_request_duration_seconds_bucket{route="auth",le="0.0005"} 0
hubgate_request_duration_seconds_bucket{route="auth",le="0.001"} 0
hubgate_request_duration_seconds_bucket{route="auth",le="0.0025"} 0
hubgate_request_duration_seconds_bucket{route="auth",le="0.005"} 0
hubgate_request_duration_seconds_bucket{route="auth",le="0.01"} 0
hubgate_request_duration_seconds_bucket{route="auth",le="0.025"} 0
hubgate_request_duration_seconds_bucket{route="auth",le="0.05"} 0
hubgate_request_duration_seconds_bucket{route="auth",le="0.1"} 0
hubgate_request_duration_seconds_bucket{route="auth",le="0.25"} 0
hubgate_request_duration_seconds_bucket{route="auth",le="0.5"} 1600
hubgate_request_duration_seconds_bucket{route="auth",le="1"} 1600
hubgate_request_duration_seconds_bucket{route="auth",le="2.5"} 1600
hubgate_request_duration_seconds_bucket{route="auth",le="10"} 1600
hubgate_request_duration_seconds_bucket{route="auth",le="+Inf"} 1600
hubgate_request_duration_seconds_sum{route="auth"} 800
hubgate_request_duration_seconds_count{route="auth"} 1600
hubgate_request_duration_seconds_bucket{route="protected",le="0.0005"} 0
hubgate_request_duration_seconds_bucket{route="protected",le="0.001"} 0
hubgate_request_duration_seconds_bucket{route="protected",le="0.0025"} 0
hubgate_request_duration_seconds_bucket{route="protected",le="0.005"} 0
hubgate_request_duration_seconds_bucket{route="protected",le="0.01"} 0
hubgate_request_duration_seconds_bucket{route="protected",le="0.025"} 0
hubgate_request_duration_seconds_bucket{route="protected",le="0.05"} 0
hubgate_request_duration_seconds_bucket{route="protected",le="0.1"} 0
hubgate_request_duration_seconds_bucket{route="protected",le="0.25"} 0
hubgate_request_duration_seconds_bucket{route="protected",le="0.5"} 0
hubgate_request_duration_seconds_bucket{route="protected",le="1"} 1
hubgate_request_duration_seconds_bucket{route="protected",le="2.5"} 1
hubgate_request_duration_seconds_bucket{route="protected",le="10"} 1
hubgate_request_duration_seconds_bucket{route="protected",le="+Inf"} 1
hubgate_request_duration_seconds_sum{route="protected"} 1
hubgate_request_duration_seconds_count{route="protected"} 1
`
}

func TestNilCountsNothing(t *testing.T) {
	var m *Metrics
	m.Request("auth", "", 200, time.Millisecond)
	m.Decision("authenticated")
	m.CacheLookup("hit")
}
