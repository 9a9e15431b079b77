package config

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Route is one app behind hubgate (a routes entry): where it is, what it forwards
// to, and its settings — the top-level ones with the entry's own keys applied.
type Route struct {
	Index       int    // in the routes list, for messages
	Name        string // for <prefix>/auth?route=NAME, metrics and logs; defaults to the path
	Host        string // "" any host; "app.example.org" or "*.example.org", lower case
	Path        string // a prefix, "/" or "/app" (no trailing slash)
	StripPrefix bool   // the upstream sees the path without Path
	Public      bool   // no login; identity headers are still scrubbed
	// Config is the route's settings: Upstream, the access rules, skip_auth_routes,
	// pass_access_token and the identity headers are the route's own, the rest the
	// top level's.
	Config
}

// routeOnlyKeys are the keys a routes entry has and the top level has not.
func routeOnlyKeys(r *Route) []Key {
	return []Key{
		str("name", &r.Name, "", "the route's name: <prefix>/auth?route=NAME, the route_name metric label and the access log's route"),
		str("host", &r.Host, "", "the route serves this host only: app.example.org, or *.example.org for its subdomains"),
		str("path", &r.Path, "", "the route serves this path and below (a prefix; the longest match wins)"),
		boolean("strip_prefix", &r.StripPrefix, false, "the upstream sees the path without the route's path"),
		boolean("public", &r.Public, false, "no login for this route; identity headers are still removed"),
	}
}

// routeKeys are the top-level keys a routes entry may set for itself.
var routeKeys = []string{
	"upstream", "allowed_users", "allowed_groups", "admin_users", "required_scopes",
	"skip_auth_routes", "skip_auth_preflight", "pass_access_token", "pass_user_headers",
	"prefer_email_to_user", "pass_basic_auth", "set_xauthrequest", "upstream_headers",
	"pass_host_header", "upstream_timeout",
}

// parseRouteSpecs reads the routes key: YAML (the file's list, or the text of the
// flag or HUBGATE_ROUTES), a list of mappings, read into Routes by normalizeRoutes.
func parseRouteSpecs(key, text string) ([]map[string]interface{}, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	var specs []map[string]interface{}
	if err := yaml.Unmarshal([]byte(text), &specs); err != nil {
		return nil, bad(key, "expected a list of mappings (path:, upstream:, ...): %v", yamlProblem(err))
	}
	return specs, nil
}

// yamlProblem is a YAML error without the value it quotes, which may be a secret.
func yamlProblem(err error) string {
	if te, ok := err.(*yaml.TypeError); ok && len(te.Errors) > 0 {
		msg, _, _ := strings.Cut(te.Errors[0], " `")
		return msg
	}
	return err.Error()
}

// routeError names the route at fault by index and name.
func routeError(r *Route, err error) error {
	where := fmt.Sprintf("routes[%d]", r.Index)
	if r.Name != "" {
		where += fmt.Sprintf(" (%s)", r.Name)
	}
	if e, ok := err.(*Error); ok {
		return &Error{Key: where + "." + e.Key, Msg: e.Msg}
	}
	return &Error{Key: where, Msg: err.Error()}
}

// AppRoutes are the routes hubgate serves: Routes, or without a routes key the one
// route that serves service_prefix from upstream with the top-level settings.
func (c *Config) AppRoutes() []*Route {
	if len(c.Routes) > 0 {
		return c.Routes
	}
	r := &Route{Path: strings.TrimSuffix(c.ServicePrefix, "/"), Config: c.routeBase()}
	if r.Path == "" {
		r.Path = "/"
	}
	return []*Route{r}
}

// normalizeRoutes builds Routes from the routes key. The top level must be
// normalized already: each route starts as a copy of it.
func (c *Config) normalizeRoutes() error {
	if len(c.routeSpecs) == 0 {
		return c.checkCookieDomain()
	}
	if c.Upstream != "" {
		return bad("upstream", "with routes, each route names its own upstream: move it to a route with path: / (the catch-all)")
	}
	c.Routes = nil
	for i, spec := range c.routeSpecs {
		r := &Route{Index: i, Config: c.routeBase()}
		if err := c.readRoute(r, spec); err != nil {
			return routeError(r, err)
		}
		c.Routes = append(c.Routes, r)
	}
	return c.checkRouteSet()
}

