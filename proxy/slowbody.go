package proxy

import (
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// BodyIdleHandler bounds how long a request body may stall: before each read the
// connection's read deadline moves idle into the future, so an upload that keeps
// sending is never cut while one that pauses longer than idle ends with a read
// error (and the connection closes). http.Server has only ReadTimeout, which bounds
// the whole request and so would cut long uploads too.
//
// Requests without a body pass untouched. The deadline is moved only while the body
// is read: once it has ended (net/http then clears the deadline and reads in the
// background) or the handler has returned, a deadline would cut a long response
// or a websocket.
func BodyIdleHandler(h http.Handler, idle time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			h.ServeHTTP(w, r)
			return
		}
		b := &idleBody{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: idle}
		// Also bounds the server's own reads of a body the handler leaves unread:
		// when the response starts it discards up to 256 KiB of it, with no
		// deadline of its own. Until the body is read nothing else reads the
		// connection (the background read waits for the body's end), so this
		// cannot cut a handler that is slow before it reads.
		b.push()
		r2 := *r
		r2.Body = b
		h.ServeHTTP(w, &r2)
		// Past here the connection is the server's again (or a hijacker's: Hijack
		// clears deadlines), even if a Transport still reads the body.
		b.done.Store(true)
	})
}

type idleBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
	// done: the body ended or the handler returned, so the deadline is no longer
	// ours. Atomic: a Transport may still read the body after the handler returns.
	done atomic.Bool
}

func (b *idleBody) push() {
	if !b.done.Load() {
		b.rc.SetReadDeadline(time.Now().Add(b.idle)) // ErrNotSupported: unbounded, as before
	}
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.push()
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		// The server now reads the connection in the background, without a
		// deadline, to notice a client that goes away. A deadline pushed by a
		// read after the end would cancel the request's context.
		b.done.Store(true)
	}
	return n, err
}
