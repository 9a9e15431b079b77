//go:build integration

package integration

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The peer releases the suite runs against. HUB_VERSION and DOT_VERSION pick
// one of each (a prefix is enough: HUB_VERSION=5 is 5.2); unset, the primary
// one runs. Adding a release is one line here (and one leg in the Makefile).
var (
	hubReleases = []peerRelease{
		{Version: "5.2", Root: debian13, Primary: true},
		{Version: "3.0"}, // Debian 12, this machine's own packages
	}
	dotReleases = []peerRelease{
		{Version: "3.0", Root: debian13, Primary: true}, // on Django 4.2
		{Version: "1.7"}, // on Django 3.2, this machine's own packages
	}
)

// debian13 names the Debian 13 root that .ci/debian13-root builds.
const debian13 = "debian13"

// peerRelease is one release of a peer (JupyterHub or django-oauth-toolkit).
type peerRelease struct {
	Version string
	// Root is where its packages are: "" for this machine's own, or a root
	// built by .ci/<Root>-root that the peer runs in with chroot.
	Root string
	// Primary releases run every suite; the others run the core ones.
	Primary bool
}

// suite says whether a test belongs to the core that every release runs, or
// only to the primary release's full run.
type suite int

const (
	coreSuite suite = iota
	fullSuite
)

// pickRelease returns the release the variable (HUB_VERSION or DOT_VERSION)
// selects, failing loudly on a version the suite does not know.
func pickRelease(t testing.TB, variable string, releases []peerRelease) peerRelease {
	t.Helper()
	want := os.Getenv(variable)
	for _, r := range releases {
		if want == "" && r.Primary || want != "" && (r.Version == want || strings.HasPrefix(r.Version, want+".")) {
			return r
		}
	}
	var known []string
	for _, r := range releases {
		known = append(known, r.Version)
	}
	t.Fatalf("%s=%q: the suite knows %s (see test/peers.go)", variable, want, strings.Join(known, ", "))
	return peerRelease{}
}

// requireSuite skips a full-suite test on a release that runs only the core,
// saying so: the test runs on the primary release's leg of `make test`.
func requireSuite(t testing.TB, peer string, r peerRelease, s suite) {
	t.Helper()
	if s == fullSuite && !r.Primary {
		t.Skipf("%s %s runs only the core suites; this one runs on the primary release's leg", peer, r.Version)
	}
}

// peerEnv runs a peer's commands: on this machine, or chrooted into a root.
// Paths handed to the peer (config, state, binaries) are its own paths:
// TempDir and Import translate.
type peerEnv struct {
	root string // "" = this machine
}

// rootPath asks .ci/debian13-root where the root is (the path depends on its
// package list, which the script owns) and fails loudly if it is not built.
func rootPath(t testing.TB, name string) string {
	t.Helper()
	rootCache.once.Do(func() {
		script := filepath.Join(moduleRoot(t), ".ci", name+"-root")
		out, err := exec.Command("bash", script, "--path").Output()
		if err != nil {
			rootCache.err = fmt.Errorf("%s --path: %v", script, err)
			return
		}
		rootCache.path = strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(rootCache.path, ".hubgate-root-complete")); err != nil {
			rootCache.err = fmt.Errorf("the %s root is not built at %s; build it with `bash .ci/%s-root` "+
				"(needs root, mmdebstrap and deb.debian.org; `make deps` does it)", name, rootCache.path, name)
			return
		}
		for _, tool := range []string{"unshare", "chroot", "mount"} {
			if _, err := exec.LookPath(tool); err != nil {
				rootCache.err = fmt.Errorf("running peers in the %s root needs %s (util-linux, coreutils)", name, tool)
				return
			}
		}
	})
	if rootCache.err != nil {
		t.Fatal(rootCache.err)
	}
	return rootCache.path
}

var rootCache struct {
	once sync.Once
	path string
	err  error
}

