package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hubgate/hubgate/internal/redistest"
)

// startRedis runs Debian's redis-server on loopback for the Redis-store scenarios:
// no persistence, so it measures what hubgate asks of Redis, not the disk.
func (r *rig) startRedis() (*process, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(r.dir, "redis.log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd, err := redistest.Run(addr, r.dir, f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w (or run with -redis=false); its log:\n%s", err, tail(logPath, 2000))
	}
	p := &process{name: "redis-server", cmd: cmd, url: "redis://" + addr + "/0", log: logPath, done: make(chan struct{})}
	go func() { cmd.Wait(); f.Close(); close(p.done) }()
	r.procs = append(r.procs, p)
	return p, nil
}
