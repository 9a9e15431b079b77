//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The Debian packages of JupyterHub and configurable-http-proxy, on this
// machine (Debian 12) or in the Debian 13 root. The Hub must run on the
// system python, never on a pyenv/virtualenv one.
const (
	hubPython  = "/usr/bin/python3"
	hubProxy   = "/usr/bin/configurable-http-proxy"
	hubPackage = "/usr/lib/python3/dist-packages/jupyterhub/__init__.py"
	hubSetpriv = "/usr/bin/setpriv" // util-linux
)

// hubInstall is the JupyterHub this run tests: the release HUB_VERSION picks,
// from this machine's packages, the Debian 13 root, or HUB_CMD.
type hubInstall struct {
	Release peerRelease
	Version string // what the Hub says it is, e.g. 5.2.1
	env     peerEnv
	command []string // runs the Hub; "-f CONFIG" is appended
	proxy   string   // configurable-http-proxy, a peer path
	setpriv string   // a peer path
}

var hubInstalled struct {
	once sync.Once
	hub  hubInstall
	err  string
}

// jupyterHub finds the Hub of this leg once per run and fails the test loudly
// if it is missing or is not the release the leg tests. HUB_CMD (e.g.
// "/opt/conda/bin/jupyterhub") runs a Hub installed some other way, with the
// configurable-http-proxy found on PATH.
func jupyterHub(t testing.TB) hubInstall {
	t.Helper()
	hubInstalled.once.Do(func() {
		ft := &fatalRecorder{TB: t}
		hubInstalled.hub = findJupyterHub(ft)
		hubInstalled.err = ft.msg
	})
	if hubInstalled.err != "" {
		t.Fatal(hubInstalled.err)
	}
	return hubInstalled.hub
}

func findJupyterHub(t *fatalRecorder) (h hubInstall) {
	defer t.recover()
	h.Release = pickRelease(t, "HUB_VERSION", hubReleases)
	h.proxy, h.setpriv = hubProxy, hubSetpriv
	switch cmd := os.Getenv("HUB_CMD"); {
	case cmd != "":
		h.command = strings.Fields(cmd)
		p, err := exec.LookPath("configurable-http-proxy")
		if err != nil {
			t.Fatalf("HUB_CMD=%q: configurable-http-proxy is not on PATH (%v)", cmd, err)
		}
		h.proxy = p
		for _, f := range []string{h.setpriv} {
			if _, err := os.Stat(f); err != nil {
				t.Fatalf("the Hub harness needs %s (util-linux): %v", f, err)
			}
		}
	case h.Release.Root != "":
		h.env = peerEnv{root: rootPath(t, h.Release.Root)}
		h.command = []string{hubPython, "-m", "jupyterhub"}
		for _, f := range []string{hubPython, hubProxy, hubPackage, hubSetpriv} {
			if _, err := os.Stat(h.env.HostPath(f)); err != nil {
				t.Fatalf("JupyterHub %s: %s is missing in the %s root (%v); rebuild it with .ci/%s-root",
					h.Release.Version, f, h.Release.Root, err, h.Release.Root)
			}
		}
	default:
		requireJupyterHub(t)
		h.command = []string{hubPython, "-m", "jupyterhub"}
	}
	h.Version = peerVersion(t, "JupyterHub ("+strings.Join(h.command, " ")+")", h.env, h.Release,
		append(slices.Clone(h.command), "--version")...)
	return h
}

// RequireHub is what a JupyterHub test calls first: the Hub of this leg, and
// a skip (saying why) if the test is not in the suites this release runs.
func RequireHub(t testing.TB, s suite) hubInstall {
	t.Helper()
	h := jupyterHub(t)
	requireSuite(t, "JupyterHub", h.Release, s)
	return h
}

// hubStartTimeout bounds how long a Hub may take to answer its API.
const hubStartTimeout = 60 * time.Second

