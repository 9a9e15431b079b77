package session

import (
	"encoding/base64"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// decodedValues remembers cookie values that verified and decrypted, and what they
// held, so that a browser's every request does not pay for the HMAC, AES and JSON of
// its cookie again (about 10 µs and 20 allocations each). Only values that decoded
// are kept, keyed by the exact value, and each one only until the moment Load would
// refuse it: the session's end or the codec's MaxAge, whichever is first. A forged
// value is never remembered, so it is checked in full every time. The cookie store
// keeps sessions here; the Redis store keeps tickets (the session itself is read
// from Redis every time).
type decodedValues[T any] struct {
	m sync.Map // cookie value → decodedValue[T]
	n atomic.Int64
}

type decodedValue[T any] struct {
	v     T
	until int64 // unix seconds: no longer valid from then on
}

// decodedSessions is the cookie store's cache.
type decodedSessions = decodedValues[Session]

// maxDecodedSessions bounds the memory: a few hundred bytes per entry.
const maxDecodedSessions = 4096

func (d *decodedValues[T]) get(value string, now int64) (T, bool) {
	var zero T
	v, ok := d.m.Load(value)
	if !ok {
		return zero, false
	}
	e := v.(decodedValue[T])
	if now >= e.until {
		if d.m.CompareAndDelete(value, v) {
			d.n.Add(-1)
		}
		return zero, false
	}
	return e.v, true
}

func (d *decodedValues[T]) put(value string, v T, until int64) {
	if _, loaded := d.m.LoadOrStore(value, decodedValue[T]{v: v, until: until}); loaded {
		return
	}
	if d.n.Add(1) <= maxDecodedSessions {
		return
	}
	// Full: drop some other entry (sync.Map ranges from a random point).
	d.m.Range(func(k, _ any) bool {
		if k.(string) == value {
			return true
		}
		if _, deleted := d.m.LoadAndDelete(k); deleted {
			d.n.Add(-1)
		}
		return false
	})
}

// cookieTimestamp reads the creation time securecookie puts at the front of a value:
// base64("<unix seconds>|<payload>|<mac>").
func cookieTimestamp(value string) (int64, bool) {
	n := min(len(value), 32) &^ 3 // whole base64 quanta: 24 bytes, room for any timestamp
	var buf [24]byte
	k, err := base64.URLEncoding.Decode(buf[:], []byte(value[:n]))
	if err != nil {
		return 0, false
	}
	stamp, _, ok := strings.Cut(string(buf[:k]), "|")
	if !ok {
		return 0, false
	}
	t, err := strconv.ParseInt(stamp, 10, 64)
	return t, err == nil
}
