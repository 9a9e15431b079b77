package proxy

import (
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
