package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/hubgate/hubgate/metrics"
	"github.com/hubgate/hubgate/provider"
	"github.com/hubgate/hubgate/proxy"
	"github.com/hubgate/hubgate/session"
	"github.com/hubgate/hubgate/trust"
	"github.com/hubgate/hubgate/upstream"
)

// The bench program runs its parts as separate processes (itself, with -role), so
// each one's CPU time and memory can be read from /proc and none of them shares a Go
// runtime with the load generator.

// upstreamBody is the tiny upstream's answer.
var upstreamBody = []byte("hello from the upstream\n")

// runUpstream serves a short body on every path.
func runUpstream(addr string) error {
	return serveUntilSignal(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(upstreamBody)
	}))
}

// runBareProxy is the reference hop: an httputil.ReverseProxy and nothing else, with
// a transport keeping 256 idle connections per host (as hubgate's does).
func runBareProxy(addr, target string, pool bool) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	rp := &httputil.ReverseProxy{
		Transport: t,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
		},
	}
	if pool {
		// The informational variant: the same with a buffer pool, as hubgate's has,
		// so the ratio to it shows hubgate's own cost.
		rp.BufferPool = &bytesPool{}
	}
	return serveUntilSignal(addr, rp)
}

type bytesPool struct{ p sync.Pool }

func (b *bytesPool) Get() []byte {
	if v, ok := b.p.Get().(*[32 << 10]byte); ok {
		return v[:]
	}
	return make([]byte, 32<<10)
}

func (b *bytesPool) Put(buf []byte) {
	if cap(buf) == 32<<10 {
		b.p.Put((*[32 << 10]byte)(buf[:32<<10]))
	}
}

func serveUntilSignal(addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// inProcessOptions configure the profiling variant of hubgate.
type inProcessOptions struct {
	addr, upstream, hub, secret string
	cpuProfile, heapProfile     string
}

// runInProcess serves proxy.Server wired as main.go's serve wires it (JupyterHub
// provider, metrics, the info-level JSON access log on stderr), with a CPU profile
// from start to SIGTERM and a heap profile at the end. hubgate has no pprof endpoint;
// this is how its serving path is profiled under real load.
func runInProcess(o inProcessOptions) error {
	log, err := func() (*zap.Logger, error) {
		cfg := zap.NewProductionConfig()
		cfg.Sampling = nil
		cfg.DisableStacktrace = true
		return cfg.Build()
	}()
	if err != nil {
		return err
	}
	m := metrics.New()
	idp := provider.Provider(provider.Instrumented{Observe: m.ProviderCall, Provider: provider.NewJupyterHub(provider.JupyterHubOptions{
		HubURL: o.hub, APIURL: o.hub + "/hub/api", ClientID: "service-bench", ClientSecret: "bench-client-secret",
		RedirectURL: "http://" + o.addr + "/oauth2/callback", Timeout: 10 * time.Second,
	})})
	sessions, err := session.NewStore(session.Options{Name: "_hubgate", Path: "/", Secrets: []string{o.secret}, Expire: 168 * time.Hour})
	if err != nil {
		return err
	}
	forward, err := upstream.New(upstream.Options{
		Target: o.upstream, Timeout: time.Minute, PassHostHeader: true, OwnCookie: sessions.Owns,
		Observe: m.Upstream, ErrorHandler: proxy.UpstreamError(log),
	})
	if err != nil {
		return err
	}
	handler := proxy.New(proxy.Options{
		Logger:   log,
		Provider: idp,
		Cache: provider.NewCacheWith(idp, provider.CacheOptions{Size: 10000, TTL: 300 * time.Second, Timeout: 10 * time.Second,
			MaxInFlight: 64, Observe: m.CacheLookup, OnEvict: m.Eviction}),
		Refresher:      provider.NewRefresher(idp, 10*time.Second),
		Sessions:       sessions,
		Upstream:       forward,
		Access:         proxy.Access{RequiredScopes: []string{requiredScope}},
		ServicePrefix:  "/",
		Prefix:         "/oauth2",
		RedirectURL:    "http://" + o.addr + "/oauth2/callback",
		HubURL:         o.hub,
		LoginService:   "JupyterHub",
		SkipSignInPage: true,
		AuthMode:       "request",
		Trust:          trust.Policy{Proxies: trust.Loopback()},
		CrossOrigin:    http.NewCrossOriginProtection(), // on by default, as in main
		Metrics:        m,
	})
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	server := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); server.Close() }()
	if err := server.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	if o.heapProfile != "" {
		f, err := os.Create(o.heapProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return fmt.Errorf("heap profile: %w", err)
		}
	}
	return nil
}
