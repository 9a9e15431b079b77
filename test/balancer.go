//go:build integration

package integration

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// replicaHeader pins one request to a replica of a Balancer: its value is the
// replica's index. The balancer removes it before passing the request on.
const replicaHeader = "X-Test-Replica"

// Balancer is a round-robin HTTP load balancer on 127.0.0.1 in front of
// hubgate replicas, like nginx's default upstream balancing: one
// httputil.ReverseProxy per backend, the client's Host kept and
// X-Forwarded-For/Host/Proto set. It records which replica served what, so
// a test can tell that a login's callback really landed on another replica
// than its start.
//
// A request goes to the replica named by its X-Test-Replica header if it has
// one, else to the one the route function (see Route) picks, else to the
// next one in turn.
type Balancer struct {
	// URL is the browser-facing base URL, http://127.0.0.1:PORT; Addr is its
	// host:port. It listens from StartBalancer on, so it can be registered
	// as the OAuth redirect URL before the replicas exist.
	URL, Addr string

	t         testing.TB
	transport *http.Transport

	mu       sync.Mutex
	backends []*httputil.ReverseProxy
	names    []string // backend base URLs
	next     int
	route    func(*http.Request) int
	served   []Served
}

// Served is one request the balancer passed on.
type Served struct {
	Replica      int
	Method, Path string
	Status       int // 502 if the replica did not answer
}

func (s Served) String() string {
	return fmt.Sprintf("replica %d: %s %s -> %d", s.Replica, s.Method, s.Path, s.Status)
}

// StartBalancer listens on a free loopback port; SetBackends gives it its
// replicas. It stops with the test.
func StartBalancer(t testing.TB) *Balancer {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
	if err != nil {
		t.Fatalf("balancer: listen: %v", err)
	}
	b := &Balancer{
		Addr: ln.Addr().String(),
		t:    t,
		transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        512,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     30 * time.Second,
		},
	}
	b.URL = "http://" + b.Addr
	srv := &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		b.transport.CloseIdleConnections()
	})
	return b
}

// SetBackends sets the replicas (base URLs like http://127.0.0.1:PORT), in
// index order, and restarts the round-robin at replica 0.
func (b *Balancer) SetBackends(urls ...string) {
	b.t.Helper()
	proxies := make([]*httputil.ReverseProxy, len(urls))
	for i, raw := range urls {
		target, err := url.Parse(raw)
		if err != nil {
			b.t.Fatalf("balancer: backend %q: %v", raw, err)
		}
		proxies[i] = b.proxyFor(i, target)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends = proxies
	b.names = urls
	b.next = 0
}

// proxyFor is the reverse proxy to replica i.
func (b *Balancer) proxyFor(i int, target *url.URL) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // like nginx's proxy_set_header Host $host
			pr.SetXForwarded()
		},
		Transport:     b.transport,
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			b.record(Served{Replica: i, Method: resp.Request.Method, Path: resp.Request.URL.Path, Status: resp.StatusCode})
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			b.record(Served{Replica: i, Method: r.Method, Path: r.URL.Path, Status: http.StatusBadGateway})
			b.t.Logf("balancer: replica %d (%s): %s %s: %v", i, target, r.Method, r.URL.Path, err)
			w.WriteHeader(http.StatusBadGateway)
		},
	}
}

// Route sets the function that picks the replica for requests without an
// X-Test-Replica header; nil (the default) is round-robin. For example,
// "callbacks to replica 1, everything else to replica 0".
func (b *Balancer) Route(f func(*http.Request) int) {
	b.mu.Lock()
	b.route = f
	b.mu.Unlock()
}

// ServeHTTP picks a replica and proxies the request to it.
func (b *Balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	pin := r.Header.Get(replicaHeader)
	r.Header.Del(replicaHeader)
	b.mu.Lock()
	n := len(b.backends)
	i := -1
	switch {
	case n == 0:
	case pin != "":
		if p, err := strconv.Atoi(pin); err == nil && p >= 0 && p < n {
			i = p
		}
	case b.route != nil:
		if p := b.route(r); p >= 0 && p < n {
			i = p
		}
	default:
		i = b.next
		b.next = (b.next + 1) % n
	}
	var proxy *httputil.ReverseProxy
	if i >= 0 {
		proxy = b.backends[i]
	}
	b.mu.Unlock()
	if proxy == nil {
		http.Error(w, fmt.Sprintf("balancer: no replica for %s %s (pin %q, %d replicas)", r.Method, r.URL.Path, pin, n),
			http.StatusBadGateway)
		return
	}
	proxy.ServeHTTP(w, r)
}

func (b *Balancer) record(s Served) {
	b.mu.Lock()
	b.served = append(b.served, s)
	b.mu.Unlock()
}

// Mark returns a position in the record of served requests, for Since.
func (b *Balancer) Mark() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.served)
}

// Since returns the requests served after mark (from Mark), in order of
// their responses.
func (b *Balancer) Since(mark int) []Served {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Served(nil), b.served[mark:]...)
}

// PerReplica counts requests by replica.
func PerReplica(served []Served, replicas int) []int {
	counts := make([]int, replicas)
	for _, s := range served {
		if s.Replica >= 0 && s.Replica < replicas {
			counts[s.Replica]++
		}
	}
	return counts
}

// ServedBy lists the replicas that answered METHOD path, in order.
func ServedBy(served []Served, method, path string) []int {
	var out []int
	for _, s := range served {
		if s.Method == method && s.Path == path {
			out = append(out, s.Replica)
		}
	}
	return out
}

// ServedSummary lists requests for failure messages.
func ServedSummary(served []Served) string {
	lines := make([]string, len(served))
	for i, s := range served {
		lines[i] = "  " + s.String()
	}
	return strings.Join(lines, "\n")
}

// pinTo sets the header that sends req to replica i of a Balancer.
func pinTo(req *http.Request, i int) *http.Request {
	req.Header.Set(replicaHeader, strconv.Itoa(i))
	return req
}
