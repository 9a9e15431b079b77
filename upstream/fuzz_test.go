package upstream

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzScrub: after Scrub, no header a server could read as an identity header is left,
// and every other header is.
func FuzzScrub(f *testing.F) {
	for _, seed := range []string{"X-Forwarded-User", "x_forwarded_user", "X-FORWARDED-GROUPS", "X-Auth-Request-Email", "X-Forwarded-For", "X-Forwarded-Userx", "Cookie"} {
		f.Add(seed, "v")
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		h := http.Header{name: {value}, "Accept": {"x"}}
		Scrub(h)
		folded := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
		identity := false
		for _, n := range identityHeaders {
			identity = identity || folded == strings.ToLower(n)
		}
		_, kept := h[name]
		if identity && kept {
			t.Fatalf("%q survived Scrub", name)
		}
		if !identity && name != "Accept" && !kept {
			t.Fatalf("%q is no identity header but was removed", name)
		}
		if _, ok := h["Accept"]; !ok {
			t.Fatal("an unrelated header was removed")
		}
	})
}
