package logsink

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is an output that records every write.
type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func TestEveryLineArrivesWholeAndInOrderPerWriter(t *testing.T) {
	out := &lockedBuffer{}
	w := New(out, 512, time.Millisecond)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				fmt.Fprintf(w, "g%d line %d\n", g, i)
			}
		})
	}
	wg.Wait()
	w.Stop()
	next := map[string]int{}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 8*500 {
		t.Fatalf("%d lines, want %d", len(lines), 8*500)
	}
	for _, l := range lines {
		var g string
		var i int
		if _, err := fmt.Sscanf(l, "%s line %d", &g, &i); err != nil {
			t.Fatalf("torn line %q", l)
		}
		if i != next[g] {
			t.Fatalf("%s: line %d after %d", g, i, next[g]-1)
		}
		next[g]++
	}
}

func TestFlushesOnTimeOnSizeAndOnSync(t *testing.T) {
	out := &lockedBuffer{}
	w := New(out, 1<<20, time.Hour)
	defer w.Stop()
	w.Write([]byte("waiting\n"))
	if out.String() != "" {
		t.Fatal("written before any flush")
	}
	w.Sync()
	if out.String() != "waiting\n" {
		t.Fatalf("after Sync: %q", out.String())
	}

	sized := &lockedBuffer{}
	s := New(sized, 64, time.Hour)
	defer s.Stop()
	s.Write(bytes.Repeat([]byte("x"), 100))
	deadline := time.Now().Add(5 * time.Second)
	for sized.String() == "" {
		if time.Now().After(deadline) {
			t.Fatal("a full buffer was not flushed")
		}
		time.Sleep(time.Millisecond)
	}

	timed := &lockedBuffer{}
	tw := New(timed, 1<<20, 5*time.Millisecond)
	defer tw.Stop()
	tw.Write([]byte("soon\n"))
	deadline = time.Now().Add(5 * time.Second)
	for timed.String() == "" {
		if time.Now().After(deadline) {
			t.Fatal("not flushed on the interval")
		}
		time.Sleep(time.Millisecond)
	}
}

// blockingOut never finishes a write until released: a stuck stderr.
type blockingOut struct{ release chan struct{} }

func (b blockingOut) Write(p []byte) (int, error) { <-b.release; return len(p), nil }

// A stuck output holds up the writer goroutine, not the loggers, until the backlog
// reaches its bound.
func TestWritersDoNotWaitForTheOutput(t *testing.T) {
	out := blockingOut{release: make(chan struct{})}
	w := New(out, 1024, time.Millisecond)
	done := make(chan struct{})
	go func() {
		for range 100 {
			w.Write([]byte("line that waits\n")) // 1.6 KB in all, under 8 × 1024
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a writer waited for the stuck output")
	}
	close(out.release)
	w.Stop()
}
