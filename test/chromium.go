//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// A real browser for the end-to-end tests: Debian's Chromium, headless,
// driven through the DevTools protocol with chromedp. One browser process
// serves a whole top-level test; every scenario gets its own profile (an
// incognito browser context with its own cookies), so the scenarios cannot
// log each other in or out.

const (
	// chromiumPath is Debian's launcher; it execs /usr/lib/chromium/chromium.
	chromiumPath = "/usr/bin/chromium"
	// chromiumStartTimeout bounds the browser's start.
	chromiumStartTimeout = 60 * time.Second
	// chromiumStepTimeout bounds one browser action (navigate, click, type).
	chromiumStepTimeout = 30 * time.Second
	// chromiumWaitTimeout bounds the wait for an expected page.
	chromiumWaitTimeout = 30 * time.Second
	// chromiumScreenshotDir (relative to test/, git-ignored) receives the
	// screenshots of every scenario and of every failure.
	chromiumScreenshotDir = "output/chromium"
)

// requireChromium fails the test loudly if Chromium is missing.
func requireChromium(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium is required for the browser tests but %s is missing (%v); "+
			"install with: apt-get install -y chromium (or run make test, which installs DEPS_BROWSER)", chromiumPath, err)
	}
}

// Chromium is one running headless browser.
type Chromium struct {
	// prefix names this test's screenshots: PREFIX-NAME.png.
	prefix string
	ctx    context.Context // the browser's first tab; parent of every profile
}

// StartChromium starts a headless Chromium with a fresh user data dir and
// stops it (and every process it started) when the test ends, whatever the
// outcome. Screenshots are named PREFIX-*.png; older ones are removed first.
func StartChromium(t testing.TB, prefix string) *Chromium {
	t.Helper()
	requireChromium(t)
	if err := os.MkdirAll(chromiumScreenshotDir, 0o755); err != nil {
		t.Fatalf("create %s: %v", chromiumScreenshotDir, err)
	}
	old, _ := filepath.Glob(filepath.Join(chromiumScreenshotDir, prefix+"-*.png"))
	for _, f := range old {
		os.Remove(f)
	}

	dataDir := t.TempDir()
	logPath := filepath.Join(t.TempDir(), "chromium.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	c := &Chromium{prefix: prefix}

	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		// Without these it stalls on the closed network.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(dataDir),
		chromedp.WindowSize(1024, 768),
		chromedp.CombinedOutput(logFile),
	)
	// Errors of the DevTools connection go to the same log, never to t
	// (which may have ended when the browser reports something).
	var logMu sync.Mutex
	logf := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(logFile, "chromedp: "+format+"\n", args...)
	}
	browserCtx, browserCancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(logf))
	c.ctx = browserCtx

	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(browserCtx, 10*time.Second)
		err := chromedp.Cancel(cctx) // Browser.close, then wait for the process
		ccancel()
		browserCancel()
		allocCancel() // kills the process if it is still there, and waits
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, chromedp.ErrInvalidContext) {
			t.Logf("chromium: closing the browser: %v", err)
		}
		// Children may take a moment to notice that the browser is gone.
		_ = waitFor(3*time.Second, nil, func() error {
			if left := chromiumLeftovers(dataDir); len(left) > 0 {
				return fmt.Errorf("%d browser processes left", len(left))
			}
			return nil
		})
		for _, p := range chromiumLeftovers(dataDir) {
			comm, _, _, _ := procStat(p)
			_ = syscall.Kill(p, syscall.SIGKILL)
			t.Logf("chromium: killed leftover browser process %d (%s)", p, comm)
		}
		logMu.Lock()
		logFile.Close()
		logMu.Unlock()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("---- chromium log, last 16 KiB ----\n%s\n---- end of chromium log ----", tail(string(b), 16<<10))
		}
	})

	started := make(chan error, 1)
	go func() { started <- chromedp.Do(browserCtx) }()
	select {
	case err := <-started:
		if err != nil {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("Chromium (%s) did not start: %v\n%s", chromiumPath, err, tail(string(b), 8<<10))
		}
	case <-time.After(chromiumStartTimeout):
		browserCancel()
		t.Fatalf("Chromium (%s) did not start within %v", chromiumPath, chromiumStartTimeout)
	}
	return c
}

