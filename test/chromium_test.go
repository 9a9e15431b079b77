//go:build integration

package integration

import (
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
)

// The browser suite: a real headless Chromium (chromium.go) logs in through
// hubgate with the peers' real HTML forms, typing and clicking like a user.
// One browser per top-level test; each scenario gets a fresh profile.
// Screenshots of every scenario's pages go to test/output/chromium/.

// TestChromiumJupyterHub runs the browser scenarios against a real
// JupyterHub 3.0. Every hubgate is an external service registered without
// oauth_no_confirm, so the Hub shows its "Authorize access" page.
func TestChromiumJupyterHub(t *testing.T) {
	RequireHub(t, coreSuite)
	t.Parallel()
	requireChromium(t)
	up := StartPageUpstream(t)

	// nginx (scenario 3) takes hubgate's callback on its own address; so does the
	// nginx of scenario 10, on port 80 as a site would be.
	nginxAddr := freeAddr(t)
	nginxCallback := "http://" + nginxAddr + "/oauth2/callback"
	o2pAddr := defaultPortAddr(t)
	o2pSite := "http://" + strings.TrimSuffix(o2pAddr, ":80")

	// One hubgate per configuration, each its own service at the Hub.
	configs := []struct {
		name string
		env  map[string]string
	}{
		{"gate", nil},
		{"logout", map[string]string{"HUBGATE_HUB_LOGOUT": "true"}},
		{"pages", map[string]string{"HUBGATE_SKIP_SIGN_IN_PAGE": "false"}},
		{"staff", map[string]string{"HUBGATE_ALLOWED_GROUPS": "staff"}},
		{"tabs", nil},
		{"flood", nil},
		{"nginx", map[string]string{"HUBGATE_REDIRECT_URL": nginxCallback}},
		{"o2p", map[string]string{"HUBGATE_REDIRECT_URL": o2pSite + "/oauth2/callback"}},
	}
	addrs := map[string]string{}
	var services []HubService
	for _, c := range configs {
		addrs[c.name] = freeAddr(t)
		callback := "http://" + addrs[c.name] + "/oauth2/callback"
		switch c.name {
		case "nginx":
			callback = nginxCallback
		case "o2p":
			callback = o2pSite + "/oauth2/callback"
		}
		services = append(services, HubService{Name: "chromium-" + c.name, OAuthRedirectURI: callback})
	}
	hub := StartHub(t, HubConfig{Services: services})
	gates := map[string]*Gate{}
	for _, c := range configs {
		s := hub.Service(t, "chromium-"+c.name)
		gates[c.name] = StartHubgate(t, addrs[c.name], jupyterhubEnv(hub, s, up.Upstream(), addrs[c.name], c.env))
	}
	browser := StartChromium(t, "jupyterhub")

	// alice's profile is shared by scenarios 1 and 5.
	alice := browser.NewProfile(t, "alice")
	gate := gates["gate"]

	loggedIn := t.Run("1 login with the Hub's form, consent, reload", func(t *testing.T) {
		alice.Navigate(t, gate.URL+"/dashboard?tab=1")
		hubLoginPage(t, alice, "alice", "1-hub-login")
		hubAuthorizePage(t, alice, "1-hub-authorize")
		v := readUpstream(t, alice)
		alice.Screenshot(t, "1-upstream")
		checkUpstreamView(t, v, gate.URL+"/dashboard?tab=1", "alice", "staff", "false")
		checkSessionCookie(t, alice, gate.URL)

		mark := alice.Mark()
		alice.Reload(t)
		v = readUpstream(t, alice)
		alice.Screenshot(t, "1-after-reload")
		checkUpstreamView(t, v, gate.URL+"/dashboard?tab=1", "alice", "staff", "false")
		trail := alice.TrailSince(mark)
		if len(trail) != 1 || trail[0].status != 200 || hostOf(trail[0].url) != hostOf(gate.URL) {
			t.Errorf("reload should be one 200 from hubgate, without the Hub; document requests:%s", formatTrail(trail))
		}
	})

	t.Run("5 websocket opened by the page's script", func(t *testing.T) {
		if !loggedIn {
			t.Fatal("needs alice's login of scenario 1, which failed")
		}
		msg := "hello through hubgate ✓ <b>&amp; " + strings.ToLower(randomSecret()[:8])
		before := len(up.WebSocketUsers())
		alice.Navigate(t, gate.URL+"/app/ws-page?msg="+url.QueryEscape(msg))
		alice.Expect(t, kindUpstream)
		alice.WaitText(t, "#ws-state", "echoed")
		alice.WaitText(t, "#echo", msg)
		alice.Screenshot(t, "5-websocket-echo")
		if users := up.WebSocketUsers()[before:]; !slices.Equal(users, []string{"alice"}) {
			t.Errorf("WebSocket handshakes at the upstream carried X-Forwarded-User %q, want one with alice", users)
		}
	})

	t.Run("8 a page of another origin cannot act with alice's session", func(t *testing.T) {
		if !loggedIn {
			t.Fatal("needs alice's login of scenario 1, which failed")
		}
		// Another port of the same host: the same site, so SameSite=Lax
		// lets the cookie through; only the cross-origin check stops it.
		checkCrossOriginRefused(t, alice, up, StartActingPage(t), gate.URL, true)
		checkSameOriginActs(t, alice, up, gate.URL, "alice")
	})

	t.Run("9 fifty navigations leave at most three login cookies", func(t *testing.T) {
		// A page that forces navigations starts a login each time; the browser
		// must not carry fifty state cookies (nginx's 8 KB header buffer).
		fg := gates["flood"]
		tab := browser.NewProfile(t, "flood")
		longest := 0
		for i := range 50 {
			tab.Navigate(t, fg.URL+"/flood?n="+strconv.Itoa(i))
			tab.Expect(t, kindHubLogin)
			names := loginCookies(t, tab, fg.URL)
			if len(names) > 3 {
				t.Fatalf("after %d navigations the browser holds %d login cookies, want at most 3", i+1, len(names))
			}
			size := 0
			for _, c := range tab.Cookies(t, fg.URL) {
				size += len(c.Name) + len(c.Value) + 2
			}
			longest = max(longest, size)
		}
		t.Logf("longest Cookie header for hubgate over 50 navigations: %d bytes", longest)
		if longest >= 4096 {
			t.Errorf("the Cookie header for hubgate reached %d bytes, want under 4 KB", longest)
		}
		// The newest login completes.
		hubLoginPage(t, tab, "alice", "9-hub-login")
		hubAuthorizePage(t, tab, "9-hub-authorize")
		checkUpstreamView(t, readUpstream(t, tab), fg.URL+"/flood?n=49", "alice", "staff", "false")
	})

	t.Run("6 two tabs start a login at once", func(t *testing.T) {
		// A gate of its own: the Hub asks for consent only until the user
		// has authorized the client once (needs_oauth_confirm in 3.0).
		tg := gates["tabs"]
		tabA := browser.NewProfile(t, "tab-a")
		tabB := browser.NewTab(t, tabA, "tab-b")
		tabA.Navigate(t, tg.URL+"/tab-a?n=1")
		tabA.Expect(t, kindHubLogin)
		tabB.Navigate(t, tg.URL+"/tab-b?n=2")
		tabB.Expect(t, kindHubLogin)
		if n := len(loginCookies(t, tabA, tg.URL)); n != 2 {
			t.Errorf("after two logins started: %d hubgate login-state cookies, want 2 (one per login)", n)
		}

		hubLoginPage(t, tabA, "alice", "6-hub-login")
		hubAuthorizePage(t, tabA, "6-hub-authorize")
		checkUpstreamView(t, readUpstream(t, tabA), tg.URL+"/tab-a?n=1", "alice", "staff", "false")
		tabA.Screenshot(t, "6-upstream")

		// Tab B still shows the login form it got before tab A logged in.
		// Its login now goes straight back to hubgate with tab B's state:
		// alice has authorized this client already. From 4.1 the Hub ties the
		// form's _xsrf to the session, so that stale form gets the Hub's 403;
		// reloading it (the Hub then sees alice logged in) is what users do.
		if hubMajor(hub.Install.Version) >= 4 {
			tabB.Reload(t)
		} else {
			hubLoginPage(t, tabB, "alice", "6-hub-login")
		}
		checkUpstreamView(t, readUpstream(t, tabB), tg.URL+"/tab-b?n=2", "alice", "staff", "false")
		tabB.Screenshot(t, "6-upstream")

		tabA.Reload(t)
		checkUpstreamView(t, readUpstream(t, tabA), tg.URL+"/tab-a?n=1", "alice", "staff", "false")
		if left := loginCookies(t, tabA, tg.URL); len(left) != 0 {
			t.Errorf("login-state cookies left after both logins: %v", left)
		}
	})

	t.Run("3 login through nginx auth_request", func(t *testing.T) {
		// nginx runs examples/nginx/hubgate.conf.tmpl (test/nginx.go):
		// auth_request to hubgate, error_page 401 to hubgate's forward-mode
		// login, and the identity headers from hubgate's 202.
		ngx := StartNginx(t, NginxSite{Listen: nginxAddr, Hubgate: addrs["nginx"], App: hostOf(up.URL)})
		tab := browser.NewProfile(t, "nginx")
		tab.Navigate(t, ngx.URL+"/app/page?x=1&y=a%26b")
		hubLoginPage(t, tab, "alice", "3-hub-login")
		hubAuthorizePage(t, tab, "3-hub-authorize")
		v := readUpstream(t, tab)
		tab.Screenshot(t, "3-upstream")
		// The example sends no X-Forwarded-Admin (it sets it empty). nginx
		// passes the browser's Cookie header to the app as it is, hubgate's
		// session cookie included: only hubgate's own proxy strips it.
		checkUpstreamIdentity(t, v, ngx.URL+"/app/page?x=1&y=a%26b", "alice", "staff", "")
		if slices.Contains(strings.Fields(v.Cookies), hubgateSessionCookie) {
			t.Logf("note: behind the nginx example the app receives hubgate's session cookie (cookies: %s)", v.Cookies)
		}
		checkSessionCookie(t, tab, ngx.URL)

		mark := tab.Mark()
		tab.Reload(t)
		checkUpstreamIdentity(t, readUpstream(t, tab), ngx.URL+"/app/page?x=1&y=a%26b", "alice", "staff", "")
		trail := tab.TrailSince(mark)
		if len(trail) != 1 || trail[0].status != 200 || hostOf(trail[0].url) != nginxAddr {
			t.Errorf("reload should be one 200 from nginx, without the Hub; document requests:%s", formatTrail(trail))
		}

		// auth_request checks the original request: the example passes its
		// method, host, Origin and Sec-Fetch-Site to hubgate.
		checkCrossOriginRefused(t, tab, up, StartActingPage(t), ngx.URL, false)
		checkSameOriginActs(t, tab, up, ngx.URL, "alice")
	})

	t.Run("10 oauth2-proxy's nginx error_page 401 =403 with the sign-in page skipped", func(t *testing.T) {
		// nginx serves hubgate's redirect to the Hub as a 403, which browsers do not
		// follow: its Refresh header leads Chromium on all the same.
		StartNginx(t, NginxSite{Listen: o2pAddr, Hubgate: addrs["o2p"], App: hostOf(up.URL),
			Template: filepath.Join("testdata", "oauth2-proxy-nginx.conf.tmpl")})
		tab := browser.NewProfile(t, "o2p")
		const page = "/a/app/page?x=1&y=a%26b"
		mark := tab.Mark()
		tab.Navigate(t, o2pSite+page)
		hubLoginPage(t, tab, "alice", "10-hub-login")
		if trail := tab.TrailSince(mark); len(trail) == 0 || trail[0].status != http.StatusForbidden {
			t.Errorf("nginx should answer the page with 403 (error_page 401 =403); document requests:%s", formatTrail(trail))
		}
		hubAuthorizePage(t, tab, "10-hub-authorize")
		v := readUpstream(t, tab)
		tab.Screenshot(t, "10-upstream")
		if v.URL != o2pSite+page || v.Path != page {
			t.Errorf("landed on %s (the app saw %s), want %s", v.URL, v.Path, o2pSite+page)
		}
	})

	t.Run("4 sign-out with hub_logout asks to log in again", func(t *testing.T) {
		lg := gates["logout"]
		tab := browser.NewProfile(t, "sign-out")
		tab.Navigate(t, lg.URL+"/private")
		hubLoginPage(t, tab, "alice", "4-hub-login")
		hubAuthorizePage(t, tab, "4-hub-authorize")
		checkUpstreamView(t, readUpstream(t, tab), lg.URL+"/private", "alice", "staff", "false")
		tab.Screenshot(t, "4-upstream")

		mark := tab.Mark()
		tab.Navigate(t, lg.URL+"/oauth2/sign_out")
		tab.Expect(t, kindHubLogin)
		tab.Screenshot(t, "4-after-sign-out")
		trail := tab.TrailSince(mark)
		if len(trail) < 2 || trail[0].status != 302 || !strings.HasPrefix(trail[1].url, hub.PublicURL+"/hub/logout") {
			t.Errorf("sign-out should be a 302 from hubgate to %s/hub/logout; document requests:%s", hub.PublicURL, formatTrail(trail))
		}
		if c := sessionCookie(t, tab, lg.URL); c != nil {
			t.Errorf("hubgate's session cookie is still there after sign-out: %s (expires %v)", c.Name, c.Expires)
		}

		// The protected page now takes the browser through hubgate's 302 to
		// the Hub's authorize URL and on to the Hub's login form: neither
		// hubgate nor the Hub remembers alice.
		mark = tab.Mark()
		tab.Navigate(t, lg.URL+"/private")
		tab.Expect(t, kindHubLogin)
		tab.Screenshot(t, "4-protected-page-after-sign-out")
		trail = tab.TrailSince(mark)
		if len(trail) < 2 || trail[0].url != lg.URL+"/private" || trail[0].status != 302 ||
			!strings.HasPrefix(trail[1].url, hub.PublicURL+"/hub/api/oauth2/authorize?") {
			t.Errorf("want hubgate's 302 to the Hub's authorize URL first; document requests:%s", formatTrail(trail))
		}

		// And logging in again works.
		hubLoginPage(t, tab, "alice", "4-hub-login-again")
		hubAuthorizePage(t, tab, "4-hub-authorize-again")
		checkUpstreamView(t, readUpstream(t, tab), lg.URL+"/private", "alice", "staff", "false")
	})

	t.Run("hubgate's sign-in and signed-out pages", func(t *testing.T) {
		pg := gates["pages"]
		tab := browser.NewProfile(t, "pages")
		tab.Navigate(t, pg.URL+"/report?q=1")
		s := tab.Expect(t, kindHubgate)
		tab.Screenshot(t, "sign-in-page")
		if s.H1 != "Sign in" || s.LinkText != "Sign in with JupyterHub" || s.Status != "hubgate" {
			t.Errorf("sign-in page: h1 %q, button %q, status %q; want \"Sign in\", \"Sign in with JupyterHub\", \"hubgate\"",
				s.H1, s.LinkText, s.Status)
		}
		tab.Click(t, "main a.button")
		hubLoginPage(t, tab, "alice", "hub-login")
		hubAuthorizePage(t, tab, "hub-authorize")
		checkUpstreamView(t, readUpstream(t, tab), pg.URL+"/report?q=1", "alice", "staff", "false")

		tab.Navigate(t, pg.URL+"/oauth2/sign_out")
		s = tab.Expect(t, kindHubgate)
		tab.Screenshot(t, "signed-out-page")
		if s.H1 != "Signed out" || s.LinkText != "Sign in again" || s.LinkHref != pg.URL+"/oauth2/start" {
			t.Errorf("signed-out page: h1 %q, link %q to %s; want \"Signed out\", \"Sign in again\" to %s/oauth2/start",
				s.H1, s.LinkText, s.LinkHref, pg.URL)
		}
		if c := sessionCookie(t, tab, pg.URL); c != nil {
			t.Errorf("hubgate's session cookie is still there after sign-out: %s", c.Name)
		}
		// hubgate forgot the session (the Hub's own login is still alive,
		// so the sign-in page is what proves it here).
		tab.Navigate(t, pg.URL+"/report?q=2")
		if s = tab.Expect(t, kindHubgate); s.H1 != "Sign in" {
			t.Errorf("after sign-out the protected page shows %q, want hubgate's sign-in page", s.H1)
		}
	})

	t.Run("7 bob, not in staff, gets the 403 page", func(t *testing.T) {
		sg := gates["staff"]
		tab := browser.NewProfile(t, "bob")
		tab.Navigate(t, sg.URL+"/secret")
		hubLoginPage(t, tab, "bob", "7-hub-login")
		hubAuthorizePage(t, tab, "7-hub-authorize")
		s := tab.Expect(t, kindHubgate)
		tab.Screenshot(t, "7-access-denied")
		if s.H1 != "Access denied" || !strings.Contains(s.Text, "signed in as bob") || s.Status != "403 · hubgate" {
			t.Errorf("want hubgate's \"Access denied\" page for bob with status 403; got h1 %q, status %q, text %q", s.H1, s.Status, s.Text)
		}
		if trail := tab.TrailSince(0); len(trail) == 0 || trail[len(trail)-1].status != 403 {
			t.Errorf("the last document request should be answered 403; document requests:%s", formatTrail(trail))
		}
		if c := sessionCookie(t, tab, sg.URL); c != nil {
			t.Errorf("bob got a hubgate session cookie although he is not allowed in")
		}
	})
}

