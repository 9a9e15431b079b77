package proxy

import (
	"net/url"
	"strings"
)

// safeRedirect returns rd if it is a path on this origin, else fallback. Browsers read
// "//host", "/\host" and a tab or newline between slashes as another site, so anything
// but a plain absolute path is refused. The check is on the decoded form: whatever
// is unsafe raw is unsafe decoded too, and encoding must not hide "//" or "\".
func safeRedirect(rd, fallback string) string {
	decoded, err := url.PathUnescape(rd)
	if err != nil || !isLocalPath(decoded) {
		return fallback
	}
	u, err := url.Parse(rd)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return fallback
	}
	return rd
}

func isLocalPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	return true
}