// routeBase is what a route inherits: the top level, without the routes.
func (c *Config) routeBase() Config {
	base := *c
	base.Routes, base.routeSpecs = nil, nil
	return base
}

// readRoute applies one routes entry to r and checks it.
func (c *Config) readRoute(r *Route, spec map[string]interface{}) error {
	byName := map[string]Key{}
	for _, k := range routeOnlyKeys(r) {
		byName[k.Name] = k
	}
	for _, k := range keys(&r.Config) {
		if slices.Contains(routeKeys, k.Name) {
			byName[k.Name] = k
		}
	}
	names := make([]string, 0, len(spec))
	for name := range spec {
		names = append(names, name)
	}
	sort.Strings(names) // errors come out the same every run
	// The name first, so errors about the other keys can say which route it is.
	if v, ok := spec["name"].(string); ok {
		r.Name = v
	}
	for _, name := range names {
		k, ok := byName[name]
		if !ok {
			return &Error{Key: name, Msg: "unknown key in a route (a route takes: " + strings.Join(routeKeyList(), ", ") + ")"}
		}
		v := spec[name]
		if v == nil {
			continue
		}
		v, err := k.kind.check(v)
		if err == nil {
			err = k.f.set(k, v)
		}
		if err != nil {
			if _, ok := err.(*Error); ok {
				return err
			}
			return &Error{Key: name, Msg: err.Error()}
		}
	}
	return r.check(c)
}

func routeKeyList() []string {
	var names []string
	for _, k := range routeOnlyKeys(&Route{}) {
		names = append(names, k.Name)
	}
	return append(names, routeKeys...)
}

// check validates one route's own settings against the top level c.
func (r *Route) check(c *Config) error {
	if r.Path == "" {
		return bad("path", "is required: the path prefix this route serves, e.g. /grafana or / for everything else")
	}
	if !cleanRoutePath(r.Path) {
		return bad("path", "%q is not a clean absolute path like /grafana/", r.Path)
	}
	r.Path = strings.TrimSuffix(r.Path, "/")
	if r.Path == "" {
		r.Path = "/"
	}
	if !underPrefix(r.Path, c.ServicePrefix) {
		return bad("path", "%q is outside service_prefix %s, where hubgate's cookie does not reach", r.Path, c.ServicePrefix)
	}
	if underPrefix(r.Path, c.Prefix) {
		return bad("path", "%q is hubgate's own (prefix %s)", r.Path, c.Prefix)
	}
	if err := r.normalizeHost(); err != nil {
		return err
	}
	if r.Name == "" {
		r.Name = r.Host + r.Path
	}
	if strings.ContainsAny(r.Name, " ,&=?#\"'<>\\%+") || hasControl(r.Name) {
		return bad("name", "%q: use letters, digits and - _ . / * only (it goes in ?route=NAME)", r.Name)
	}
	if err := checkUpstream(r.Upstream); err != nil {
		return err
	}
	if r.Public && (len(r.AllowedUsers) > 0 || len(r.AllowedGroups) > 0 || len(r.RequiredScopes) > 0) && !r.inheritsRules(c) {
		return bad("public", "a public route lets everyone in: remove its allowed_users, allowed_groups and required_scopes")
	}
	if err := r.Config.checkAccessOptions(); err != nil {
		return err
	}
	return r.Config.checkHeaders()
}

// inheritsRules: a public route may keep the top level's rules, which it ignores.
func (r *Route) inheritsRules(c *Config) bool {
	return slices.Equal(r.AllowedUsers, c.AllowedUsers) && slices.Equal(r.AllowedGroups, c.AllowedGroups) &&
		slices.Equal(r.RequiredScopes, c.RequiredScopes)
}