// Hub is a running JupyterHub with its configurable-http-proxy.
type Hub struct {
	// PublicURL is the browser-facing proxy, e.g. http://127.0.0.1:PROXYPORT.
	PublicURL string
	// APIURL is the Hub's own API, e.g. http://127.0.0.1:HUBPORT/hub/api.
	APIURL string
	// AdminToken is the api_token of the testadmin service (admin:users,
	// admin:groups, tokens).
	AdminToken string
	// Dir holds the config, sqlite db, cookie secret and pid files.
	Dir string
	// Install is the JupyterHub it runs.
	Install hubInstall

	services map[string]HubService
	proc     *process
	client   *http.Client // for the API; nil: a plain one
}

// HubToken is a user API token created through the admin API.
type HubToken struct {
	User  string
	ID    string // e.g. "a7", for DELETE /users/USER/tokens/ID
	Token string
}

// HubUser is the part of the GET /hub/api/user model the tests look at.
type HubUser struct {
	Kind   string   `json:"kind"`
	Name   string   `json:"name"`
	Admin  bool     `json:"admin"`
	Groups []string `json:"groups"`
	Scopes []string `json:"scopes"`
}

// requireJupyterHub fails the test loudly if the Debian JupyterHub is missing.
func requireJupyterHub(t testing.TB) {
	t.Helper()
	for _, f := range []string{hubPython, hubProxy, hubPackage, hubSetpriv} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("JupyterHub is required for the integration tests but %s is missing (%v); "+
				"install with: apt-get install -y jupyterhub (or run make test)", f, err)
		}
	}
}

