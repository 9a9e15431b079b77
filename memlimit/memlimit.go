// Package memlimit keeps hubgate's memory close to what it actually holds. With
// Go's default GOGC=100 the heap may grow to twice its live size before a
// collection, and the runtime hands freed pages back to the OS lazily, so a process
// whose live heap is mostly a large identity cache (100k identities ≈ 60 MB) sits
// at well over twice that in RSS. A fixed soft limit (GOMEMLIMIT) fixes that but
// turns into a collection loop once the live heap outgrows it (thousands of open
// connections). So the limit here follows the live heap: live plus a margin, never
// below a floor, re-read after every collection.
package memlimit

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Options tune the limit; the zero value means the defaults.
type Options struct {
	Floor  int64         // the limit is never lower (default 64 MiB)
	Margin float64       // headroom over the live heap, as a fraction of it (default 0.5)
	Min    int64         // and at least this much headroom (default 24 MiB)
	Every  time.Duration // how often the live heap is read (default 1 s)

	// live and set are the runtime's; tests replace them.
	live func() int64
	set  func(int64) int64
}

// Limit is the soft memory limit for a live heap of live bytes.
func (o Options) Limit(live int64) int64 {
	o = o.withDefaults()
	margin := max(int64(float64(live)*o.Margin), o.Min)
	return max(live+margin, o.Floor)
}

func (o Options) withDefaults() Options {
	if o.Floor <= 0 {
		o.Floor = 64 << 20
	}
	if o.Margin <= 0 {
		o.Margin = 0.5
	}
	if o.Min <= 0 {
		o.Min = 24 << 20
	}
	if o.Every <= 0 {
		o.Every = time.Second
	}
	if o.live == nil {
		o.live = liveHeap
	}
	if o.set == nil {
		o.set = debug.SetMemoryLimit
	}
	return o
}

// UserSet reports whether the operator set a limit (GOMEMLIMIT); theirs wins.
func UserSet() bool { return debug.SetMemoryLimit(-1) != math.MaxInt64 }

// Run adjusts the limit until ctx ends, then removes it.
func Run(ctx context.Context, o Options) {
	o = o.withDefaults()
	t := time.NewTicker(o.Every)
	defer t.Stop()
	defer o.set(math.MaxInt64)
	last := int64(-1)
	for {
		if l := o.Limit(o.live()); l != last {
			o.set(l)
			last = l
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// liveHeap is the heap the last collection found reachable.
func liveHeap() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}
