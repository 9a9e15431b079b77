package config_test

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/config"
)

// routesFile is a standalone configuration whose upstream is replaced by routes.
func routesFile(t *testing.T, top, routes string) []string {
	t.Helper()
	var args []string
	for i := 0; i < len(standalone); i += 2 {
		key := strings.ReplaceAll(strings.TrimPrefix(standalone[i], "--"), "-", "_")
		if key != "upstream" && !strings.Contains(top, key+":") {
			args = append(args, standalone[i], standalone[i+1])
		}
	}
	return append(args, "--config", writeYAML(t, top+"\nroutes:\n"+routes))
}

const threeApps = `
  - name: staff
    path: /staff/
    upstream: http://127.0.0.1:8081
    allowed_groups: [staff]
    pass_access_token: true
  - name: chat
    path: /chat
    upstream: unix:/run/chat.sock
    strip_prefix: true
    allowed_groups: students, staff
    upstream_timeout: 1h
  - path: /
    upstream: http://127.0.0.1:8083
    public: true
`

func TestRoutes(t *testing.T) {
	clearEnv(t)
	cfg := mustLoad(t, routesFile(t, "allowed_users: [alice]\nadmin_users: [root]", threeApps), nil)
	if cfg.Upstream != "" || len(cfg.Routes) != 3 || len(cfg.AppRoutes()) != 3 {
		t.Fatalf("upstream %q, %d routes", cfg.Upstream, len(cfg.Routes))
	}
	staff, chat, docs := cfg.Routes[0], cfg.Routes[1], cfg.Routes[2]
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"staff path (trailing slash dropped)", staff.Path, "/staff"},
		{"staff groups", staff.AllowedGroups, []string{"staff"}},
		{"staff inherits allowed_users", staff.AllowedUsers, []string{"alice"}},
		{"staff inherits admin_users", staff.AdminUsers, []string{"root"}},
		{"staff pass_access_token", staff.PassAccessToken, true},
		{"chat groups (a string list)", chat.AllowedGroups, []string{"students", "staff"}},
		{"chat strip_prefix", chat.StripPrefix, true},
		{"chat upstream", chat.Upstream, "unix:/run/chat.sock"},
		{"chat upstream_timeout", chat.UpstreamTimeout, time.Hour},
		{"chat keeps pass_access_token off", chat.PassAccessToken, false},
		{"docs name defaults to the path", docs.Name, "/"},
		{"chat keeps its own name", chat.Name, "chat"},
		{"docs public", docs.Public, true},
		{"index", docs.Index, 2},
		{"top level keeps its own groups", cfg.AllowedGroups, []string(nil)},
	} {
		if !equal(c.got, c.want) {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
}

func equal(a, b any) bool {
	as, ok1 := a.([]string)
	bs, ok2 := b.([]string)
	if ok1 && ok2 {
		return slices.Equal(as, bs)
	}
	return a == b
}

// A route's list replaces the default list, even with an empty one.
func TestRouteListReplacesDefault(t *testing.T) {
	clearEnv(t)
	cfg := mustLoad(t, routesFile(t, "allowed_groups: [staff]\nprovider: jupyterhub", `
  - path: /open
    upstream: http://127.0.0.1:1
    allowed_groups: []
  - path: /
    upstream: http://127.0.0.1:2
`), nil)
	if len(cfg.Routes[0].AllowedGroups) != 0 || !slices.Equal(cfg.Routes[1].AllowedGroups, []string{"staff"}) {
		t.Errorf("groups %q and %q", cfg.Routes[0].AllowedGroups, cfg.Routes[1].AllowedGroups)
	}
}

// Without routes, AppRoutes is the one route hubgate always had.
func TestAppRoutesWithoutRoutes(t *testing.T) {
	clearEnv(t)
	cfg := mustLoad(t, append(slices.Clone(standalone), "--service-prefix", "/services/gate/", "--allowed-users", "alice"), nil)
	rs := cfg.AppRoutes()
	if cfg.Routes != nil || len(rs) != 1 || rs[0].Path != "/services/gate" || rs[0].Upstream != "http://127.0.0.1:8080" || !slices.Equal(rs[0].AllowedUsers, []string{"alice"}) {
		t.Errorf("routes %v, app routes %+v", cfg.Routes, rs)
	}
}

// HUBGATE_ROUTES holds the same list as YAML (or JSON) text.
func TestRoutesFromEnvironment(t *testing.T) {
	clearEnv(t)
	t.Setenv("HUBGATE_ROUTES", `[{"path": "/a", "upstream": "http://127.0.0.1:1", "name": "a"}]`)
	cfg := mustLoad(t, without("upstream"), nil)
	if len(cfg.Routes) != 1 || cfg.Routes[0].Name != "a" {
		t.Errorf("routes %+v", cfg.Routes)
	}
}

// unnamed drops the name from routes[0] (/a).key, for routes named by their path.
var unnamed = regexp.MustCompile(` \([^)]*\)`)

func TestRouteErrors(t *testing.T) {
	one := func(extra string) string { return "  - path: /a\n    upstream: http://127.0.0.1:1\n" + extra }
	tests := []struct {
		name, top, routes string
		key               string // the Error's key
	}{
		{"unknown key", "", one("    allowed_user: [alice]\n"), "routes[0].allowed_user"},
		{"unknown key names the route", "", one("    name: grafana\n    colour: red\n"), "routes[0] (grafana).colour"},
		{"top-level-only key", "", one("    cookie_secret: [x]\n"), "routes[0].cookie_secret"},
		{"no path", "", "  - upstream: http://127.0.0.1:1\n", "routes[0].path"},
		{"relative path", "", "  - path: a\n    upstream: http://127.0.0.1:1\n", "routes[0].path"},
		{"dot segment", "", "  - path: /a/../b\n    upstream: http://127.0.0.1:1\n", "routes[0].path"},
		{"double slash", "", "  - path: //a\n    upstream: http://127.0.0.1:1\n", "routes[0].path"},
		{"encoded", "", "  - path: /a%2Fb\n    upstream: http://127.0.0.1:1\n", "routes[0].path"},
		{"query", "", "  - path: /a?b\n    upstream: http://127.0.0.1:1\n", "routes[0].path"},
		{"control byte", "", "  - path: \"/a\\0b\"\n    upstream: http://127.0.0.1:1\n", "routes[0].path"},
		{"control byte in name", "", one("    name: \"a\\tb\"\n"), "routes[0] (a\tb).name"},
		{"over hubgate's prefix", "", "  - path: /oauth2/x\n    upstream: http://127.0.0.1:1\n", "routes[0].path"},
		{"outside service_prefix", "service_prefix: /services/gate/", "  - path: /other\n    upstream: http://127.0.0.1:1\n", "routes[0].path"},
		{"no upstream", "", "  - path: /a\n", "routes[0].upstream"},
		{"bad upstream", "", "  - path: /a\n    upstream: ftp://x\n", "routes[0].upstream"},
		{"top-level upstream too", "upstream: http://127.0.0.1:9", one(""), "upstream"},
		{"same path twice", "", one("") + "  - path: /a/\n    upstream: http://127.0.0.1:2\n", "routes[1].path"},
		{"same name twice", "", one("    name: x\n") + "  - path: /b\n    upstream: http://127.0.0.1:2\n    name: x\n", "routes[1] (x).name"},
		{"bad name", "", one("    name: a b\n"), "routes[0] (a b).name"},
		{"bad host", "", one("    host: a/b\n"), "routes[0].host"},
		{"bare wildcard", "", one("    host: '*.org'\n"), "routes[0].host"},
		{"wildcard inside", "", one("    host: a.*.org\n"), "routes[0].host"},
		{"public with rules", "", one("    public: true\n    allowed_users: [alice]\n"), "routes[0].public"},
		{"groups the provider lacks", "provider: github", one("    allowed_groups: [staff]\n"), "routes[0].allowed_groups"},
		{"scopes the provider lacks", "provider: github", one("    required_scopes: [read]\n"), "routes[0].required_scopes"},
		{"bad skip_auth_routes", "", one("    skip_auth_routes: ['(']\n"), "routes[0].skip_auth_routes"},
		{"bad upstream_headers", "", one("    upstream_headers: {Cookie: user}\n"), "routes[0].upstream_headers"},
		{"basic auth without password", "", one("    pass_basic_auth: true\n"), "routes[0].basic_auth_password"},
		{"wrong type", "", one("    public: yes please\n"), "routes[0].public"},
		{"bad duration", "", one("    upstream_timeout: soon\n"), "routes[0].upstream_timeout"},
		{"other host without cookie_domain", "", one("    host: b.example.org\n"), "routes[0].host"},
		{"host outside cookie_domain", "cookie_domain: example.org\nredirect_url: https://a.example.org/oauth2/callback", one("    host: b.example.net\n"), "routes[0].host"},
		{"cookie_domain without the callback", "cookie_domain: example.org\nredirect_url: https://a.example.net/oauth2/callback", one(""), "cookie_domain"},
		{"cookie_domain a bare label", "cookie_domain: org", one(""), "cookie_domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			_, err := load(t, routesFile(t, tt.top, tt.routes), nil)
			var ce *config.Error
			key := ""
			if errors.As(err, &ce) {
				key = ce.Key
				if !strings.Contains(tt.key, "(") {
					key = unnamed.ReplaceAllString(key, "")
				}
			}
			if key != tt.key {
				t.Fatalf("error %v, want one naming %q", err, tt.key)
			}
		})
	}
}

