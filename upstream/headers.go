package upstream

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
)

// HeaderOptions are the identity-header switches as the configuration names them.
type HeaderOptions struct {
	PassUser    bool   // pass_user_headers: X-Forwarded-User, -Email, -Groups, -Preferred-Username, -Admin
	PreferEmail bool   // prefer_email_to_user: X-Forwarded-User (and the Basic user) is the e-mail
	AuthRequest bool   // set_xauthrequest: the auth endpoint's 202 carries X-Auth-Request-*
	BasicAuth   string // pass_basic_auth's basic_auth_password; "" sends no Basic header
	// Mapped is upstream_headers: a header name for an identity field (see fields).
	Mapped map[string]string
}

// fields are the identity fields upstream_headers may name.
var fields = []string{"user", "email", "groups", "preferred_username", "admin"}

// Headers decides which identity headers the upstream and the auth endpoint's answer
// carry, with what values: the one place that writes them.
type Headers struct {
	o      HeaderOptions
	mapped []mapped // sorted by name, so the output does not depend on map order
	// minScrub is the shortest name scrub must look at: shorter keys are skipped
	// without a comparison, which keeps the common case cheap.
	minScrub int
}

type mapped struct {
	name  string // canonical
	field string
}

// DefaultHeaders is what hubgate sends with no switches set.
func DefaultHeaders() *Headers {
	h, _ := NewHeaders(HeaderOptions{PassUser: true, AuthRequest: true})
	return h
}

// NewHeaders checks the upstream_headers mapping and builds the writer.
func NewHeaders(o HeaderOptions) (*Headers, error) {
	h := &Headers{o: o, minScrub: len(identityPrefix)}
	for name, field := range o.Mapped {
		if err := checkMapped(name, field); err != nil {
			return nil, err
		}
		canon := textproto.CanonicalMIMEHeaderKey(name)
		for _, m := range h.mapped {
			if sameHeader(m.name, canon) {
				return nil, fmt.Errorf("%q and %q are the same header", m.name, canon)
			}
		}
		h.mapped = append(h.mapped, mapped{canon, field})
		h.minScrub = min(h.minScrub, len(canon))
	}
	slices.SortFunc(h.mapped, func(a, b mapped) int { return strings.Compare(a.name, b.name) })
	return h, nil
}

// refusedHeaders would let a mapping change how the request is framed, routed or
// authenticated rather than say who the user is.
var refusedHeaders = []string{
	"Cookie", "Set-Cookie", "Host", "Content-Length", "Content-Type", "Transfer-Encoding",
	"Connection", "Upgrade", "Te", "Trailer", "Keep-Alive", "Expect",
}

func checkMapped(name, field string) error {
	if name == "" || strings.TrimLeft(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
		return fmt.Errorf("%q: a header name has letters, digits and '-' only", name)
	}
	switch {
	case sameHeader(name, "Authorization"):
		return fmt.Errorf("%q: use pass_basic_auth to send Authorization", name)
	case hasHeaderPrefix(name, "Proxy-"):
		return fmt.Errorf("%q: Proxy-* headers are for the connection, not the user", name)
	}
	for _, list := range [][]string{refusedHeaders, forwardingHeaders} {
		for _, r := range list {
			if sameHeader(name, r) {
				return fmt.Errorf("%q cannot carry the identity: it is the request's own", name)
			}
		}
	}
	switch {
	case field == "access_token":
		return fmt.Errorf("%q: access_token: use pass_access_token (X-Forwarded-Access-Token)", name)
	case !slices.Contains(fields, field):
		return fmt.Errorf("%q: unknown field %q; use %s", name, field, strings.Join(fields, ", "))
	}
	return nil
}

// Upstream writes the identity headers of a proxied request, after the client's
// copies were scrubbed. A mapped header comes last, so it may replace a standard one.
func (h *Headers) Upstream(out http.Header, id *Identity) {
	user := id.User
	if h.o.PreferEmail && id.Email != "" {
		user = id.Email
	}
	if h.o.PassUser {
		out["X-Forwarded-User"] = []string{user}
		out["X-Forwarded-Preferred-Username"] = []string{id.User}
		out["X-Forwarded-Groups"] = []string{strings.Join(id.Groups, ",")}
		out["X-Forwarded-Admin"] = []string{strconv.FormatBool(id.Admin)}
		if id.Email != "" && !h.o.PreferEmail {
			out["X-Forwarded-Email"] = []string{id.Email}
		}
	}
	if id.AccessToken != "" {
		out["X-Forwarded-Access-Token"] = []string{id.AccessToken}
	}
	if h.o.BasicAuth != "" {
		// Replaces the client's Authorization: the upstream trusts this one.
		out["Authorization"] = []string{"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+h.o.BasicAuth))}
	}
	h.writeMapped(out, id, false)
}

// AuthAnswer writes the identity headers of the auth endpoint's 202, for nginx
// auth_request_set, Traefik authResponseHeaders and Caddy copy_headers. Proxied
// responses never get them: page scripts would read them (the access token too).
func (h *Headers) AuthAnswer(out http.Header, id *Identity) {
	if h.o.AuthRequest {
		name := []string{id.User} // one slice for both: the headers are only read
		out["X-Auth-Request-User"] = name
		out["X-Auth-Request-Preferred-Username"] = name
		out["X-Auth-Request-Groups"] = []string{strings.Join(id.Groups, ",")}
		// Named even when empty: Caddy before 2.10 keeps a client's copy of a header
		// the answer lacks (or sets its own unexpanded placeholder); nginx drops
		// empty ones.
		out["X-Auth-Request-Email"] = []string{id.Email}
		if id.AccessToken != "" {
			out["X-Auth-Request-Access-Token"] = []string{id.AccessToken}
		}
	}
	h.writeMapped(out, id, true)
}

// writeMapped writes upstream_headers. An empty field sends no header upstream;
// in the auth answer (named) it is there, empty, for the reason above.
func (h *Headers) writeMapped(out http.Header, id *Identity, named bool) {
	for _, m := range h.mapped {
		var v string
		switch m.field {
		case "user", "preferred_username":
			v = id.User
		case "email":
			v = id.Email
		case "groups":
			v = strings.Join(id.Groups, ",")
		case "admin":
			v = strconv.FormatBool(id.Admin)
		}
		if v == "" && !named {
			delete(out, m.name) // nothing known: no header, not a standard one's value
			continue
		}
		out[m.name] = []string{v}
	}
}

// scrub removes the client's copies of every identity header, the fixed ones and the
// mapped ones, in any spelling (see Scrub).
func (h *Headers) scrub(hdr http.Header) {
	if len(h.mapped) == 0 {
		Scrub(hdr) // the common case, as fast as before upstream_headers
		return
	}
	for key := range hdr {
		if len(key) >= h.minScrub && (IsIdentityHeader(key) || h.isMapped(key)) {
			delete(hdr, key)
		}
	}
}

func (h *Headers) isMapped(key string) bool {
	for _, m := range h.mapped {
		if sameHeader(key, m.name) {
			return true
		}
	}
	return false
}
