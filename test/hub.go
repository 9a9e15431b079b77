//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// The Debian packages of JupyterHub 3.0 and configurable-http-proxy. The Hub
// must run on the system python, never on a pyenv/virtualenv one.
const (
	hubPython  = "/usr/bin/python3"
	hubProxy   = "/usr/bin/configurable-http-proxy"
	hubPackage = "/usr/lib/python3/dist-packages/jupyterhub/__init__.py"
	hubSetpriv = "/usr/bin/setpriv" // util-linux
)

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

	services map[string]HubService
	proc     *process
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
	requireJupyterHub(t)
	dir := t.TempDir()
	data := hubConfigData{
		Dir:          dir,
		ProxyPort:    freePort(t),
		HubPort:      freePort(t),
		ProxyAPIPort: freePort(t),
		ProxyToken:   randomSecret(),
		ProxyCommand: dieWithParent([]string{hubProxy}),
	}
	adminToken := randomSecret()
	text, services := renderHubConfig(cfg, data, adminToken)
	configPath := filepath.Join(dir, "jupyterhub_config.py")
	if err := os.WriteFile(configPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(hubPython, "-m", "jupyterhub", "-f", configPath)
	cmd.Dir = dir
	// A clean environment: the Hub passes PATH and LANG on to managed services.
	cmd.Env = []string{
		"PATH=/usr/bin:/bin:/usr/sbin:/sbin",
		"NODE_PATH=/usr/share/nodejs",
		"HOME=" + dir,
		"LANG=C.UTF-8",
	}
	h := &Hub{
		PublicURL:  "http://" + loopback + ":" + strconv.Itoa(data.ProxyPort),
		APIURL:     "http://" + loopback + ":" + strconv.Itoa(data.HubPort) + "/hub/api",
		AdminToken: adminToken,
		Dir:        dir,
		services:   services,
	}
	h.proc = startProcess(t, "jupyterhub", cmd)
	for _, u := range []string{h.APIURL + "/", h.PublicURL + "/hub/api/"} {
		if err := waitFor(hubStartTimeout, h.proc, httpStatusIs(u, http.StatusOK)); err != nil {
			t.Fatalf("JupyterHub did not come up: %v\nconfig:\n%s", err, text)
		}
	}
	return h
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
	status, resp, err := hubAPICall(h.APIURL+path, "token "+h.AdminToken, method, body)
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
	status, body, err := hubAPICall(h.APIURL+"/user", "token "+token, http.MethodGet, nil)
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
func hubAPICall(url, authorization, method string, body any) (int, []byte, error) {
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
	client := &http.Client{Timeout: 10 * time.Second}
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