// TestChromiumDjango logs in through a real Django 3.2 login form and
// django-oauth-toolkit's "Authorize" page (skip_authorization off), with
// hubgate's django provider.
func TestChromiumDjango(t *testing.T) {
	RequireDjango(t, fullSuite)
	t.Parallel()
	requireChromium(t)
	addr := freeAddr(t)
	dj := StartDjango(t, DjangoConfig{RedirectURIs: []string{DjangoGateRedirectURL(addr)}, RequireApproval: true})
	up := StartPageUpstream(t)
	gate := StartDjangoGate(t, dj, up.Upstream(), addr, nil)
	browser := StartChromium(t, "django")

	t.Run("2 login with Django's form, consent, reload", func(t *testing.T) {
		alice := dj.User(t, "alice")
		tab := browser.NewProfile(t, "alice")
		tab.Navigate(t, gate.URL+"/dashboard?tab=2")
		tab.Expect(t, kindDjangoLogin)
		tab.Screenshot(t, "2-django-login")
		tab.Type(t, "input[name=username]", alice.Name)
		tab.Type(t, "input[name=password]", alice.Password)
		tab.Click(t, "input[type=submit]")
		tab.Expect(t, kindDOTAuthorize)
		tab.Screenshot(t, "2-dot-authorize")
		tab.Click(t, "input[name=allow]")
		v := readUpstream(t, tab)
		tab.Screenshot(t, "2-upstream")
		checkUpstreamView(t, v, gate.URL+"/dashboard?tab=2", "alice", "staff", "true")
		checkSessionCookie(t, tab, gate.URL)

		mark := tab.Mark()
		tab.Reload(t)
		checkUpstreamView(t, readUpstream(t, tab), gate.URL+"/dashboard?tab=2", "alice", "staff", "true")
		trail := tab.TrailSince(mark)
		if len(trail) != 1 || trail[0].status != 200 || hostOf(trail[0].url) != hostOf(gate.URL) {
			t.Errorf("reload should be one 200 from hubgate, without Django; document requests:%s", formatTrail(trail))
		}
	})

	t.Run("3 provider oidc: Django's form, the ID token verified, the user at the upstream", func(t *testing.T) {
		addr := freeAddr(t)
		odj := StartDjango(t, DjangoConfig{OIDC: true, RedirectURIs: []string{DjangoGateRedirectURL(addr)}})
		// Only what the user sets: the issuer, the client and the callback.
		ogate := StartHubgate(t, addr, map[string]string{
			"HUBGATE_PROVIDER":        "oidc",
			"HUBGATE_OIDC_ISSUER_URL": odj.IssuerURL(),
			"HUBGATE_CLIENT_ID":       odj.ClientID,
			"HUBGATE_CLIENT_SECRET":   odj.ClientSecret,
			"HUBGATE_REDIRECT_URL":    DjangoGateRedirectURL(addr),
			"HUBGATE_COOKIE_SECRET":   randomSecret(),
			"HUBGATE_UPSTREAM":        up.URL,
		})
		alice := odj.User(t, "alice")
		tab := browser.NewProfile(t, "alice-oidc")
		tab.Navigate(t, ogate.URL+"/dashboard?tab=3")
		tab.Expect(t, kindDjangoLogin)
		tab.Type(t, "input[name=username]", alice.Name)
		tab.Type(t, "input[name=password]", alice.Password)
		tab.Click(t, "input[type=submit]")
		v := readUpstream(t, tab)
		tab.Screenshot(t, "3-oidc-upstream")
		checkUpstreamView(t, v, ogate.URL+"/dashboard?tab=3", "alice", "staff", "false")
		checkSessionCookie(t, tab, ogate.URL)
	})
}

