package oauth2proxy

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/hubgate/hubgate/config"
)

// Translation is the hubgate configuration made from an oauth2-proxy one.
type Translation struct {
	keys []entry // in the order they are written
	// Notes name each option that was set but not carried over, with the reason
	// (not needed, unsupported, or replaced by), and each key whose effect differs.
	Notes []string
}

type entry struct {
	key   string
	value any // string, bool, []string or map[string]string
}

// hubgateKeys are the keys a translation may write: config's table.
var hubgateKeys = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range config.Keys() {
		m[k.Name] = true
	}
	return m
}()

func (t *Translation) put(key string, value any) {
	if !hubgateKeys[key] {
		panic("oauth2proxy: the translator wrote " + key + ", which is no hubgate key") // a typo here, not in the input
	}
	for i := range t.keys {
		if t.keys[i].key == key {
			t.keys[i].value = value
			return
		}
	}
	t.keys = append(t.keys, entry{key, value})
}

// Get returns a key's value, for tests and callers that check one.
func (t *Translation) Get(key string) (any, bool) {
	for _, e := range t.keys {
		if e.key == key {
			return e.value, true
		}
	}
	return nil, false
}

// YAML writes the keys in order, under a comment saying where they came from.
func (t *Translation) YAML(from string) ([]byte, error) {
	doc := &yaml.Node{Kind: yaml.MappingNode}
	for _, e := range t.keys {
		var v yaml.Node
		if err := v.Encode(e.value); err != nil {
			return nil, err
		}
		doc.Content = append(doc.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: e.key}, &v)
	}
	doc.HeadComment = "hubgate configuration, imported from oauth2-proxy (" + from + ").\n" +
		"Check it with: hubgate check-config --config FILE. Users sign in once more:\n" +
		"oauth2-proxy's session cookies are not hubgate's."
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

// translator carries one translation: what was taken from the source, and what
// could not be carried over safely.
type translator struct {
	src     *Source
	out     *Translation
	used    map[string]bool
	refused []string
	read    func(string) ([]byte, error)
}

// Translate maps src onto hubgate's keys. It refuses (with every reason at once) a
// configuration whose translation would let someone in that oauth2-proxy kept out,
// or would not start; readFile reads the secret and e-mail files it names.
func Translate(src *Source, readFile func(string) ([]byte, error)) (*Translation, error) {
	tr := &translator{src: src, out: &Translation{}, used: map[string]bool{}, read: readFile}
	tr.mapOptions()
	tr.leftovers()
	if len(tr.refused) > 0 {
		return nil, errors.New(strings.Join(tr.refused, "\n"))
	}
	return tr.out, nil
}

// mapOptions carries over every option hubgate has a key for.
func (tr *translator) mapOptions() {
	tr.server()
	tr.upstreams()
	tr.provider()
	tr.sessionCookie()
	tr.requests()
	tr.store()
}

// take marks an option as handled and reports whether it is set.
func (tr *translator) take(names ...string) bool {
	set := false
	for _, n := range names {
		tr.used[n] = true
		set = set || tr.src.has(n)
	}
	return set
}

func (tr *translator) label(name string) string {
	if w := tr.src.where(name); w != "" {
		return name + " (" + w + ")"
	}
	return name
}

// note says why an option that was set is not carried over as it was.
func (tr *translator) note(name, format string, args ...any) {
	tr.out.Notes = append(tr.out.Notes, tr.label(name)+": "+fmt.Sprintf(format, args...))
}

// refuse stops the translation: carrying on would change who may pass, or give a
// configuration that cannot work.
func (tr *translator) refuse(name, format string, args ...any) {
	tr.refused = append(tr.refused, tr.label(name)+": "+fmt.Sprintf(format, args...))
}