func (r *Route) normalizeHost() error {
	h := strings.TrimSuffix(strings.ToLower(r.Host), ".")
	r.Host = h
	if h == "" {
		return nil
	}
	name := strings.TrimPrefix(h, "*.")
	if name == "" || strings.Contains(name, "*") || strings.ContainsAny(name, "/:@ ?#[]") || strings.HasPrefix(name, ".") || strings.Contains(name, "..") {
		return bad("host", "%q is not a host name (app.example.org) or *.example.org", r.Host)
	}
	if name != h && !strings.Contains(name, ".") {
		return bad("host", "%q: a wildcard needs a domain with a dot, like *.example.org", r.Host)
	}
	return nil
}

// checkRouteSet checks the routes against each other: names and (host, path) pairs
// are unique, and routes on several hosts share one login only through cookie_domain.
func (c *Config) checkRouteSet() error {
	names, places := map[string]*Route{}, map[[2]string]*Route{}
	for _, r := range c.Routes {
		place := [2]string{r.Host, r.Path}
		if other, ok := places[place]; ok {
			return routeError(r, bad("path", "routes[%d] already serves %s%s: this route would never be used", other.Index, r.Host, r.Path))
		}
		places[place] = r
		if other, ok := names[r.Name]; ok {
			return routeError(r, bad("name", "%q is also routes[%d]'s name", r.Name, other.Index))
		}
		names[r.Name] = r
	}
	return c.checkCookieDomain()
}

// cleanRoutePath: a route's path is absolute and written as the proxy compares it,
// decoded: no escapes, query, dot segments, repeated slashes, ";" or "\\".
func cleanRoutePath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.Contains(p, "//") || strings.ContainsAny(p, "\\;%?#") || hasControl(p) {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// hasControl: s holds a control byte, which no path or name may.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(c rune) bool { return c < 0x20 || c == 0x7f })
}

// underPrefix: p is prefix or below it ("/a" is under "/a/" and "/a", "/ab" is not).
func underPrefix(p, prefix string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	return prefix == "" || p == prefix || strings.HasPrefix(p, prefix+"/")
}

// checkCookieDomain validates cookie_domain, and requires it when routes span
// hosts: the callback sets the session cookie on redirect_url's host, and only a
// cookie for a shared parent domain reaches the other hosts.
func (c *Config) checkCookieDomain() error {
	d := strings.TrimPrefix(strings.TrimSuffix(strings.ToLower(c.CookieDomain), "."), ".")
	c.CookieDomain = d
	callback := ""
	if u, err := url.Parse(c.RedirectURL); err == nil {
		callback = strings.ToLower(u.Hostname())
	}
	if d != "" {
		if !strings.Contains(d, ".") || strings.ContainsAny(d, "/:@ *") {
			return bad("cookie_domain", "%q is not a parent domain like example.org", c.CookieDomain)
		}
		if strings.HasPrefix(c.CookieName, "__Host-") {
			return bad("cookie_domain", "a __Host- cookie (cookie_name %s) may not have a domain", c.CookieName)
		}
		if callback != "" && !inDomain(callback, d) {
			return bad("cookie_domain", "%s does not include redirect_url's host %s, where the session cookie is set", d, callback)
		}
	}
	for _, r := range c.Routes {
		host := strings.TrimPrefix(r.Host, "*.")
		if r.Host == "" || callback == "" || host == callback && r.Host == host {
			continue
		}
		if d == "" {
			return routeError(r, bad("host", "%s is not redirect_url's host %s: set cookie_domain to a domain both are in, so one login serves both", r.Host, callback))
		}
		if !inDomain(host, d) {
			return routeError(r, bad("host", "%s is not in cookie_domain %s", r.Host, d))
		}
	}
	return nil
}

// inDomain: host is domain or one of its subdomains.
func inDomain(host, domain string) bool {
	return host == domain || strings.HasSuffix(host, "."+domain)
}