// hubLoginPage expects the Hub's login form, screenshots it as shot, and
// types user's credentials into it (the dummy authenticator takes any
// password) and presses "Sign in".
func hubLoginPage(t *testing.T, tab *Tab, user, shot string) {
	t.Helper()
	tab.Expect(t, kindHubLogin)
	tab.Screenshot(t, shot)
	tab.Type(t, "#username_input", user)
	tab.Type(t, "#password_input", "any-password")
	tab.Click(t, "#login_submit")
}

// hubAuthorizePage expects the Hub's "Authorize access" page, screenshots
// it and presses "Authorize": an <input> up to 3.x, a <button> in 5.x.
func hubAuthorizePage(t *testing.T, tab *Tab, shot string) {
	t.Helper()
	tab.Expect(t, kindHubAuthorize)
	tab.Screenshot(t, shot)
	tab.Click(t, `input[type=submit][value="Authorize"], form button[type=submit]`)
}

// upstreamView is what the upstream's identity page shows.
type upstreamView struct {
	URL     string `json:"url"`
	User    string `json:"user"`
	Groups  string `json:"groups"`
	Admin   string `json:"admin"`
	Path    string `json:"path"`
	Cookies string `json:"cookies"`
}

// readUpstream waits for an upstream page and reads the identity it shows.
func readUpstream(t *testing.T, tab *Tab) upstreamView {
	t.Helper()
	tab.Expect(t, kindUpstream)
	return evalIn[upstreamView](t, tab, `(() => {
  const x = (s) => { const e = document.querySelector(s); return e ? e.textContent : ""; };
  return {url: location.href, user: x("#user"), groups: x("#groups"), admin: x("#admin"),
          path: x("#path"), cookies: x("#cookies")};
})()`)
}