func (tr *translator) server() {
	s := tr.src
	tr.take("http_address", "https_address", "tls_cert_file", "tls_key_file", "metrics_address", "proxy_prefix", "upstream_timeout", "ping_path", "ready_path")
	if s.has("tls_cert_file") || s.has("tls_key_file") {
		addr := s.str("https_address")
		if addr == "" {
			addr = ":443" // oauth2-proxy's default https_address
		}
		tr.out.put("listen", listenAddress(addr))
		tr.out.put("tls_cert_file", s.str("tls_cert_file"))
		tr.out.put("tls_key_file", s.str("tls_key_file"))
		if s.has("http_address") {
			tr.note("http_address", "not carried over: hubgate serves one listener, here the TLS one (https_address)")
		}
	} else if s.has("http_address") {
		tr.out.put("listen", listenAddress(s.str("http_address")))
		if s.has("https_address") {
			tr.note("https_address", "not carried over: without tls_cert_file and tls_key_file there is nothing to serve on it")
		}
	} else if s.has("https_address") {
		tr.note("https_address", "not carried over: without tls_cert_file and tls_key_file there is nothing to serve on it")
	}
	if s.has("metrics_address") {
		tr.out.put("metrics_listen", listenAddress(s.str("metrics_address")))
	}
	if s.has("proxy_prefix") {
		tr.out.put("prefix", s.str("proxy_prefix"))
	}
	if s.has("upstream_timeout") {
		tr.out.put("upstream_timeout", shortDuration(s.dur("upstream_timeout")))
	}
	for name, want := range map[string]string{"ping_path": "/ping", "ready_path": "/ready"} {
		if s.has(name) && s.str(name) != want {
			tr.note(name, "not carried over: hubgate answers health checks at %s", want)
		}
	}
}

// listenAddress turns oauth2-proxy's http://host:port or unix:///path into hubgate's
// host:port or unix:/path.
func listenAddress(addr string) string {
	if path, ok := strings.CutPrefix(addr, "unix://"); ok {
		return "unix:" + path
	}
	addr = strings.TrimPrefix(strings.TrimPrefix(addr, "http://"), "https://")
	return strings.TrimSuffix(addr, "/")
}

func (tr *translator) upstreams() {
	if !tr.take("upstreams") {
		tr.refuse("upstreams", "is not set; hubgate needs the service to protect (--upstream=http://127.0.0.1:8080/)")
		return
	}
	type upstream struct{ target, path string }
	var ups []upstream
	for _, raw := range tr.src.list("upstreams") {
		target, path, err := upstreamTarget(raw)
		if err != nil {
			tr.note("upstreams", "%q not carried over: %v", raw, err)
			continue
		}
		path = strings.TrimSuffix(path, "/")
		if path == "" {
			path = "/"
		}
		if slices.ContainsFunc(ups, func(u upstream) bool { return u.path == path }) {
			tr.note("upstreams", "%q not carried over: an earlier upstream serves %s", raw, path)
			continue
		}
		ups = append(ups, upstream{target, path})
	}
	switch {
	case len(ups) == 0:
		tr.refuse("upstreams", "has no http(s) or unix upstream for hubgate to forward to")
	case len(ups) == 1 && ups[0].path != "/":
		tr.note("upstreams", "oauth2-proxy sent only %s to %s; hubgate forwards every path to it", ups[0].path, ups[0].target)
		fallthrough
	case len(ups) == 1:
		tr.out.put("upstream", ups[0].target)
	default:
		// Several upstreams are routes: each its path and below (oauth2-proxy also
		// sent /apix to /api), all with the top-level rules.
		var routes []map[string]string
		for _, u := range ups {
			routes = append(routes, map[string]string{"path": u.path, "upstream": u.target})
		}
		tr.note("upstreams", "each upstream is a route (path and below, the longest path wins; no route for a path is 404); give a route its own rules in hubgate (see README, Several apps: routes)")
		tr.out.put("routes", routes)
	}
}

// upstreamTarget reads an oauth2-proxy upstream: http(s)://host[:port][/path] or
// unix:///socket. The path is the prefix oauth2-proxy routes on.
func upstreamTarget(raw string) (target, path string, err error) {
	if sock, ok := strings.CutPrefix(raw, "unix://"); ok {
		return "unix:" + sock, "/", nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", errors.New("not a URL")
	}
	switch u.Scheme {
	case "http", "https":
	case "file":
		return "", "", errors.New("hubgate serves no files; put a web server behind it")
	case "static":
		return "", "", errors.New("hubgate has no static responses")
	default:
		return "", "", fmt.Errorf("scheme %q is not http(s) or unix", u.Scheme)
	}
	path = u.Path
	if path == "" {
		path = "/"
	}
	return u.Scheme + "://" + u.Host, path, nil
}

// secret returns the value of a secret option or of its _file twin.
func (tr *translator) secret(name string) (string, bool) {
	file := name + "_file"
	set := tr.take(name, file)
	if !tr.src.has(file) || tr.src.has(name) {
		return tr.src.str(name), set
	}
	data, err := tr.read(tr.src.str(file))
	if err != nil {
		tr.refuse(file, "cannot be read: %v", err)
		return "", true
	}
	tr.note(file, "replaced by %s: the file's content is written into the output; keep the output as private as the file", name)
	return strings.TrimSpace(string(data)), true
}

