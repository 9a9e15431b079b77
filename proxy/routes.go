package proxy

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/hubgate/hubgate/access"
	"github.com/hubgate/hubgate/provider"
	"github.com/hubgate/hubgate/upstream"
)

// Route is one app behind hubgate: the requests it serves (a host and a path
// prefix), where they go, and who may pass.
type Route struct {
	Name string // metrics, the access log and <prefix>/auth?route=NAME
	// Host is "" for any host, "app.example.org", or "*.example.org" for its
	// subdomains; lower case, no port.
	Host string
	// Path is the prefix served: "/" or "/app", which serves /app and /app/...
	// but not /apps.
	Path     string
	Upstream http.Handler
	Access   access.Rules
	// Headers writes the auth endpoint's identity headers; the route's forwarder
	// must be built with the same. nil is upstream.DefaultHeaders.
	Headers           *upstream.Headers
	PassAccessToken   bool
	Public            bool // no login; identity headers are still scrubbed
	SkipAuthRoutes    []SkipRoute
	SkipAuthPreflight bool
}

// routes finds the route of a request: the most specific host (exact, then the
// longest wildcard, then any), and within it the longest path prefix.
type routes struct {
	exact    map[string]map[string]*Route // host → path → route
	wildcard []wildcardRoutes             // longest domain first
	anyHost  map[string]*Route
	byName   map[string]*Route
	// caseless: some route's path has letters, so a path differing only in case
	// could be read as another route's by an upstream that ignores case.
	caseless bool
	// all is the one route when it serves every path of every host (path / and no
	// host, hubgate's usual configuration): no reading of a path can leave it.
	all *Route
}

type wildcardRoutes struct {
	domain string // ".example.org"
	paths  map[string]*Route
}

// covers: host is a subdomain of the wildcard's domain (not the domain itself).
func (w wildcardRoutes) covers(host string) bool {
	return len(host) > len(w.domain) && strings.HasSuffix(host, w.domain)
}

func newRoutes(list []*Route) *routes {
	rs := &routes{exact: map[string]map[string]*Route{}, anyHost: map[string]*Route{}, byName: map[string]*Route{}}
	wild := map[string]map[string]*Route{}
	for _, r := range list {
		rs.byName[r.Name] = r
		if strings.ToLower(r.Path) != strings.ToUpper(r.Path) { // it has letters
			rs.caseless = true
		}
		switch {
		case r.Host == "":
			rs.anyHost[r.Path] = r
		case strings.HasPrefix(r.Host, "*."):
			d := r.Host[1:]
			if wild[d] == nil {
				wild[d] = map[string]*Route{}
			}
			wild[d][r.Path] = r
		default:
			if rs.exact[r.Host] == nil {
				rs.exact[r.Host] = map[string]*Route{}
			}
			rs.exact[r.Host][r.Path] = r
		}
	}
	for d, paths := range wild {
		rs.wildcard = append(rs.wildcard, wildcardRoutes{d, paths})
	}
	sort.Slice(rs.wildcard, func(i, j int) bool { return len(rs.wildcard[i].domain) > len(rs.wildcard[j].domain) })
	if len(list) == 1 && list[0].Host == "" && list[0].Path == "/" {
		rs.all = list[0]
	}
	return rs
}

// allowsSomewhere reports whether some route that needs a login lets u in: a
// login is for all routes, each of which decides again on every request.
func (rs *routes) allowsSomewhere(u *provider.User, fallback *access.Rules) bool {
	protected := false
	for _, r := range rs.byName {
		if r.Public {
			continue
		}
		protected = true
		if r.Access.Decide(u, access.Narrowing{}).Allow {
			return true
		}
	}
	return !protected && fallback.Decide(u, access.Narrowing{}).Allow
}

// routeHost is the request's host as routes are matched on it, or "" when no route
// names a host: then it need not be read.
func (s *Server) routeHost(r *http.Request) string {
	if len(s.routes.exact) == 0 && len(s.routes.wildcard) == 0 {
		return ""
	}
	return requestHost(s.ownHost(r))
}

// servesHost reports whether some route names host (exact or by wildcard).
func (rs *routes) servesHost(host string) bool {
	if rs.exact[host] != nil {
		return true
	}
	return slices.ContainsFunc(rs.wildcard, func(w wildcardRoutes) bool { return w.covers(host) })
}