// checkUpstreamView checks where the browser landed and who the upstream
// says it is: user, a group list holding group, the admin flag, and no
// hubgate cookie passed on.
func checkUpstreamView(t *testing.T, v upstreamView, wantURL, user, group, admin string) {
	t.Helper()
	checkUpstreamIdentity(t, v, wantURL, user, group, admin)
	for _, c := range strings.Fields(v.Cookies) {
		if strings.HasPrefix(c, hubgateSessionCookie) {
			t.Errorf("hubgate's cookie %s reached the upstream (cookies: %s)", c, v.Cookies)
		}
	}
}

// checkUpstreamIdentity is checkUpstreamView without the cookie check.
func checkUpstreamIdentity(t *testing.T, v upstreamView, wantURL, user, group, admin string) {
	t.Helper()
	if v.URL != wantURL {
		t.Errorf("landed on %s, want %s", v.URL, wantURL)
	}
	if u, _ := url.Parse(wantURL); u != nil && v.Path != u.RequestURI() {
		t.Errorf("upstream saw %s, want %s", v.Path, u.RequestURI())
	}
	if v.User != user || !slices.Contains(splitList(v.Groups), group) || v.Admin != admin {
		t.Errorf("upstream page shows user %q, groups %q, admin %q; want %q, a list with %q, %q",
			v.User, v.Groups, v.Admin, user, group, admin)
	}
}