func (tr *translator) sessionCookie() {
	s := tr.src
	if tr.take("cookie_name") {
		tr.out.put("cookie_name", s.str("cookie_name"))
	}
	secret, _ := tr.secret("cookie_secret")
	if len(secret) < 32 {
		secret = newSecret()
		tr.note("cookie_secret", "replaced by a new random secret: hubgate needs at least 32 characters, and oauth2-proxy's cookies do not carry over anyway")
	}
	tr.out.put("cookie_secret", secret)
	if tr.take("cookie_expire") {
		if d := s.dur("cookie_expire"); d > 0 {
			tr.out.put("cookie_expire", shortDuration(d))
		} else {
			tr.note("cookie_expire", "not carried over: hubgate's sessions always have a lifetime (default 168h)")
		}
	}
	if tr.take("cookie_refresh") && s.dur("cookie_refresh") > 0 {
		tr.out.put("cache_ttl", shortDuration(s.dur("cookie_refresh")))
		tr.note("cookie_refresh", "replaced by cache_ttl: hubgate asks the provider again after that long, and refreshes tokens as they expire")
	}
	if tr.take("cookie_domains") {
		tr.note("cookie_domains", "unsupported: hubgate's session cookie belongs to its own host")
	}
	if tr.take("cookie_path") && s.str("cookie_path") != "/" {
		tr.note("cookie_path", "not carried over: the cookie's path is service_prefix (default /)")
	}
	if tr.take("cookie_secure") && !s.boolean("cookie_secure") {
		tr.note("cookie_secure", "not needed: hubgate sets Secure whenever the browser uses https, and only then")
	}
	if tr.take("cookie_httponly") && !s.boolean("cookie_httponly") {
		tr.note("cookie_httponly", "unsupported: hubgate's cookies are always HttpOnly")
	}
	if tr.take("cookie_samesite") && !strings.EqualFold(s.str("cookie_samesite"), "lax") && s.str("cookie_samesite") != "" {
		tr.note("cookie_samesite", "unsupported: hubgate's session cookie is always SameSite=Lax")
	}
}

// shortDuration writes 168h, not 168h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// requests maps what decides, per request, who passes and what the upstream gets.
func (tr *translator) requests() {
	s := tr.src
	var routes []string
	if tr.take("skip_auth_routes") {
		routes = append(routes, s.list("skip_auth_routes")...)
	}
	if tr.take("skip_auth_regex") {
		routes = append(routes, s.list("skip_auth_regex")...)
	}
	if len(routes) > 0 {
		tr.out.put("skip_auth_routes", routes)
	}
	if tr.take("whitelist_domains") {
		tr.out.put("whitelist_domains", s.list("whitelist_domains"))
	}
	for _, name := range []string{"skip_auth_preflight", "pass_access_token", "pass_host_header"} {
		if tr.take(name) {
			tr.out.put(name, s.boolean(name))
		}
	}
	if tr.take("reverse_proxy", "trusted_proxy_ips") {
		switch ips := s.list("trusted_proxy_ips"); {
		case len(ips) > 0:
			tr.out.put("trusted_proxies", ips)
		case s.boolean("reverse_proxy"):
			tr.note("reverse_proxy", "replaced by trusted_proxies: hubgate believes X-Forwarded-* only from those addresses (default: this machine); list your proxy's if it runs elsewhere")
		}
	}
	if tr.take("trusted_ips") {
		tr.note("trusted_ips", "not carried over: hubgate lets no address past the login")
	}
	tr.identityHeaders()
	if tr.take("skip_auth_strip_headers") && !s.boolean("skip_auth_strip_headers") {
		tr.note("skip_auth_strip_headers", "not needed: hubgate always drops the client's identity headers")
	}
	if tr.take("request_logging") && !s.boolean("request_logging") {
		tr.out.put("log_level", string(config.LogWarn))
		tr.note("request_logging", "replaced by log_level warn: the access log is hubgate's info level")
	}
}

