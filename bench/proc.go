package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hubgate/hubgate/internal/freeport"
)

// process is a child the bench started: hubgate, the upstream or the bare proxy.
type process struct {
	name string
	cmd  *exec.Cmd
	url  string // http://127.0.0.1:PORT
	log  string // its stderr (and stdout) goes here
	done chan struct{}
}

// startProcess runs cmd with its output in logPath and waits until url+"/ping"… or any
// HTTP answer on url comes back.
func startProcess(name string, cmd *exec.Cmd, url, logPath string) (*process, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, url: url, log: logPath, done: make(chan struct{})}
	go func() { cmd.Wait(); f.Close(); close(p.done) }()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s exited at start; its log (%s):\n%s", name, logPath, tail(logPath, 2000))
		default:
		}
		if resp, err := client.Get(url + "/ping"); err == nil {
			resp.Body.Close()
			return p, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.stop()
	return nil, fmt.Errorf("%s did not answer on %s within 20s; its log:\n%s", name, url, tail(logPath, 2000))
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// stop ends the process: SIGTERM, then SIGKILL if it lingers.
func (p *process) stop() {
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// cpuTicks is the process's user+system CPU time (/proc/PID/stat utime+stime).
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces) start at field 3, state.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc/PID/stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc/PID/stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc/PID/stat")
	}
	return utime + stime, nil
}

// clockTick is the unit of cpuTicks. Linux has reported USER_HZ = 100 on every
// architecture Go supports for a long time; getconf confirms it where available.
var clockTick = func() time.Duration {
	if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if hz, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && hz > 0 {
			return time.Second / time.Duration(hz)
		}
	}
	return 10 * time.Millisecond
}()

// memory is a process's resident set now and its peak over its lifetime, in bytes.
type memory struct{ rss, hwm int64 }

func readMemory(pid int) memory {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}
	}
	defer f.Close()
	var m memory
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			m.rss = kb << 10
		case "VmHWM":
			m.hwm = kb << 10
		}
	}
	return m
}

// freeAddr finds a free loopback port.
func freeAddr() (string, error) { return freeport.Addr() }

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// countLines counts the lines of path from offset on that contain every one of subs.
func countLines(path string, offset int64, subs ...string) int {
	f, err := os.Open(path)
	if err != nil {
		return -1
	}
	defer f.Close()
	if _, err := f.Seek(offset, 0); err != nil {
		return -1
	}
	n := 0
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 1<<20)
lines:
	for s.Scan() {
		for _, sub := range subs {
			if !strings.Contains(s.Text(), sub) {
				continue lines
			}
		}
		n++
	}
	return n
}