// sessionCookie returns hubgate's session cookie for rawURL, or nil.
func sessionCookie(t *testing.T, tab *Tab, rawURL string) *network.Cookie {
	t.Helper()
	for _, c := range tab.Cookies(t, rawURL) {
		if c.Name == hubgateSessionCookie {
			return c
		}
	}
	return nil
}

// loginCookies returns the names of hubgate's per-login state cookies.
func loginCookies(t *testing.T, tab *Tab, rawURL string) []string {
	t.Helper()
	var names []string
	for _, c := range tab.Cookies(t, rawURL) {
		if strings.HasPrefix(c.Name, hubgateSessionCookie+"_login_") {
			names = append(names, c.Name)
		}
	}
	return names
}

// checkSessionCookie checks that the browser holds hubgate's session
// cookie, HttpOnly and SameSite=Lax, and no leftover login state.
func checkSessionCookie(t *testing.T, tab *Tab, rawURL string) {
	t.Helper()
	c := sessionCookie(t, tab, rawURL)
	if c == nil {
		t.Errorf("no %s session cookie in the browser after login", hubgateSessionCookie)
		return
	}
	if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax {
		t.Errorf("session cookie: HttpOnly %v, SameSite %q; want HttpOnly, Lax", c.HTTPOnly, c.SameSite)
	}
	if left := loginCookies(t, tab, rawURL); len(left) != 0 {
		t.Errorf("login-state cookies left after the login: %v", left)
	}
}

