// Package logsink buffers log output and writes it from a goroutine of its own, so
// that a request never waits for the log's write(2). zap's BufferedWriteSyncer
// writes while holding the lock its writers need: every flush stalls whichever
// request logs at that moment (measured: p99 of a cached /oauth2/auth at a steady
// 1000 req/s went from ~0.85 ms to ~1.4 ms). Here a flush only swaps two buffers
// under the lock, and writes outside it.
package logsink

import (
	"io"
	"sync"
	"time"
)

// Writer is an io.Writer and zapcore.WriteSyncer.
type Writer struct {
	out  io.Writer
	size int // flush when this much is waiting

	mu  sync.Mutex
	buf []byte

	writing sync.Mutex // one flush at a time; guards spare
	spare   []byte

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

// New writes to out what is written to it, at least every interval and whenever
// size bytes wait. Stop it to flush and end its goroutine.
func New(out io.Writer, size int, interval time.Duration) *Writer {
	w := &Writer{out: out, size: size, buf: make([]byte, 0, size), spare: make([]byte, 0, size),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go w.run(interval)
	return w
}

func (w *Writer) run(interval time.Duration) {
	defer close(w.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-w.kick:
		case <-w.stop:
			w.Sync()
			return
		}
		w.Sync()
	}
}

// Write queues p. If the writer goroutine falls far behind (the output blocks), the
// caller writes itself rather than let the buffer grow without bound.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf = append(w.buf, p...)
	n := len(w.buf)
	w.mu.Unlock()
	switch {
	case n >= 8*w.size:
		if err := w.Sync(); err != nil {
			return 0, err
		}
	case n >= w.size:
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// Sync writes out what waits.
func (w *Writer) Sync() error {
	w.writing.Lock()
	defer w.writing.Unlock()
	w.mu.Lock()
	b := w.buf
	w.buf = w.spare[:0]
	w.mu.Unlock()
	w.spare = b
	if len(b) == 0 {
		return nil
	}
	_, err := w.out.Write(b)
	return err
}

// Stop flushes and ends the writer goroutine. Writes after Stop still work, without
// the timer: call Sync.
func (w *Writer) Stop() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}
