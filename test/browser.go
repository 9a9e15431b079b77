//go:build integration

package integration

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// navigationAccept is what a browser sends when it navigates to a page.
const navigationAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

// Browser is a scripted browser: an HTTP client with a cookie jar that follows
// redirects and, when it lands on them, fills in the JupyterHub login form
// (with Username and Password) and accepts the Hub's "Authorize access" page.
type Browser struct {
	Username, Password string

	t      testing.TB
	client *http.Client

	mu    sync.Mutex
	trail []string // requests made since the last resetTrail
}

// Page is where a navigation ended, with how it got there.
type Page struct {
	URL        *url.URL
	StatusCode int
	Header     http.Header
	Body       []byte
	// Trail lists every request of the navigation: "GET URL -> STATUS".
	Trail []string
	// LoggedIn is set if the Hub login form was submitted.
	LoggedIn bool
	// Authorized is set if the Hub's "Authorize access" form was submitted.
	Authorized bool
}

// String summarises the page for failure messages.
func (p *Page) String() string {
	body := string(p.Body)
	if len(body) > 2000 {
		body = body[:2000] + "..."
	}
	return fmt.Sprintf("page %s status %d\ntrail:\n  %s\nbody: %s",
		p.URL, p.StatusCode, strings.Join(p.Trail, "\n  "), body)
}

// NewBrowser returns a browser with an empty cookie jar that logs in to the
// Hub as username (the dummy authenticator takes any password).
func NewBrowser(t testing.TB, username string) *Browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &Browser{Username: username, Password: "any-password", t: t}
	b.client = &http.Client{
		Jar:       jar,
		Timeout:   30 * time.Second,
		Transport: &recordingTransport{browser: b, next: http.DefaultTransport},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 20 {
				return fmt.Errorf("stopped after 20 redirects")
			}
			return nil
		},
	}
	return b
}

// Client is the browser's HTTP client (cookie jar, redirects followed).
func (b *Browser) Client() *http.Client { return b.client }

// Cookies returns the cookies the browser would send to rawURL.
func (b *Browser) Cookies(rawURL string) []*http.Cookie {
	u, err := url.Parse(rawURL)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.client.Jar.Cookies(u)
}

// Open navigates to rawURL like a user typing it in: GET with a browser's
// Accept header, following redirects, logging in at the Hub and approving
// the Hub's authorization page on the way if they show up.
func (b *Browser) Open(rawURL string) *Page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.OpenRequest(req)
}

// OpenRequest is Open for a prepared GET request (extra headers, say): the
// client repeats its headers on the redirects that follow, not on form posts.
func (b *Browser) OpenRequest(req *http.Request) *Page {
	b.t.Helper()
	b.resetTrail()
	page := b.load(req)
	for range 4 {
		switch {
		case !page.LoggedIn && isHubLoginPage(page):
			page = b.submitLogin(page)
		case !page.Authorized && isHubAuthorizePage(page):
			page = b.submitAuthorize(page)
		default:
			return page
		}
	}
	return page
}

// Do sends req with the browser's cookies, following redirects but never
// filling in forms. The request gets a navigation Accept header unless it
// has one.
func (b *Browser) Do(req *http.Request) *Page {
	b.t.Helper()
	b.resetTrail()
	return b.load(req)
}

// load sends req and reads the final response into a Page.
func (b *Browser) load(req *http.Request) *Page {
	b.t.Helper()
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", navigationAccept)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("browser: %s %s: %v\ntrail:\n  %s", req.Method, req.URL, err, strings.Join(b.takeTrail(), "\n  "))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("browser: read %s: %v", resp.Request.URL, err)
	}
	return &Page{
		URL:        resp.Request.URL,
		StatusCode: resp.StatusCode,
		Header:     resp.Header,
		Body:       body,
		Trail:      b.takeTrail(),
	}
}

