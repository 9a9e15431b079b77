package identity_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/hubgate/hubgate/identity"
	"github.com/hubgate/hubgate/provider"
)

// rotating is a provider that rotates refresh tokens like DOT: each call mints a new
// pair; gate, when set, holds every call until it is closed.
type rotating struct {
	calls   atomic.Int64
	entered chan struct{} // one value per call, when it starts
	gate    chan struct{}
	fail    error // returned instead of tokens while set
	ctxErr  atomic.Value
}

func newRotating() *rotating { return &rotating{entered: make(chan struct{}, 100)} }

func (r *rotating) provider() *stubIDP {
	return &stubIDP{refresh: func(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
		n := r.calls.Add(1)
		r.entered <- struct{}{}
		if r.gate != nil {
			select {
			case <-r.gate:
			case <-ctx.Done():
				return nil, &provider.UnavailableError{Err: ctx.Err()}
			}
		}
		if ctx.Err() != nil {
			r.ctxErr.Store(ctx.Err())
		}
		if r.fail != nil {
			return nil, r.fail
		}
		return &oauth2.Token{
			AccessToken:  fmt.Sprintf("access-%d-for-%s", n, refreshToken),
			RefreshToken: fmt.Sprintf("refresh-%d", n),
			Expiry:       time.Now().Add(time.Hour),
		}, nil
	}}
}

func TestRefresherSingleFlight(t *testing.T) {
	const n = 16
	rot := newRotating()
	rot.gate = make(chan struct{})
	ref := identity.NewRefresher(rot.provider(), 5*time.Second)

	var started, done sync.WaitGroup
	started.Add(n)
	done.Add(n)
	toks := make([]*oauth2.Token, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		go func() {
			defer done.Done()
			started.Done()
			toks[i], errs[i] = ref.Refresh(context.Background(), "refresh-0")
		}()
	}
	started.Wait()
	select {
	case <-rot.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the provider was never called")
	}
	time.Sleep(50 * time.Millisecond) // let the others reach the refresher and wait
	close(rot.gate)
	done.Wait()

	if c := rot.calls.Load(); c != 1 {
		t.Errorf("%d provider calls for one refresh token, want 1", c)
	}
	for i := range toks {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if toks[i].AccessToken != "access-1-for-refresh-0" || toks[i].RefreshToken != "refresh-1" {
			t.Errorf("caller %d got %q/%q, want the one refresh's tokens", i, toks[i].AccessToken, toks[i].RefreshToken)
		}
	}
}

// A request that still carries the old cookie (the rotated-away refresh token) gets the
// refresh already made instead of a second call that DOT would refuse.
func TestRefresherRemembers(t *testing.T) {
	rot := newRotating()
	ref := identity.NewRefresher(rot.provider(), 5*time.Second)
	first, err := ref.Refresh(context.Background(), "refresh-0")
	if err != nil {
		t.Fatal(err)
	}
	again, err := ref.Refresh(context.Background(), "refresh-0")
	if err != nil {
		t.Fatal(err)
	}
	if c := rot.calls.Load(); c != 1 {
		t.Errorf("%d provider calls, want 1: the second refresh should be remembered", c)
	}
	if again.AccessToken != first.AccessToken || again.RefreshToken != first.RefreshToken {
		t.Errorf("second answer %q/%q, want the first %q/%q", again.AccessToken, again.RefreshToken, first.AccessToken, first.RefreshToken)
	}
	// Another refresh token is another refresh.
	other, err := ref.Refresh(context.Background(), first.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if c := rot.calls.Load(); c != 2 || other.AccessToken != "access-2-for-refresh-1" {
		t.Errorf("after a new refresh token: %d calls, token %q", c, other.AccessToken)
	}
	// A similar token must not hit the remembered one.
	if _, err := ref.Refresh(context.Background(), "refresh-0 "); err != nil {
		t.Fatal(err)
	}
	if c := rot.calls.Load(); c != 3 {
		t.Errorf("%d calls, want 3: a different refresh token got a remembered answer", c)
	}
}

func TestRefresherFailuresNotRemembered(t *testing.T) {
	for _, fail := range []error{provider.ErrInvalidToken, &provider.UnavailableError{Err: errors.New("down")}} {
		t.Run(fail.Error(), func(t *testing.T) {
			rot := newRotating()
			rot.fail = fail
			ref := identity.NewRefresher(rot.provider(), 5*time.Second)
			_, err := ref.Refresh(context.Background(), "refresh-0")
			if !errors.Is(err, fail) {
				t.Fatalf("err = %v, want %v", err, fail)
			}
			_, err = ref.Refresh(context.Background(), "refresh-0")
			if !errors.Is(err, fail) {
				t.Fatalf("second err = %v, want %v", err, fail)
			}
			if c := rot.calls.Load(); c != 2 {
				t.Errorf("%d provider calls, want 2: a failure must not be remembered", c)
			}
			rot.fail = nil
			tok, err := ref.Refresh(context.Background(), "refresh-0")
			if err != nil || tok.AccessToken != "access-3-for-refresh-0" {
				t.Errorf("after recovery: %v, %+v", err, tok)
			}
		})
	}
}

func TestRefresherCancelledCaller(t *testing.T) {
	rot := newRotating()
	rot.gate = make(chan struct{})
	ref := identity.NewRefresher(rot.provider(), 5*time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan error, 1)
	go func() {
		_, err := ref.Refresh(ctx, "refresh-0")
		cancelled <- err
	}()
	<-rot.entered
	other := make(chan error, 1)
	var otherTok *oauth2.Token
	go func() {
		var err error
		otherTok, err = ref.Refresh(context.Background(), "refresh-0")
		other <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-cancelled:
		var ue *provider.UnavailableError
		if !errors.As(err, &ue) || !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled caller got %v (%T), want *UnavailableError wrapping context.Canceled", err, err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the cancelled caller did not return")
	}
	select {
	case err := <-other:
		t.Fatalf("the other caller returned early: %v", err)
	default:
	}
	close(rot.gate)
	select {
	case err := <-other:
		if err != nil {
			t.Fatalf("the other caller failed: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the other caller did not return")
	}
	if otherTok.AccessToken != "access-1-for-refresh-0" {
		t.Errorf("other caller token %q", otherTok.AccessToken)
	}
	if err, _ := rot.ctxErr.Load().(error); err != nil {
		t.Errorf("the provider call saw its context end (%v) because one caller left", err)
	}
	if c := rot.calls.Load(); c != 1 {
		t.Errorf("%d provider calls, want 1", c)
	}
}

func TestRefresherTimeout(t *testing.T) {
	rot := newRotating()
	rot.gate = make(chan struct{}) // never opened
	ref := identity.NewRefresher(rot.provider(), 100*time.Millisecond)
	start := time.Now()
	_, err := ref.Refresh(context.Background(), "refresh-0")
	var ue *provider.UnavailableError
	if !errors.As(err, &ue) {
		t.Errorf("err = %v, want *UnavailableError", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Refresh took %v with a 100ms timeout", d)
	}
}
