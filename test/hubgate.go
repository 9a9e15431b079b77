//go:build integration

package integration

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// hubgateStartTimeout bounds how long hubgate may take to answer /ping.
const hubgateStartTimeout = 20 * time.Second

// buildDir receives the hubgate binary; TestMain creates and removes it.
var buildDir string

var hubgateBuild struct {
	once sync.Once
	path string
	err  error
}

// HubgateBinary builds hubgate once per test binary run (from the module
// root, into buildDir) and returns the path of the binary. Set
// HUBGATE_TEST_RACE=1 to build it with the race detector, or
// HUBGATE_TEST_BINARY=/path/to/hubgate to test a binary built elsewhere
// (e.g. from a commit while the working tree is being edited).
func HubgateBinary(t testing.TB) string {
	t.Helper()
	hubgateBuild.once.Do(func() {
		if bin := os.Getenv("HUBGATE_TEST_BINARY"); bin != "" {
			hubgateBuild.path = bin
			if _, err := os.Stat(bin); err != nil {
				hubgateBuild.err = fmt.Errorf("HUBGATE_TEST_BINARY: %w", err)
			}
			return
		}
		hubgateBuild.path, hubgateBuild.err = buildHubgate()
	})
	if hubgateBuild.err != nil {
		t.Fatalf("cannot build hubgate: %v", hubgateBuild.err)
	}
	return hubgateBuild.path
}

func buildHubgate() (string, error) {
	if buildDir == "" {
		return "", fmt.Errorf("buildDir not set (TestMain did not run)")
	}
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	bin := filepath.Join(buildDir, "hubgate")
	args := []string{"build", "-o", bin}
	if os.Getenv("HUBGATE_TEST_RACE") == "1" {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = root
	if os.Getenv("HUBGATE_TEST_RACE") != "1" {
		// Static, so the copy a Hub in the Debian 13 root starts runs there too.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s in %s: %w\n%s", strings.Join(args, " "), root, err, out)
	}
	return bin, nil
}

// Gate is a running hubgate.
type Gate struct {
	// URL is where hubgate listens, e.g. http://127.0.0.1:PORT.
	URL  string
	proc *process
}

// StartHubgate starts the hubgate binary listening on addr ("127.0.0.1:PORT")
// with env (HUBGATE_* variables) and a minimal base environment, waits until
// /ping answers and stops it when the test ends. Its log (stderr) is printed
// if the test failed.
func StartHubgate(t testing.TB, addr string, env map[string]string) *Gate {
	t.Helper()
	bin := HubgateBinary(t)
	vars := map[string]string{
		"PATH":           "/usr/bin:/bin",
		"HOME":           t.TempDir(),
		"HUBGATE_LISTEN": addr,
	}
	for k, v := range env {
		vars[k] = v
	}
	cmd := exec.Command(bin)
	cmd.Env = sortedEnv(vars)
	g := &Gate{URL: "http://" + addr}
	g.proc = startProcess(t, "hubgate-"+addr, cmd)
	if err := waitFor(hubgateStartTimeout, g.proc, httpStatusIs(g.URL+"/ping", http.StatusOK)); err != nil {
		t.Fatalf("hubgate did not come up: %v\nenv: %s", err, strings.Join(cmd.Env, " "))
	}
	return g
}

// Log returns what hubgate has logged so far.
func (g *Gate) Log() string { return g.proc.Log() }

// CheckLogOmits fails the test if hubgate's log contains any of the secrets
// (tokens, cookie values, client secret).
func (g *Gate) CheckLogOmits(t testing.TB, secrets map[string]string) {
	t.Helper()
	log := g.Log()
	for what, secret := range secrets {
		if secret != "" && strings.Contains(log, secret) {
			t.Errorf("hubgate at %s logged a secret: %s", g.URL, what)
		}
	}
}

// sortedEnv turns a map into a sorted KEY=VALUE list.
func sortedEnv(vars map[string]string) []string {
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}