// chromiumLeftovers lists the live processes whose command line names
// dataDir (--flag=dataDir[/...]), this browser's unique profile dir: the
// launcher execs chromium with --user-data-dir=dataDir, and chromium passes
// it on to every process it forks (zygote, renderers, utilities).
func chromiumLeftovers(dataDir string) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && namesDir(cmdline, dataDir) && alive(p) {
			out = append(out, p)
		}
	}
	return out
}

// namesDir reports whether a command line has an argument --flag=dir or
// --flag=dir/... Chromium's children rewrite theirs into one string with
// spaces between the arguments, so both NULs and spaces separate them here.
func namesDir(cmdline []byte, dir string) bool {
	split := func(r rune) bool { return r == 0 || r == ' ' }
	for _, arg := range strings.FieldsFunc(string(cmdline), split) {
		_, v, ok := strings.Cut(arg, "=")
		if ok && strings.HasPrefix(arg, "--") && (v == dir || strings.HasPrefix(v, dir+"/")) {
			return true
		}
	}
	return false
}

// NewProfile opens a tab in a new, empty browser context (its own cookies,
// like a fresh incognito window). It is closed when t ends; if t failed, a
// screenshot of the page is saved first.
func (c *Chromium) NewProfile(t testing.TB, name string) *Tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(c.ctx, chromedp.WithNewBrowserContext())
	return c.attach(t, name, ctx, cancel)
}

// NewTab opens another tab in the same browser context as tab (sharing its
// cookies). Close it before the profile's first tab: tabs opened later are
// closed first when the test ends.
func (c *Chromium) NewTab(t testing.TB, tab *Tab, name string) *Tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(tab.ctx)
	return c.attach(t, name, ctx, cancel)
}

func (c *Chromium) attach(t testing.TB, name string, ctx context.Context, cancel context.CancelFunc) *Tab {
	t.Helper()
	tab := &Tab{name: name, browser: c, ctx: ctx}
	t.Cleanup(cancel)
	// The first Do creates the tab; its context must be the tab's own.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: open a tab: %v", name, err)
	}
	// Record every document request and how it ended, redirects included.
	if err := chromedp.Listen(ctx, tab.record); err != nil {
		t.Fatalf("%s: listen to the tab: %v", name, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			tab.Screenshot(t, "at-end-of-failed-test")
		}
	})
	return tab
}

// Tab is one browser tab.
type Tab struct {
	name    string
	browser *Chromium
	ctx     context.Context

	mu    sync.Mutex
	trail []navEntry
}

// navEntry is one document request of the tab.
type navEntry struct {
	id     network.RequestID
	method string
	url    string
	status int64 // 0 while pending
}

func (e navEntry) String() string {
	s := e.method + " " + e.url
	if e.status != 0 {
		s += " -> " + strconv.FormatInt(e.status, 10)
	}
	return s
}

// record runs in the tab's event loop: it must be quick and send nothing.
func (tab *Tab) record(ev any) {
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if ev.Type != network.ResourceTypeDocument || ev.Request == nil {
			return
		}
		tab.mu.Lock()
		defer tab.mu.Unlock()
		if ev.RedirectResponse != nil {
			tab.setStatusLocked(ev.RequestID, ev.RedirectResponse.Status)
		}
		tab.trail = append(tab.trail, navEntry{id: ev.RequestID, method: ev.Request.Method, url: ev.Request.URL})
	case *network.EventResponseReceived:
		if ev.Type != network.ResourceTypeDocument || ev.Response == nil {
			return
		}
		tab.mu.Lock()
		defer tab.mu.Unlock()
		tab.setStatusLocked(ev.RequestID, ev.Response.Status)
	}
}

func (tab *Tab) setStatusLocked(id network.RequestID, status int64) {
	for i := len(tab.trail) - 1; i >= 0; i-- {
		if tab.trail[i].id == id && tab.trail[i].status == 0 {
			tab.trail[i].status = status
			return
		}
	}
}

// Mark returns a position in the tab's trail, for TrailSince.
func (tab *Tab) Mark() int {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return len(tab.trail)
}

