// Command hubgate puts a JupyterHub login in front of any web service.
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/hubgate/hubgate/app"
	"github.com/hubgate/hubgate/config"
	"github.com/hubgate/hubgate/oauth2proxy"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "hubgate:", err)
		os.Exit(1)
	}
}

func newApp() *cli.App {
	appFlags, serveFlags, checkFlags, healthFlags := config.Flags(), config.Flags(), config.Flags(), config.Flags()
	return &cli.App{
		Name:    "hubgate",
		Usage:   "put a JupyterHub login in front of any web service",
		Version: version,
		Flags:   appFlags,
		Before:  config.LoadFile(appFlags),
		Action:  serve,
		Commands: []*cli.Command{
			{Name: "serve", Usage: "run the proxy (the default)", Flags: serveFlags, Before: config.LoadFile(serveFlags), Action: serve},
			{Name: "check-config", Usage: "validate the configuration and exit", Flags: checkFlags, Before: config.LoadFile(checkFlags), Action: checkConfig},
			{Name: "healthcheck", Usage: "probe a running hubgate's /ping; exit 0 if it answers", Flags: healthFlags, Before: config.LoadFile(healthFlags), Action: healthcheck},
			{Name: "secret", Usage: "print a fresh random cookie secret", Action: printSecret},
			{
				Name:            "import-oauth2-proxy",
				Usage:           "print the hubgate YAML for an oauth2-proxy configuration: its flags, --config file and OAUTH2_PROXY_* environment",
				ArgsUsage:       "[--config oauth2-proxy.cfg] [oauth2-proxy flags]",
				SkipFlagParsing: true, // the flags are oauth2-proxy's
				Action:          importOAuth2Proxy,
			},
			{Name: "version", Usage: "print the version", Action: func(*cli.Context) error { fmt.Println(version); return nil }},
		},
	}
}

func environ() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

func checkConfig(c *cli.Context) error {
	cfg, err := config.FromCLI(c, environ())
	if err != nil {
		return err
	}
	mode := "standalone"
	if cfg.Managed {
		mode = "JupyterHub-managed service"
	}
	if len(cfg.Routes) == 0 {
		fmt.Printf("configuration OK (%s): provider %s, listen %s, upstream %s, endpoints under %s\n",
			mode, cfg.Provider, cfg.Listen, cfg.Upstream, cfg.Prefix)
		return nil
	}
	fmt.Printf("configuration OK (%s): provider %s, listen %s, %d routes, endpoints under %s\n",
		mode, cfg.Provider, cfg.Listen, len(cfg.Routes), cfg.Prefix)
	for _, r := range cfg.Routes {
		access := "login"
		if r.Public {
			access = "public"
		}
		fmt.Printf("  route %s: %s%s -> %s (%s)\n", r.Name, r.Host, r.Path, r.Upstream, access)
	}
	return nil
}

// importOAuth2Proxy writes the YAML to stdout and, on stderr, each option it did
// not carry over with the reason.
func importOAuth2Proxy(c *cli.Context) error {
	// The flags are oauth2-proxy's, but --help is still ours.
	if slices.ContainsFunc(c.Args().Slice(), func(a string) bool { return a == "--help" || a == "-help" || a == "-h" }) {
		return cli.ShowSubcommandHelp(c)
	}
	src, err := oauth2proxy.Load(c.Args().Slice(), environ(), os.ReadFile)
	if err != nil {
		return err
	}
	t, err := oauth2proxy.Translate(src, os.ReadFile)
	if err != nil {
		return fmt.Errorf("cannot import this configuration safely:\n%w", err)
	}
	from := "flags and environment"
	if src.File != "" {
		from = src.File + ", " + from
	}
	out, err := t.YAML(from)
	if err != nil {
		return err
	}
	for _, name := range src.Ignored {
		fmt.Fprintf(c.App.ErrWriter, "ignored: %s names no oauth2-proxy option\n", name)
	}
	for _, n := range t.Notes {
		fmt.Fprintln(c.App.ErrWriter, "note: "+n)
	}
	_, err = c.App.Writer.Write(out)
	return err
}

func printSecret(*cli.Context) error {
	b := make([]byte, 32)
	rand.Read(b)
	fmt.Println(base64.RawURLEncoding.EncodeToString(b))
	return nil
}

// healthcheck probes /ping on the configured listen address: a container image has no
// curl, so HEALTHCHECK runs hubgate itself.
func healthcheck(c *cli.Context) error {
	cfg, err := config.Read(c)
	if err != nil {
		return err
	}
	addr := cfg.Listen
	scheme := "http"
	if cfg.TLSCertFile != "" {
		scheme = "https"
	}
	transport := &http.Transport{
		// The probe talks to this very process; the certificate is for its public name.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
	}
	host := addr
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		transport.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}
		host = "hubgate"
	} else if h, port, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(h); h == "" || (ip != nil && ip.IsUnspecified()) {
			host = net.JoinHostPort("127.0.0.1", port)
		}
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: transport}
	resp, err := client.Get(scheme + "://" + host + "/ping")
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: /ping answered HTTP %d", resp.StatusCode)
	}
	return nil
}

// serve runs hubgate until SIGINT or SIGTERM.
func serve(c *cli.Context) error {
	cfg, err := config.FromCLI(c, environ())
	if err != nil {
		return err
	}
	log, stopLog, err := app.NewLogger(cfg)
	if err != nil {
		return err
	}
	defer stopLog()
	a, err := app.New(cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := app.Listen(cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("hubgate started",
		zap.String("version", version),
		zap.String("listen", ln.Addr().String()),
		zap.String("upstream", cfg.Upstream),
		zap.String("provider", cfg.Provider),
		zap.String("prefix", cfg.Prefix),
		zap.Bool("managed", cfg.Managed),
	)
	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return a.Serve(ctx, ln)
}
