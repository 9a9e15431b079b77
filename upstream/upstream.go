// Package upstream forwards allowed requests to the protected service, with trusted
// identity headers set by hubgate and every client-sent copy of them removed.
package upstream

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Identity is what the upstream is told about the user.
type Identity struct {
	User        string // "" on a route that needs no login: no identity headers
	Groups      []string
	Email       string
	Admin       bool
	AccessToken string // sent as X-Forwarded-Access-Token when set (pass_access_token)
	// DropAuthorization removes the Authorization header that carried hubgate's
	// credential, so the user's provider token doesn't leak to the upstream.
	DropAuthorization bool
}

// Hop is what the HTTP surface decided about a request it passes on: who it is from,
// and whether its peer is a trusted proxy, whose X-Forwarded-* are kept and extended
// (anyone else's are replaced). A request without a Hop is from nobody, untrusted.
type Hop struct {
	Identity
	TrustedPeer bool
}

type hopKey struct{}

// WithHop attaches what the upstream should be told about the request.
func WithHop(ctx context.Context, h *Hop) context.Context {
	return context.WithValue(ctx, hopKey{}, h)
}

// Options configures the forwarder.
type Options struct {
	Target         string // http(s)://host[:port][/base] or unix:/path
	Timeout        time.Duration
	PassHostHeader bool
	// OwnCookie reports hubgate's own cookies, which never reach the upstream.
	OwnCookie func(name string) bool
	// Observe, if set, is told each round trip's status (0 if it failed) and the time
	// until the response headers.
	Observe func(code int, d time.Duration)
	// ErrorHandler answers when the upstream cannot (down: 502, too slow: 504).
	ErrorHandler func(w http.ResponseWriter, r *http.Request, status int, err error)
	// Headers are the identity headers sent, and scrubbed from the client's request;
	// nil is DefaultHeaders.
	Headers *Headers
	// StripPrefix is taken off the path before it is sent ("/app/x" is "/x" with
	// "/app"), and told to the upstream in X-Forwarded-Prefix.
	StripPrefix string
	// Pool shares connections among forwarders to the same target; nil: their own.
	Pool *Pool
}

// Pool keeps one transport, and so one set of pooled connections, per upstream.
type Pool struct {
	mu sync.Mutex
	m  map[poolKey]*http.Transport
}

type poolKey struct {
	target  string
	timeout time.Duration
}

// NewPool returns an empty Pool.
func NewPool() *Pool { return &Pool{m: map[poolKey]*http.Transport{}} }

// dial is the target and a transport for it: the pool's, when it has one for the
// same target and timeout.
func (p *Pool) dial(raw string, timeout time.Duration) (*url.URL, *http.Transport, error) {
	target, t, err := dial(raw)
	if err != nil {
		return nil, nil, err
	}
	t.ResponseHeaderTimeout = timeout
	if p == nil {
		return target, t, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	k := poolKey{raw, timeout}
	if shared, ok := p.m[k]; ok {
		return target, shared, nil
	}
	p.m[k] = t
	return target, t, nil
}

// New returns the reverse proxy to the upstream.
func New(o Options) (*httputil.ReverseProxy, error) {
	target, transport, err := o.Pool.dial(o.Target, o.Timeout)
	if err != nil {
		return nil, err
	}
	ids := o.Headers
	if ids == nil {
		ids = DefaultHeaders()
	}
	var rt http.RoundTripper = transport
	if o.Observe != nil {
		rt = observed{transport, o.Observe}
	}
	return &httputil.ReverseProxy{
		Transport:  rt,
		BufferPool: copyBuffers{},
		Rewrite: func(pr *httputil.ProxyRequest) {
			if o.StripPrefix != "" {
				stripPrefix(pr.Out.URL, o.StripPrefix)
			}
			pr.SetURL(target)
			h := pr.Out.Header
			hop, _ := pr.In.Context().Value(hopKey{}).(*Hop)
			trusted := hop != nil && hop.TrustedPeer
			ids.scrub(h)
			scrubForwarding(h, trusted)
			forwarded(pr, trusted)
			if o.StripPrefix != "" {
				// After a trusted proxy's own prefix, which it stripped before us.
				h.Set("X-Forwarded-Prefix", strings.TrimSuffix(h.Get("X-Forwarded-Prefix"), "/")+o.StripPrefix)
			}
			if o.PassHostHeader {
				pr.Out.Host = pr.In.Host
			}
			stripCookies(h, o.OwnCookie)
			// ReverseProxy re-encodes a query holding ";" or a bad escape; hubgate
			// makes no decision on the query it passes, so the upstream gets the
			// client's bytes, token parameters removed.
			pr.Out.URL.RawQuery = StripQueryTokens(pr.In.URL.RawQuery)
			if hop == nil || hop.User == "" {
				return
			}
			id := &hop.Identity
			if id.DropAuthorization {
				h.Del("Authorization")
			}
			ids.Upstream(h, id)
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
				return // the client went away; there is nobody to answer
			}
			status := http.StatusBadGateway
			var ne net.Error
			if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
				status = http.StatusGatewayTimeout
			}
			o.ErrorHandler(w, r, status, err)
		},
	}, nil
}