// A list that is not a list of mappings is refused when the file is read.
func TestRoutesNotAList(t *testing.T) {
	clearEnv(t)
	for _, body := range []string{"routes: /a", "routes: [/a]", "routes: {path: /a}", "routes: [{5: x}]", "routes: [null]"} {
		if _, err := load(t, append(without("upstream"), "--config", writeYAML(t, body)), nil); err == nil || !strings.Contains(err.Error(), "routes") {
			t.Errorf("%s: error %v", body, err)
		}
	}
}

// Routes on several hosts share one login through cookie_domain.
func TestRoutesCookieDomain(t *testing.T) {
	clearEnv(t)
	args := append(without("upstream"), "--redirect-url", "https://hub.example.org/oauth2/callback", "--config", writeYAML(t, `
cookie_domain: .Example.ORG
routes:
  - host: grafana.example.org
    path: /
    upstream: http://127.0.0.1:1
  - host: '*.apps.example.org'
    path: /
    upstream: http://127.0.0.1:2
  - host: HUB.example.org.
    path: /
    upstream: http://127.0.0.1:3
`))
	cfg := mustLoad(t, args, nil)
	if cfg.CookieDomain != "example.org" || cfg.Routes[2].Host != "hub.example.org" || cfg.Routes[1].Name != "*.apps.example.org/" {
		t.Errorf("cookie_domain %q, host %q, name %q", cfg.CookieDomain, cfg.Routes[2].Host, cfg.Routes[1].Name)
	}
}
