package proxy

import (
	"net/http"
	"path"
	"regexp"
	"strings"
)

// SkipRoute is a path that needs no login: an optional method and a regular
// expression on the path.
type SkipRoute struct {
	Method string // "" for any
	Path   *regexp.Regexp
}

// skipsAuth reports whether the request may pass without a login. Only a path that
// is already clean is matched: "..", "//", ";" parameters, encoded slashes or a trailing "/." could
// make an upstream see another path than the one matched, so they never skip. The
// query and fragment are never part of what is matched.
func (s *Server) skipsAuth(r *http.Request) bool {
	if s.o.SkipAuthPreflight && r.Method == http.MethodOptions &&
		r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != "" {
		return true
	}
	if len(s.o.SkipAuthRoutes) == 0 {
		return false
	}
	p := r.URL.Path
	if r.URL.RawPath != "" || !isCleanPath(p) {
		return false
	}
	for _, route := range s.o.SkipAuthRoutes {
		if (route.Method == "" || route.Method == r.Method) && route.Path.MatchString(p) {
			return true
		}
	}
	return false
}

func isCleanPath(p string) bool {
	// ";" starts a path parameter, which servlet containers strip from each
	// segment before resolving "..": /public/..;/private is /private to them.
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00;") {
		return false
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	return clean == p
}