// hubgateSessionCookie is hubgate's default session cookie name; its
// per-login state cookies add "_login_<hex>".
const hubgateSessionCookie = "_hubgate"

// checkCrossOriginRefused opens the act page on actingURL, another origin of
// the same site, against base where tab is logged in: its fetch POST, its
// WebSocket and its form POST are all refused, and the upstream sees none of
// them. hubgatePage: the form's answer is hubgate's own 403 page (behind
// nginx it is nginx's).
func checkCrossOriginRefused(t *testing.T, tab *Tab, up *PageUpstream, actingURL, base string, hubgatePage bool) {
	t.Helper()
	before := len(up.Requests())
	tab.Navigate(t, actingURL+"/act-page?target="+url.QueryEscape(base))
	tab.WaitText(t, "#fetch-state", "opaque")
	tab.WaitText(t, "#ws-state", "closed 1006")
	tab.Screenshot(t, "cross-origin-page")
	mark := tab.Mark()
	tab.Click(t, "#post")
	if hubgatePage {
		s := tab.Expect(t, kindHubgate)
		if s.H1 != "Cross-origin request refused" || s.Status != "403 · hubgate" {
			t.Errorf("a cross-origin form POST shows h1 %q, status %q; want hubgate's \"Cross-origin request refused\", 403", s.H1, s.Status)
		}
	}
	waitDocumentStatus(t, tab, mark, base+"/app/posted", 403)
	tab.Screenshot(t, "cross-origin-form-refused")
	for _, r := range up.Requests()[before:] {
		// The browser's own favicon request for nginx's 403 page is not the page's doing.
		if !strings.HasPrefix(r, "GET /favicon.ico ") {
			t.Errorf("the upstream saw %q, which a page of another origin sent with the session", r)
		}
	}
}

