//go:build integration

package integration

import (
	"net/http"
	"strings"
	"testing"
)

// The scripted browser (browser.go) taught Django's pages: the login form of
// django.contrib.auth's LoginView at /accounts/login/ and DOT's "Authorize"
// page at /o/authorize/ (shown only when skip_authorization is off).

// NewDjangoBrowser returns a browser with an empty cookie jar that logs in at
// d as user, with that user's password.
func NewDjangoBrowser(t testing.TB, d *Django, user string) *Browser {
	t.Helper()
	b := NewBrowser(t, user)
	b.Password = d.User(t, user).Password
	return b
}

// djangoOpen navigates to rawURL like Browser.Open, but logs in with
// Django's login form (username, password, plus the csrfmiddlewaretoken and
// next hidden fields, with the csrftoken cookie from the GET and Referer set)
// and approves DOT's authorization page when they show up.
func djangoOpen(b *Browser, rawURL string) *Page {
	b.t.Helper()
	b.resetTrail()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	page := b.load(req)
	for range 4 {
		switch {
		case !page.LoggedIn && isDjangoLoginPage(page):
			page = b.submitLogin(page)
		case !page.Authorized && isDOTAuthorizePage(page):
			page = djangoSubmitAuthorize(b, page)
		default:
			return page
		}
	}
	return page
}

// isDjangoLoginPage recognises LoginView's page with its form.
func isDjangoLoginPage(p *Page) bool {
	if p.StatusCode != http.StatusOK || !strings.HasSuffix(p.URL.Path, "/accounts/login/") {
		return false
	}
	_, ok := findForm(p, isDjangoLoginForm)
	return ok
}

func isDjangoLoginForm(f htmlForm) bool {
	return f.Method == http.MethodPost && f.hasInput("username") && f.hasInput("password") &&
		f.hasInput("csrfmiddlewaretoken")
}

// isDOTAuthorizePage recognises DOT's approval form, served at the
// authorize URL itself.
func isDOTAuthorizePage(p *Page) bool {
	if p.StatusCode != http.StatusOK || !strings.HasSuffix(p.URL.Path, "/o/authorize/") {
		return false
	}
	_, ok := findForm(p, isDOTAuthorizeForm)
	return ok
}

func isDOTAuthorizeForm(f htmlForm) bool {
	return f.Method == http.MethodPost && f.hasInput("allow") && f.hasInput("csrfmiddlewaretoken")
}

// djangoSubmitAuthorize presses DOT's "Authorize" button: the hidden OAuth
// fields, the CSRF token and allow=Authorize.
func djangoSubmitAuthorize(b *Browser, p *Page) *Page {
	b.t.Helper()
	form, _ := findForm(p, isDOTAuthorizeForm)
	values := cloneValues(form.Fields)
	values.Set("allow", "Authorize")
	next := b.submit(p, form, values)
	next.LoggedIn = p.LoggedIn
	next.Authorized = true
	next.Trail = append(p.Trail, next.Trail...)
	return next
}