// TrailSince returns the document requests since mark.
func (tab *Tab) TrailSince(mark int) []navEntry {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return append([]navEntry(nil), tab.trail[mark:]...)
}

func formatTrail(trail []navEntry) string {
	var b strings.Builder
	for _, e := range trail {
		b.WriteString("\n  " + e.String())
	}
	return b.String()
}

// Do runs browser actions on the tab, failing the test (with a screenshot
// and the tab's state) if they do not succeed in time.
func (tab *Tab) Do(t testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, chromiumStepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tab.Fatalf(t, "%s: %v", what, err)
	}
}

// Navigate opens rawURL like a user typing it into the address bar.
func (tab *Tab) Navigate(t testing.TB, rawURL string) {
	t.Helper()
	tab.Do(t, "navigate to "+rawURL, chromedp.Navigate(rawURL))
}

// Reload reloads the page.
func (tab *Tab) Reload(t testing.TB) {
	t.Helper()
	tab.Do(t, "reload", chromedp.Reload())
}

// Type types text into the input matched by css, key by key.
func (tab *Tab) Type(t testing.TB, css, text string) {
	t.Helper()
	tab.Do(t, "type into "+css, chromedp.SendKeys(chromedp.CSS(css), text))
}

// Click clicks the element matched by css with the mouse.
func (tab *Tab) Click(t testing.TB, css string) {
	t.Helper()
	tab.Do(t, "click "+css, chromedp.Click(chromedp.CSS(css)))
}

// Eval evaluates a JavaScript expression in the page.
func evalIn[T any](t testing.TB, tab *Tab, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, chromiumStepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tab.Fatalf(t, "evaluate %q: %v", expr, err)
	}
	return v
}

// Cookies returns the cookies the tab's profile would send to rawURL.
func (tab *Tab) Cookies(t testing.TB, rawURL string) []*network.Cookie {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, chromiumStepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{rawURL}})
	if err != nil {
		tab.Fatalf(t, "get cookies for %s: %v", rawURL, err)
	}
	return res.Cookies
}

// Screenshot saves a PNG of the whole page as PREFIX-TAB-NAME.png and
// returns its path ("" if it could not be taken).
func (tab *Tab) Screenshot(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, chromiumStepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("%s: screenshot %q failed: %v", tab.name, name, err)
		return ""
	}
	path := filepath.Join(chromiumScreenshotDir, screenshotName(tab.browser.prefix+"-"+tab.name+"-"+name)+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Errorf("save screenshot: %v", err)
		return ""
	}
	abs, _ := filepath.Abs(path)
	t.Logf("%s: screenshot %s", tab.name, abs)
	return path
}

var screenshotUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func screenshotName(s string) string {
	return strings.Trim(screenshotUnsafe.ReplaceAllString(strings.ToLower(s), "-"), "-")
}

// Fatalf saves a screenshot of the tab and fails the test with the tab's
// state and its recent document requests.
func (tab *Tab) Fatalf(t testing.TB, format string, args ...any) {
	t.Helper()
	shot := tab.Screenshot(t, "FAILED")
	t.Fatalf("%s: %s\n%s\nscreenshot: %s", tab.name, fmt.Sprintf(format, args...), tab.describe(), shot)
}

// describe summarises the tab for failure messages: where it is, what it
// shows, and its last document requests.
func (tab *Tab) describe() string {
	s, err := tab.state(context.Background())
	where := fmt.Sprintf("tab %s: page kind %q at %s, title %q\ntext: %s", tab.name, s.Kind, s.URL, s.Title, truncate(s.Text, 1500))
	if err != nil {
		where = fmt.Sprintf("tab %s: page unreadable: %v", tab.name, err)
	}
	trail := tab.TrailSince(0)
	if len(trail) > 20 {
		trail = trail[len(trail)-20:]
	}
	return where + "\ndocument requests (last 20):" + formatTrail(trail)
}

// Page kinds recognised by pageStateJS.
const (
	kindHubLogin     = "hub-login"     // JupyterHub's login form
	kindHubAuthorize = "hub-authorize" // JupyterHub's "Authorize access" page
	kindDjangoLogin  = "django-login"  // django.contrib.auth's login form
	kindDOTAuthorize = "dot-authorize" // django-oauth-toolkit's "Authorize" page
	kindUpstream     = "upstream"      // a page of the upstream app (chromium_upstream.go)
	kindHubgate      = "hubgate"       // one of hubgate's own pages (proxy/pages.go)
	kindOther        = "other"         // anything else, e.g. about:blank
)

