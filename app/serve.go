package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/hubgate/hubgate/memlimit"
)

// Listen opens host:port, or unix:/path (replacing a socket left by a previous run).
func Listen(addr string) (net.Listener, error) {
	path, ok := strings.CutPrefix(addr, "unix:")
	if !ok {
		return net.Listen("tcp", addr)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	// Reachable by the owner and its group (a web server in front), not everyone.
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// Serve answers on ln (over TLS with tls_cert_file) and on metrics_listen until ctx
// is done, then stops taking connections and gives the requests in flight 30 s.
// It also keeps Go's soft memory limit near the live heap unless GOMEMLIMIT is set,
// which is process-wide: one Serve per process.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	server := &http.Server{
		// No ReadTimeout: it bounds a whole request, uploads too. A body is bounded
		// per pause instead (BodyIdleHandler).
		Handler:           a.handler,
		ReadHeaderTimeout: a.cfg.HeaderTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(a.log.Named("http")),
		TLSConfig:         a.tls,
	}
	if !memlimit.UserSet() {
		go memlimit.Run(ctx, memlimit.Options{})
	}
	errc := make(chan error, 2)
	if a.cfg.MetricsListen != "" {
		stop, err := a.serveMetrics(errc)
		if err != nil {
			ln.Close()
			return err
		}
		defer stop()
	}
	go func() {
		if server.TLSConfig != nil {
			errc <- server.ServeTLS(ln, "", "")
		} else {
			errc <- server.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		server.Close()
		return err
	case <-ctx.Done():
	}
	a.log.Info("shutting down: finishing requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// serveMetrics serves /metrics on metrics_listen, sending its end to errc.
func (a *App) serveMetrics(errc chan<- error) (stop func() error, err error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", a.metrics.Handler())
	srv := &http.Server{Addr: a.cfg.MetricsListen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", a.cfg.MetricsListen)
	if err != nil {
		return nil, fmt.Errorf("metrics_listen: %w", err)
	}
	go func() { errc <- srv.Serve(ln) }()
	a.log.Info("metrics at /metrics", zap.String("listen", ln.Addr().String()))
	return srv.Close, nil
}