// StartHub writes a config for cfg into a temp dir, starts the Hub on free
// loopback ports and waits until both its API and its public proxy answer.
// The Hub (and the proxy and managed services it started) are stopped when
// the test ends; the Hub log is printed if the test failed.
func StartHub(t testing.TB, cfg HubConfig) *Hub {
	t.Helper()
	install := jupyterHub(t)
	dir, peerDir := install.env.TempDir(t)
	data := hubConfigData{
		Dir:          peerDir,
		ProxyPort:    freePort(t),
		HubPort:      freePort(t),
		ProxyAPIPort: freePort(t),
		ProxyToken:   randomSecret(),
		Setpriv:      install.setpriv,
	}
	data.ProxyCommand = dieWithParent(data.Setpriv, []string{install.proxy})
	// Managed services run inside the peer's root: their binaries go there too.
	for i, s := range cfg.Services {
		if len(s.Command) > 0 {
			s.Command = append([]string{install.env.Import(t, s.Command[0])}, s.Command[1:]...)
			cfg.Services[i] = s
		}
	}
	adminToken := randomSecret()
	text, services := renderHubConfig(cfg, data, adminToken)
	configPath := filepath.Join(dir, "jupyterhub_config.py")
	if err := os.WriteFile(configPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := install.env.Command(context.Background(), peerDir,
		append(slices.Clone(install.command), "-f", filepath.Join(peerDir, "jupyterhub_config.py"))...)
	// A clean environment: the Hub passes PATH and LANG on to managed services.
	cmd.Env = []string{
		"PATH=/usr/bin:/bin:/usr/sbin:/sbin",
		"NODE_PATH=/usr/share/nodejs",
		"HOME=" + peerDir,
		"LANG=C.UTF-8",
	}
	if os.Getenv("HUB_CMD") != "" {
		cmd.Env[0] = "PATH=" + os.Getenv("PATH") // HUB_CMD's Hub finds its proxy there
	}
	scheme := "http"
	if cfg.InternalSSL {
		scheme = "https"
	}
	h := &Hub{
		PublicURL:  "http://" + loopback + ":" + strconv.Itoa(data.ProxyPort),
		APIURL:     scheme + "://" + loopback + ":" + strconv.Itoa(data.HubPort) + "/hub/api",
		AdminToken: adminToken,
		Dir:        dir,
		Install:    install,
		services:   services,
	}
	h.proc = startProcess(t, "jupyterhub-"+install.Release.Version, cmd)
	up := []string{h.PublicURL + "/hub/api/"}
	if !cfg.InternalSSL { // the API then wants a client certificate; see internalssl_test.go
		up = append(up, h.APIURL+"/")
	}
	for _, u := range up {
		if err := waitFor(hubStartTimeout, h.proc, httpStatusIs(u, http.StatusOK)); err != nil {
			t.Fatalf("JupyterHub %s did not come up: %v\nconfig:\n%s", install.Version, err, text)
		}
	}
	return h
}

// hubMajor is the major version of a Hub version string ("5.2.1" -> 5).
func hubMajor(version string) int {
	n, _ := strconv.Atoi(strings.SplitN(version, ".", 2)[0])
	return n
}

// Service returns a registered service, with its api_token filled in.
func (h *Hub) Service(t testing.TB, name string) HubService {
	t.Helper()
	s, ok := h.services[name]
	if !ok {
		t.Fatalf("no service %q registered at the Hub", name)
	}
	return s
}

// Log returns the Hub's output so far (including the proxy's and that of
// managed services).
func (h *Hub) Log() string { return h.proc.Log() }

// API calls the Hub's REST API with the admin token and fails the test unless
// the status is one of want. It returns the response body.
func (h *Hub) API(t testing.TB, method, path string, body any, want ...int) []byte {
	t.Helper()
	status, resp, err := hubAPICall(h.client, h.APIURL+path, "token "+h.AdminToken, method, body)
	if err != nil {
		t.Fatalf("Hub API %s %s: %v", method, path, err)
	}
	if !slices.Contains(want, status) {
		t.Fatalf("Hub API %s %s: status %d, want %v; body: %s", method, path, status, want, resp)
	}
	return resp
}

// EnsureUser creates the user if it does not exist yet.
func (h *Hub) EnsureUser(t testing.TB, name string) {
	t.Helper()
	h.API(t, http.MethodPost, "/users/"+name, nil, http.StatusCreated, http.StatusConflict)
}

// CreateToken creates a new API token for user (with the user's own scopes).
func (h *Hub) CreateToken(t testing.TB, user string) HubToken {
	t.Helper()
	h.EnsureUser(t, user)
	body := h.API(t, http.MethodPost, "/users/"+user+"/tokens",
		map[string]any{"note": "hubgate integration test"}, http.StatusCreated, http.StatusOK)
	var tok struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.Token == "" || tok.ID == "" {
		t.Fatalf("unexpected token response %s (%v)", body, err)
	}
	return HubToken{User: user, ID: tok.ID, Token: tok.Token}
}

// RevokeToken deletes the token at the Hub.
func (h *Hub) RevokeToken(t testing.TB, tok HubToken) {
	t.Helper()
	h.API(t, http.MethodDelete, "/users/"+tok.User+"/tokens/"+tok.ID, nil, http.StatusNoContent, http.StatusOK)
}

// WhoAmI asks the Hub who owns token (GET /hub/api/user). It returns the
// HTTP status and, for 200, the user.
func (h *Hub) WhoAmI(t testing.TB, token string) (int, HubUser) {
	t.Helper()
	status, body, err := hubAPICall(h.client, h.APIURL+"/user", "token "+token, http.MethodGet, nil)
	if err != nil {
		t.Fatalf("Hub API GET /user: %v", err)
	}
	var u HubUser
	if status == http.StatusOK {
		if err := json.Unmarshal(body, &u); err != nil {
			t.Fatalf("Hub API GET /user: %v in %s", err, body)
		}
	}
	return status, u
}

// hubAPICall does one JSON request against the Hub API.
func hubAPICall(client *http.Client, url, authorization, method string, body any) (int, []byte, error) {
	var reader io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		reader = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, reader)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", authorization)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("read body: %w", err)
	}
	return resp.StatusCode, b, nil
}