// checkSameOriginActs is checkCrossOriginRefused's page served through base
// itself: everything it does reaches the upstream as user.
func checkSameOriginActs(t *testing.T, tab *Tab, up *PageUpstream, base, user string) {
	t.Helper()
	before := len(up.Requests())
	tab.Navigate(t, base+"/app/act-page?target="+url.QueryEscape(base))
	tab.WaitText(t, "#fetch-state", "200")
	tab.WaitText(t, "#ws-state", "echoed")
	tab.Click(t, "#post")
	if v := readUpstream(t, tab); v.Path != "/app/posted" || v.User != user {
		t.Errorf("the same-origin form POST landed on %s as %q, want /app/posted as %q", v.Path, v.User, user)
	}
	got := up.Requests()[before:]
	for _, want := range []string{"POST /app/fetched " + user, "GET /app/ws " + user, "POST /app/posted " + user} {
		if !slices.Contains(got, want) {
			t.Errorf("the upstream did not see %q from hubgate's own origin; it saw %q", want, got)
		}
	}
}

// waitDocumentStatus waits until a document request to rawURL since mark is
// answered with status.
func waitDocumentStatus(t *testing.T, tab *Tab, mark int, rawURL string, status int64) {
	t.Helper()
	deadline := time.Now().Add(chromiumWaitTimeout)
	for time.Now().Before(deadline) {
		for _, e := range tab.TrailSince(mark) {
			if e.url == rawURL && e.status == status {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	tab.Fatalf(t, "waited %v for %s to be answered %d; document requests:%s", chromiumWaitTimeout, rawURL, status, formatTrail(tab.TrailSince(mark)))
}