// isHubLoginPage recognises JupyterHub's login page: /hub/login with a form
// that has username and password inputs.
func isHubLoginPage(p *Page) bool {
	if !strings.HasSuffix(p.URL.Path, "/hub/login") {
		return false
	}
	_, ok := findForm(p, func(f htmlForm) bool { return f.hasInput("username") && f.hasInput("password") })
	return ok
}

// isHubAuthorizePage recognises the Hub's one-time "Authorize access" page,
// served at the authorize URL itself.
func isHubAuthorizePage(p *Page) bool {
	return strings.HasSuffix(p.URL.Path, "/hub/api/oauth2/authorize") &&
		p.StatusCode == http.StatusOK &&
		strings.Contains(string(p.Body), "Authorize access")
}

// submitLogin posts the login form (which in 3.0 leads to /hub/login?next=...)
// and follows the redirects to wherever "next" points.
func (b *Browser) submitLogin(p *Page) *Page {
	b.t.Helper()
	form, _ := findForm(p, func(f htmlForm) bool { return f.hasInput("username") && f.hasInput("password") })
	values := form.Fields
	values.Set("username", b.Username)
	values.Set("password", b.Password)
	next := b.submit(p, form, values)
	next.LoggedIn = true
	next.Authorized = p.Authorized
	next.Trail = append(p.Trail, next.Trail...)
	return next
}

// submitAuthorize approves the Hub's authorization page. Up to 3.x the Hub
// wants a Referer equal to the authorize URL; 4.x forms carry _xsrf, which
// comes along with the other hidden fields (scopes).
func (b *Browser) submitAuthorize(p *Page) *Page {
	b.t.Helper()
	form, ok := findForm(p, func(f htmlForm) bool { return f.Method == http.MethodPost })
	if !ok {
		b.t.Fatalf("browser: no POST form on the Hub authorization page\n%s", p)
	}
	next := b.submit(p, form, form.Fields)
	next.LoggedIn = p.LoggedIn
	next.Authorized = true
	next.Trail = append(p.Trail, next.Trail...)
	return next
}

// submit sends a form found on page p, with Referer set to the page.
func (b *Browser) submit(p *Page, form htmlForm, values url.Values) *Page {
	b.t.Helper()
	action, err := p.URL.Parse(form.Action) // "" resolves to the page itself
	if err != nil {
		b.t.Fatalf("browser: bad form action %q: %v", form.Action, err)
	}
	var req *http.Request
	if form.Method == http.MethodPost {
		req, err = http.NewRequest(http.MethodPost, action.String(), strings.NewReader(values.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		action.RawQuery = values.Encode()
		req, err = http.NewRequest(http.MethodGet, action.String(), nil)
	}
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Referer", p.URL.String())
	b.resetTrail()
	return b.load(req)
}

// findForm returns the first form on the page that matches.
func findForm(p *Page, match func(htmlForm) bool) (htmlForm, bool) {
	for _, f := range parseForms(p.Body) {
		if match(f) {
			return f, true
		}
	}
	return htmlForm{}, false
}

func (b *Browser) resetTrail() {
	b.mu.Lock()
	b.trail = nil
	b.mu.Unlock()
}

func (b *Browser) takeTrail() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.trail
	b.trail = nil
	return t
}

// recordingTransport notes every request the browser makes, redirects
// included, so failures can show the whole chain.
type recordingTransport struct {
	browser *Browser
	next    http.RoundTripper
}

func (rt *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rt.next.RoundTrip(req)
	entry := req.Method + " " + req.URL.String()
	if err != nil {
		entry += " -> error: " + err.Error()
	} else {
		entry += " -> " + resp.Status
		if loc := resp.Header.Get("Location"); loc != "" {
			entry += " (Location: " + loc + ")"
		}
	}
	rt.browser.mu.Lock()
	rt.browser.trail = append(rt.browser.trail, entry)
	rt.browser.mu.Unlock()
	return resp, err
}