// stripPrefix takes prefix (clean, unescaped, no trailing slash) off u's path. The
// proxy matched the route on every reading of the path, so the escaped form starts
// with the prefix too; when it does not, the decoded path alone is sent.
func stripPrefix(u *url.URL, prefix string) {
	rest, ok := strings.CutPrefix(u.Path, prefix)
	if !ok {
		return
	}
	raw, ok := strings.CutPrefix(u.RawPath, prefix)
	if !ok || u.RawPath == "" {
		raw = ""
	} else {
		raw = rooted(raw)
	}
	u.Path, u.RawPath = rooted(rest), raw
}

// rooted is p with a leading "/": what is left of "/app" without "/app" is "/".
func rooted(p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	return "/" + p
}

// forwarded sets X-Forwarded-For, -Host and -Proto. A trusted proxy in front of
// hubgate (JupyterHub's, nginx) knows the real client and scheme, so its values are
// kept and the chain extended; anyone else's are replaced.
func forwarded(pr *httputil.ProxyRequest, trusted bool) {
	pr.SetXForwarded()
	if !trusted {
		return
	}
	in, out := pr.In.Header, pr.Out.Header
	if prior := in.Values("X-Forwarded-For"); len(prior) > 0 {
		out["X-Forwarded-For"] = []string{strings.Join(prior, ", ") + ", " + out.Get("X-Forwarded-For")}
	}
	for _, name := range []string{"X-Forwarded-Host", "X-Forwarded-Proto"} {
		if v := in.Get(name); v != "" {
			out.Set(name, v)
		}
	}
}

// copyBuffers lends httputil.ReverseProxy the buffers it copies response bodies
// through. Without a pool it allocates 32 KiB for every response, which under load is
// most of the bytes hubgate allocates and so most of its garbage collection.
type copyBuffers struct{}

const copyBufferSize = 32 << 10

var copyBufferPool = sync.Pool{New: func() any { return new([copyBufferSize]byte) }}

func (copyBuffers) Get() []byte { return copyBufferPool.Get().(*[copyBufferSize]byte)[:] }

func (copyBuffers) Put(b []byte) {
	if cap(b) == copyBufferSize {
		copyBufferPool.Put((*[copyBufferSize]byte)(b[:copyBufferSize]))
	}
}

// observed times round trips to the upstream.
type observed struct {
	base    http.RoundTripper
	observe func(int, time.Duration)
}

func (o observed) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := o.base.RoundTrip(r)
	code := 0
	if err == nil {
		code = resp.StatusCode
	}
	o.observe(code, time.Since(start))
	return resp, err
}

// queryTokens are query parameters that carry credentials (JupyterHub's ?token=,
// OAuth's ?access_token=). hubgate authenticates by header or cookie only, and the
// upstream gets identity headers, so a token in the URL is never passed on, where
// the upstream might log it or take it as a login of its own.
var queryTokens = []string{"token", "access_token"}

// StripQueryTokens removes the raw query's token parameters and leaves every other byte
// as the client sent it: decoding and re-encoding the query would reorder it and
// change its encoding, which signed URLs and some apps depend on. A parameter is a
// token when its name, percent-decoded (t%6Fken) and with case ignored, is one of
// queryTokens. Parameters are split at "&" and also at ";", which some servers
// still read as a separator.
func StripQueryTokens(raw string) string {
	// Every spelling of "token" has a k, or a %-escape standing for one.
	if !strings.ContainsAny(raw, "kK%") {
		return raw
	}
	var out strings.Builder
	changed, emitted := false, false // emitted: a kept pair is in out
	for start := 0; start <= len(raw); {
		end := start + strings.IndexAny(raw[start:], "&;")
		if end < start {
			end = len(raw)
		}
		if isQueryToken(raw[start:end]) {
			if !changed {
				// Everything before it stays, without the separator in front of it.
				out.Grow(len(raw))
				out.WriteString(raw[:max(start-1, 0)])
				changed, emitted = true, start > 0
			}
		} else if changed {
			if emitted {
				out.WriteByte(raw[start-1]) // the pair's own separator
			}
			out.WriteString(raw[start:end])
			emitted = true
		}
		start = end + 1
	}
	if !changed {
		return raw
	}
	return out.String()
}

