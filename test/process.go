//go:build integration

package integration

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stopGrace is how long a process gets between SIGTERM and SIGKILL.
const stopGrace = 10 * time.Second

// process is a child process started in its own process group, with its
// stdout and stderr written to a log file. It is stopped (group-wide) when the
// test ends, and its log is printed if the test failed.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	waitErr error
}

// startProcess starts cmd in a new process group, logging to DIR/NAME.log in
// a temp dir of t. It registers a cleanup that stops the process, then any
// descendants that escaped into their own sessions (JupyterHub starts its proxy
// and managed services with start_new_session=True), and on failure logs the
// last part of the log.
func startProcess(t testing.TB, name string, cmd *exec.Cmd) *process {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("%s: create log: %v", name, err)
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Pdeathsig: if the test binary dies (e.g. go test -timeout), SIGTERM
	// still reaches the child, and JupyterHub then stops its proxy and services.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("%s: start %v: %v", name, cmd.Args, err)
	}
	logFile.Close() // the child holds its own copy
	p := &process{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop(t)
		// A binary built with -race (HUBGATE_TEST_RACE=1) reports races here,
		// including a managed hubgate writing into the Hub's log.
		if strings.Contains(p.Log(), "WARNING: DATA RACE") {
			t.Errorf("%s: the race detector reported a data race (see its log below)", name)
		}
		if t.Failed() {
			t.Logf("---- %s log (%s), last 64 KiB ----\n%s\n---- end of %s log ----",
				name, strings.Join(cmd.Args, " "), tail(p.Log(), 64<<10), name)
		}
	})
	return p
}

// Log returns everything the process has written so far.
func (p *process) Log() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.logPath, err)
	}
	return string(b)
}

// Exited is closed once the process has exited.
func (p *process) Exited() <-chan struct{} { return p.exited }

// checkRunning returns an error if the process has already exited.
func (p *process) checkRunning() error {
	select {
	case <-p.exited:
		return fmt.Errorf("%s exited early: %v", p.name, p.waitErr)
	default:
		return nil
	}
}

// stop sends SIGTERM to the process group, waits up to stopGrace, then sends
// SIGKILL. Descendants that live in other process groups are found before the
// signal and stopped the same way afterwards if they are still alive.
func (p *process) stop(t testing.TB) {
	pid := p.cmd.Process.Pid
	escaped := descendants(pid)
	if !terminateGroup(pid, p.exited) {
		t.Logf("%s (pid %d) ignored SIGTERM for %v; killed", p.name, pid, stopGrace)
	}
	for _, d := range escaped {
		if !alive(d) {
			continue
		}
		gone := make(chan struct{})
		go func() {
			for alive(d) {
				time.Sleep(50 * time.Millisecond)
			}
			close(gone)
		}()
		if terminateGroup(d, gone) {
			t.Logf("%s: stopped leftover descendant pid %d", p.name, d)
		} else {
			t.Logf("%s: killed leftover descendant pid %d", p.name, d)
		}
	}
}

// terminateGroup signals the process group led by pid (or the process alone
// if it leads none) and reports whether it went away before SIGKILL.
func terminateGroup(pid int, gone <-chan struct{}) bool {
	signal := func(sig syscall.Signal) {
		if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
			_ = syscall.Kill(-pid, sig)
		} else {
			_ = syscall.Kill(pid, sig)
		}
	}
	signal(syscall.SIGTERM)
	select {
	case <-gone:
		// The leader is gone; make sure no straggler stays in its group.
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		return true
	case <-time.After(stopGrace):
	}
	signal(syscall.SIGKILL)
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
	}
	return false
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	_, _, state, err := procStat(pid)
	return err == nil && state != "Z" && state != "X"
}

// descendants lists the live descendants of pid, read from /proc.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		_, ppid, _, err := procStat(n)
		if err == nil {
			children[ppid] = append(children[ppid], n)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		next := queue[0]
		queue = queue[1:]
		for _, c := range children[next] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// procStat parses /proc/PID/stat: the command name, parent pid and state.
func procStat(pid int) (comm string, ppid int, state string, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, "", err
	}
	s := string(b)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return "", 0, "", errors.New("malformed stat")
	}
	fields := strings.Fields(s[closing+1:])
	if len(fields) < 2 {
		return "", 0, "", errors.New("malformed stat")
	}
	ppid, err = strconv.Atoi(fields[1])
	return s[open+1 : closing], ppid, fields[0], err
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}
