package memlimit

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"
)

func TestLimit(t *testing.T) {
	var o Options
	for _, c := range []struct{ live, want int64 }{
		{0, 64 << 20},          // the floor
		{30 << 20, 64 << 20},   // live + 24 MiB is still under the floor
		{40 << 20, 64 << 20},   // exactly the floor
		{60 << 20, 90 << 20},   // live + 50%
		{400 << 20, 600 << 20}, // grows with the live heap: no collection loop
		{1 << 30, 1<<30 + (1<<30)/2},
	} {
		if got := o.Limit(c.live); got != c.want {
			t.Errorf("Limit(%d MiB) = %d MiB, want %d MiB", c.live>>20, got>>20, c.want>>20)
		}
	}
}

func TestRunFollowsTheLiveHeapAndRemovesTheLimit(t *testing.T) {
	var mu sync.Mutex
	live := int64(10 << 20)
	var set []int64
	o := Options{
		Every: time.Millisecond,
		live:  func() int64 { mu.Lock(); defer mu.Unlock(); return live },
		set:   func(l int64) int64 { mu.Lock(); defer mu.Unlock(); set = append(set, l); return 0 },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Run(ctx, o); close(done) }()
	waitFor := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			n := len(set)
			got := int64(0)
			if n > 0 {
				got = set[n-1]
			}
			mu.Unlock()
			if got == want {
				return
			}
			time.Sleep(time.Millisecond)
		}
		t.Fatalf("the limit never became %d MiB: %v", want>>20, set)
	}
	waitFor(64 << 20)
	mu.Lock()
	live = 200 << 20
	mu.Unlock()
	waitFor(300 << 20)
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if set[len(set)-1] != math.MaxInt64 {
		t.Fatalf("the limit stayed after Run ended: %v", set)
	}
	for i := 1; i < len(set)-1; i++ {
		if set[i] == set[i-1] {
			t.Fatalf("the same limit was set twice in a row: %v", set)
		}
	}
}