// match is the route of host (lower case, no port) and the decoded path p, or nil.
func (rs *routes) match(host, p string) *Route {
	if paths := rs.exact[host]; paths != nil {
		if r := longestPrefix(paths, p); r != nil {
			return r
		}
	}
	for _, w := range rs.wildcard {
		if w.covers(host) {
			if r := longestPrefix(w.paths, p); r != nil {
				return r
			}
		}
	}
	return longestPrefix(rs.anyHost, p)
}

// longestPrefix looks p up at each of its "/" boundaries, longest first: as many
// map lookups as p has segments, however many routes there are.
func longestPrefix(paths map[string]*Route, p string) *Route {
	if !strings.HasPrefix(p, "/") {
		return nil
	}
	for q := p; ; {
		if r := paths[q]; r != nil && q != "" {
			return r
		}
		i := strings.LastIndexByte(q, '/')
		if i <= 0 {
			return paths["/"]
		}
		q = q[:i]
	}
}

// find is the route of a request for host and u's path. A path that upstreams
// could read another way — dot segments, encoded slashes or dots, backslashes,
// ";" parameters, a second round of decoding, another case — is read each of
// those ways, and must land on the same route every time: otherwise /public/..
// /staff could pass under the public route's rules and reach the staff app. ok is
// false for such a path (answer 400); the route is nil when none matches (404).
func (rs *routes) find(host string, u *url.URL) (r *Route, ok bool) {
	p := u.Path
	if !strings.HasPrefix(p, "/") {
		return nil, true // "*" (OPTIONS *) or an empty path: no app's
	}
	if rs.all != nil {
		return rs.all, true // one route for everything: every reading is its
	}
	r = rs.match(host, p)
	if u.RawPath == "" && isCleanPath(p) && !strings.Contains(p, "%") && !(rs.caseless && hasUpper(p)) {
		return r, true // the common case: one reading
	}
	escaped := u.EscapedPath()
	readings := []string{
		dotSegments(p, false, false),
		dotSegments(p, true, false),
		dotSegments(strings.ReplaceAll(p, `\`, "/"), true, false),
		unescapedPath(dotSegments(escaped, false, true)),
		unescapedPath(dotSegments(strings.ReplaceAll(escaped, "%5C", "/"), true, true)),
	}
	if twice, err := url.PathUnescape(p); err == nil && twice != p {
		readings = append(readings, dotSegments(twice, true, false))
	}
	if rs.caseless {
		readings = append(readings, strings.ToLower(dotSegments(p, true, false)))
	}
	for _, q := range readings {
		if strings.HasPrefix(q, "//") {
			q = "/" + strings.TrimLeft(q, "/")
		}
		if rs.match(host, q) != r {
			return nil, false
		}
	}
	return r, true
}

// unescapedPath decodes an escaped path; one that does not decode reads as itself.
func unescapedPath(p string) string {
	if d, err := url.PathUnescape(p); err == nil {
		return d
	}
	return p
}

// hasUpper: s has an ASCII capital (checked first, so that lower-casing allocates
// only when it changes something).
func hasUpper(p string) bool {
	for i := 0; i < len(p); i++ {
		if 'A' <= p[i] && p[i] <= 'Z' {
			return true
		}
	}
	return false
}

// requestHost is the host a request is for, as routes are written: the browser's
// (a trusted proxy's X-Forwarded-Host, else Host), lower case, without the port or
// a trailing dot.
func requestHost(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	if hasUpper(h) {
		return strings.ToLower(h)
	}
	return h
}

// skipsAuth reports whether the request may pass the route without a login. Only
// a path that is already clean is matched: "..", "//", ";" parameters, encoded
// slashes or a trailing "/." could make an upstream see another path than the one
// matched, so they never skip. The query and fragment are never part of what is
// matched.
func (rt *Route) skipsAuth(r *http.Request) bool {
	if rt.SkipAuthPreflight && r.Method == http.MethodOptions &&
		r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != "" {
		return true
	}
	if len(rt.SkipAuthRoutes) == 0 {
		return false
	}
	p := r.URL.Path
	if r.URL.RawPath != "" || !isCleanPath(p) {
		return false
	}
	for _, sr := range rt.SkipAuthRoutes {
		if (sr.Method == "" || sr.Method == r.Method) && sr.Path.MatchString(p) {
			return true
		}
	}
	return false
}