// pageStateJS reads what a tab shows (see pageState).
const pageStateJS = `(() => {
  const q = (s) => document.querySelector(s);
  const text = (s) => { const e = q(s); return e ? e.textContent.trim() : ""; };
  const path = location.pathname;
  const body = document.body ? document.body.innerText : "";
  let kind = "other";
  if (path.endsWith("/hub/login") && q("#username_input") && q("#password_input")) kind = "hub-login";
  else if (path.endsWith("/hub/api/oauth2/authorize") && body.includes("Authorize access")) kind = "hub-authorize";
  else if (path.endsWith("/accounts/login/") && q("input[name=username]") && q("input[name=password]")) kind = "django-login";
  else if (path.endsWith("/o/authorize/") && q("input[name=allow]")) kind = "dot-authorize";
  else if (q("body#upstream-page")) kind = "upstream";
  else if (q("main p.status") && text("main p.status").endsWith("hubgate")) kind = "hubgate";
  const link = q("main a.button");
  return {
    url: location.href, title: document.title, ready: document.readyState, kind: kind,
    text: body.slice(0, 4000), h1: text("h1"), status: text("main p.status"),
    linkText: link ? link.textContent.trim() : "", linkHref: link ? link.href : "",
  };
})()`

// pageState is what a tab shows.
type pageState struct {
	URL      string `json:"url"`
	Title    string `json:"title"`
	Ready    string `json:"ready"`
	Kind     string `json:"kind"`
	Text     string `json:"text"`
	H1       string `json:"h1"`
	Status   string `json:"status"` // hubgate pages: "403 · hubgate"
	LinkText string `json:"linkText"`
	LinkHref string `json:"linkHref"`
}

func (tab *Tab) state(parent context.Context) (pageState, error) {
	ctx, cancel := context.WithTimeout(tab.ctx, 5*time.Second)
	defer cancel()
	stop := context.AfterFunc(parent, cancel)
	defer stop()
	return chromedp.Run(ctx, chromedp.Evaluate[pageState](pageStateJS))
}

// Expect waits until the tab shows a fully loaded page of kind and returns
// it; otherwise the test fails with a screenshot.
func (tab *Tab) Expect(t testing.TB, kind string) pageState {
	t.Helper()
	deadline := time.Now().Add(chromiumWaitTimeout)
	var last pageState
	var lastErr error
	for time.Now().Before(deadline) {
		// Errors are expected while a navigation replaces the document.
		s, err := tab.state(context.Background())
		if err == nil && s.Ready == "complete" && s.Kind == kind {
			return s
		}
		last, lastErr = s, err
		time.Sleep(100 * time.Millisecond)
	}
	tab.Fatalf(t, "waited %v for a %s page; last seen: kind %q at %s (ready %q, error %v)",
		chromiumWaitTimeout, kind, last.Kind, last.URL, last.Ready, lastErr)
	return pageState{}
}

// WaitText waits until the element matched by css has exactly want as its
// text, and fails the test otherwise.
func (tab *Tab) WaitText(t testing.TB, css, want string) {
	t.Helper()
	expr := fmt.Sprintf(`(() => { const e = document.querySelector(%s); return e ? e.textContent : null; })()`, strconv.Quote(css))
	deadline := time.Now().Add(chromiumWaitTimeout)
	var got *string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(tab.ctx, 5*time.Second)
		v, err := chromedp.Run(ctx, chromedp.Evaluate[*string](expr))
		cancel()
		if err == nil && v != nil && *v == want {
			return
		}
		if err == nil {
			got = v
		}
		time.Sleep(100 * time.Millisecond)
	}
	shown := "(no such element)"
	if got != nil {
		shown = strconv.Quote(*got)
	}
	tab.Fatalf(t, "waited %v for %s to read %q; it reads %s", chromiumWaitTimeout, css, want, shown)
}

// hostOf returns host:port of a URL ("" if it does not parse).
func hostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Host
}