// moduleRoot is the checkout's top directory.
func moduleRoot(t testing.TB) string {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(gomod)))
}

// chrootScript mounts /proc and /dev in a mount namespace of the command's own
// (so they go away with it, however it ends) and runs the command chrooted, in
// the directory given. unshare --kill-child passes a crash of the wrapper on.
// The peer's environment stays as given: the tools are named by absolute paths.
const chrootScript = `mount=$1 chroot=$2 root=$3 dir=$4; shift 4
"$mount" -t proc proc "$root/proc" && "$mount" --rbind /dev "$root/dev" || exit 111
exec "$chroot" "$root" /usr/bin/env -C "$dir" "$@"`

// hostTool is the absolute path of a tool here (rootPath checked it exists).
func hostTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return name
}

// Command returns cmd for argv (peer paths) run in dir (a peer path).
func (p peerEnv) Command(ctx context.Context, dir string, argv ...string) *exec.Cmd {
	if p.root == "" {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Dir = dir
		return cmd
	}
	args := append([]string{"--mount", "--fork", "--kill-child=KILL", "--",
		"/bin/sh", "-c", chrootScript, "sh", hostTool("mount"), hostTool("chroot"), p.root, dir}, argv...)
	return exec.CommandContext(ctx, hostTool("unshare"), args...)
}

// TempDir makes a directory the peer can use, removed when the test ends. It
// returns the path here and the path the peer sees.
func (p peerEnv) TempDir(t testing.TB) (host, peer string) {
	t.Helper()
	if p.root == "" {
		d := t.TempDir()
		return d, d
	}
	d, err := os.MkdirTemp(filepath.Join(p.root, "tmp"), "hubgate-test-")
	if err != nil {
		t.Fatalf("temp dir in the peer root: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d, strings.TrimPrefix(d, p.root)
}

// Import makes the binary at host path runnable by the peer and returns its
// peer path (a copy inside the root; hubgate is static, so it runs there).
func (p peerEnv) Import(t testing.TB, path string) string {
	t.Helper()
	if p.root == "" {
		return path
	}
	hostDir, peerDir := p.TempDir(t)
	dst := filepath.Join(hostDir, filepath.Base(path))
	if err := copyFile(path, dst, 0o755); err != nil {
		t.Fatalf("copy %s into the peer root: %v", path, err)
	}
	return filepath.Join(peerDir, filepath.Base(path))
}

// HostPath turns a peer path back into a path here.
func (p peerEnv) HostPath(peerPath string) string { return filepath.Join(p.root, peerPath) }

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// peerVersion runs argv in the peer and checks that what it prints starts
// with the release's version, so a leg never passes against the wrong peer.
func peerVersion(t testing.TB, what string, p peerEnv, r peerRelease, argv ...string) string {
	t.Helper()
	cmd := p.Command(context.Background(), "/", argv...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}
	out, err := cmd.CombinedOutput()
	got := strings.TrimSpace(string(out))
	if err != nil {
		t.Fatalf("%s: cannot ask its version (%v): %s\n%s", what, err, strings.Join(cmd.Args, " "), got)
	}
	if got != r.Version && !strings.HasPrefix(got, r.Version+".") {
		t.Fatalf("%s is version %q, but this leg tests %s (set HUB_VERSION/DOT_VERSION to match, see test/peers.go)", what, got, r.Version)
	}
	return got
}

// fatalRecorder lets a sync.Once body fail like a test would: Fatal records
// the message and unwinds to recover, so every later caller fails the same way.
type fatalRecorder struct {
	testing.TB
	msg string
}

type fatalUnwind struct{}

func (f *fatalRecorder) Fatal(args ...any) { f.msg = fmt.Sprint(args...); panic(fatalUnwind{}) }
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(fatalUnwind{})
}

// recover is deferred by the Once body.
func (f *fatalRecorder) recover() {
	if v := recover(); v != nil {
		if _, ok := v.(fatalUnwind); !ok {
			panic(v)
		}
	}
}