// isQueryToken reports whether a name=value pair is a token parameter.
func isQueryToken(pair string) bool {
	name, _, _ := strings.Cut(pair, "=")
	if len(name) < len("token") || len(name) > 3*len("access_token") {
		return false
	}
	var buf [3 * len("access_token")]byte
	decoded := buf[:0]
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '%' && i+2 < len(name) && isHex(name[i+1]) && isHex(name[i+2]) {
			c = unhex(name[i+1])<<4 | unhex(name[i+2])
			i += 2
		} else if c == '+' {
			c = ' '
		}
		decoded = append(decoded, c)
	}
	for _, t := range queryTokens {
		if strings.EqualFold(string(decoded), t) {
			return true
		}
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// dial builds the target URL and a transport tuned for one busy upstream: enough idle
// connections that requests under load reuse them instead of opening new ones.
func dial(raw string) (*url.URL, *http.Transport, error) {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		DialContext:           dialer.DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
	if path, ok := strings.CutPrefix(raw, "unix:"); ok {
		t.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "unix", path)
		}
		return &url.URL{Scheme: "http", Host: "unix"}, t, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, nil, errors.New("upstream: not an http(s) URL or unix:/path: " + raw)
	}
	return u, t, nil
}

// identityHeaders are the names a client must never be able to set: hubgate's own,
// and (identityPrefix) the X-Auth-Request-* family that auth_request setups copy
// upstream.
var identityHeaders = []string{
	"X-Forwarded-User", "X-Forwarded-Groups", "X-Forwarded-Email",
	"X-Forwarded-Preferred-Username", "X-Forwarded-Admin", "X-Forwarded-Access-Token",
}

const identityPrefix = "X-Auth-Request-"

// forwardingHeaders tell the upstream where a request came from and how. Only a
// trusted proxy may send them, and only in their own spelling (a proxy writes the
// canonical name; another spelling is a client's copy it passed along).
var forwardingHeaders = []string{
	"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port",
	"X-Forwarded-Prefix", "X-Real-Ip", "Forwarded", "X-Forwarded-Scheme", "X-Scheme",
	"X-Forwarded-Ssl", "X-Forwarded-Server", "X-Forwarded-Uri", "X-Original-Uri",
	"X-Forwarded-Method", "X-Original-Method",
}

// IsIdentityHeader reports whether a server could read name as an identity header.
func IsIdentityHeader(name string) bool {
	if hasHeaderPrefix(name, identityPrefix) {
		return true
	}
	for _, id := range identityHeaders {
		if sameHeader(name, id) {
			return true
		}
	}
	return false
}

// Scrub removes every fixed identity header in any spelling: any case, and any byte that
// is not a letter or digit read as "-". Servers disagree on what a name means: nginx
// and WSGI read X_Forwarded_User as X-Forwarded-User, CGI and FastCGI turn every
// such byte into "_" (X.Forwarded.User becomes HTTP_X_FORWARDED_USER). A forwarder
// also drops its Headers' upstream_headers names the same way.
func Scrub(h http.Header) {
	for key := range h {
		// The prefix alone is the shortest identity name; shorter keys need no look.
		if len(key) >= len(identityPrefix) && IsIdentityHeader(key) {
			delete(h, key)
		}
	}
}

// scrubForwarding removes the forwarding headers, folded like Scrub: all of them
// from a client that is not a trusted proxy, and from a trusted proxy every copy
// not in the canonical spelling. ReverseProxy and forwarded set their own after.
func scrubForwarding(h http.Header, trusted bool) {
	for key := range h {
		if len(key) < len("X-Scheme") {
			continue
		}
		for _, name := range forwardingHeaders {
			if sameHeader(key, name) {
				if !trusted || key != name {
					delete(h, key)
				}
				break
			}
		}
	}
}

// sameHeader compares header names as a gateway may: ASCII case ignored, and every
// byte that is not a letter or digit the same as "-".
func sameHeader(a, b string) bool {
	return len(a) == len(b) && hasHeaderPrefix(a, b)
}

func hasHeaderPrefix(a, prefix string) bool {
	if len(a) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if foldHeaderByte(a[i]) != foldHeaderByte(prefix[i]) {
			return false
		}
	}
	return true
}

func foldHeaderByte(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c + 'a' - 'A'
	case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return c
	}
	return '-'
}

// stripCookies removes hubgate's cookies from the Cookie header, keeping the rest byte
// for byte.
func stripCookies(h http.Header, own func(string) bool) {
	lines := h["Cookie"]
	if len(lines) == 0 || own == nil {
		return
	}
	var kept []string
	changed := false
	for _, line := range lines {
		parts := strings.Split(line, ";")
		out := parts[:0]
		for _, p := range parts {
			name, _, _ := strings.Cut(strings.TrimSpace(p), "=")
			if own(name) {
				changed = true
				continue
			}
			out = append(out, p)
		}
		if len(out) > 0 {
			kept = append(kept, strings.TrimSpace(strings.Join(out, ";")))
		}
	}
	if !changed {
		return
	}
	if len(kept) == 0 {
		delete(h, "Cookie")
		return
	}
	h["Cookie"] = kept
}