// identityHeaders maps oauth2-proxy's legacy header options (legacy_options.go):
// pass_basic_auth and pass_user_headers default to true there, set_xauthrequest to
// false, and Basic goes only with a basic_auth_password.
func (tr *translator) identityHeaders() {
	s := tr.src
	or := func(name string, def bool) bool {
		if tr.take(name) {
			return s.boolean(name)
		}
		return def
	}
	basic, user := or("pass_basic_auth", true), or("pass_user_headers", true)
	// oauth2-proxy sends X-Forwarded-User and friends with either option.
	if pass := basic || user; !pass || s.has("pass_basic_auth") || s.has("pass_user_headers") {
		tr.out.put("pass_user_headers", pass)
	}
	switch password := s.str("basic_auth_password"); {
	case tr.take("basic_auth_password") && basic && password != "":
		tr.out.put("pass_basic_auth", true)
		tr.out.put("basic_auth_password", password)
	case password != "":
		tr.note("basic_auth_password", "not needed: pass_basic_auth is false, so oauth2-proxy sent no Basic header")
	case s.has("pass_basic_auth") && basic:
		tr.note("pass_basic_auth", "not needed: oauth2-proxy sends no Basic header without basic_auth_password")
	}
	// hubgate's default is true; oauth2-proxy's false.
	tr.take("set_xauthrequest")
	tr.out.put("set_xauthrequest", s.boolean("set_xauthrequest"))
	if tr.take("prefer_email_to_user") && s.boolean("prefer_email_to_user") {
		tr.out.put("prefer_email_to_user", true)
	}
}

func (tr *translator) store() {
	s := tr.src
	tr.take("session_store_type")
	switch t := s.str("session_store_type"); t {
	case "", "cookie":
		return
	case "redis":
	default:
		tr.refuse("session_store_type", "%q: hubgate keeps sessions in the cookie or in Redis", t)
		return
	}
	tr.out.put("session_store", string(config.SessionRedis))
	if tr.take("redis_use_cluster", "redis_cluster_connection_urls") && s.boolean("redis_use_cluster") {
		tr.refuse("redis_use_cluster", "hubgate does not speak Redis Cluster; use one Redis or Sentinel")
		return
	}
	tr.take("redis_connection_url", "redis_username", "redis_password", "redis_sentinel_password",
		"redis_use_sentinel", "redis_sentinel_master_name", "redis_sentinel_connection_urls")
	raw := s.str("redis_connection_url")
	if s.boolean("redis_use_sentinel") {
		var addrs []string
		for _, a := range s.list("redis_sentinel_connection_urls") {
			if u, err := url.Parse(a); err == nil && u.Host != "" {
				a = u.Host
			}
			addrs = append(addrs, a)
		}
		tr.out.put("redis_sentinel_master", s.str("redis_sentinel_master_name"))
		tr.out.put("redis_sentinel_addrs", addrs)
		raw = "redis:///0" // with Sentinel, redis_url gives only the password, db and TLS
		if s.has("redis_sentinel_password") {
			tr.note("redis_sentinel_password", "unsupported: hubgate sends Sentinel the same password as Redis")
		}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		tr.refuse("redis_connection_url", "is not redis://host:port[/db] or rediss://")
		return
	}
	if s.has("redis_password") {
		u.User = url.UserPassword(s.str("redis_username"), s.str("redis_password"))
	}
	tr.out.put("redis_url", u.String())
	tr.take("redis_ca_path", "redis_insecure_skip_tls_verify", "redis_connection_idle_timeout")
	if s.has("redis_ca_path") {
		tr.note("redis_ca_path", "replaced by the SSL_CERT_FILE environment variable (a PEM file of trusted CAs)")
	}
	if s.boolean("redis_insecure_skip_tls_verify") {
		tr.note("redis_insecure_skip_tls_verify", "unsupported: hubgate always verifies Redis's certificate; trust its CA with SSL_CERT_FILE")
	}
}

// leftovers gives every other option that was set its reason.
func (tr *translator) leftovers() {
	names := make([]string, 0, len(tr.src.set))
	for name := range tr.src.set {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if tr.used[name] {
			continue
		}
		if reason, ok := restrictive[name]; ok {
			tr.refuse(name, "restricts who may pass, and hubgate cannot check it (%s); remove it and restrict with allowed_users or allowed_groups", reason)
			continue
		}
		reason, ok := fates[name]
		if !ok {
			reason = "unsupported: hubgate has no equivalent"
		}
		tr.note(name, "%s", reason)
	}
}

// emailsFile reads authenticated_emails_file: one address a line.
func (tr *translator) emailsFile() []string {
	data, err := tr.read(tr.src.str("authenticated_emails_file"))
	if err != nil {
		tr.refuse("authenticated_emails_file", "cannot be read: %v", err)
		return nil
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}
