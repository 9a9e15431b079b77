package identity_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/oauth2"

	"github.com/hubgate/hubgate/identity"
	"github.com/hubgate/hubgate/internal/redistest"
	"github.com/hubgate/hubgate/provider"
)

func refreshers(n int, p provider.Provider, o identity.RefresherOptions) []*identity.Refresher {
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	rs := make([]*identity.Refresher, n)
	for i := range rs {
		rs[i] = identity.NewRefresherWith(p, o)
	}
	return rs
}

func refreshKeys(refreshToken string) (val, lock string) {
	h := sha256.Sum256([]byte(refreshToken))
	return "hubgate:refreshed:" + hex.EncodeToString(h[:]), "hubgate:refresh-lock:" + hex.EncodeToString(h[:])
}

// refreshAll has each refresher refresh refreshToken perReplica times at once.
func refreshAll(rs []*identity.Refresher, perReplica int, refreshToken string) ([]*oauth2.Token, []error) {
	n := len(rs) * perReplica
	toks, errs := make([]*oauth2.Token, n), make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			toks[i], errs[i] = rs[i%len(rs)].Refresh(context.Background(), refreshToken)
		})
	}
	close(start)
	wg.Wait()
	return toks, errs
}

// TestSharedRefreshOnceAcrossReplicas: 3 replicas × 16 concurrent refreshes of one
// refresh token make one provider refresh, and every caller gets its tokens.
func TestSharedRefreshOnceAcrossReplicas(t *testing.T) {
	srv := redistest.Start(t)
	rot := newRotating()
	rot.gate = make(chan struct{})
	rs := refreshers(3, rot.provider(), identity.RefresherOptions{Redis: srv.Client()})
	go func() {
		<-rot.entered
		time.Sleep(200 * time.Millisecond) // every caller reaches a refresher and waits
		close(rot.gate)
	}()
	toks, errs := refreshAll(rs, 16, "refresh-0")
	if c := rot.calls.Load(); c != 1 {
		t.Errorf("%d provider refreshes across 3 replicas, want 1", c)
	}
	for i := range toks {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if toks[i].AccessToken != "access-1-for-refresh-0" || toks[i].RefreshToken != "refresh-1" {
			t.Errorf("caller %d got %q/%q, want the one refresh's tokens", i, toks[i].AccessToken, toks[i].RefreshToken)
		}
	}
	// A replica that comes to the old token later gets the same answer.
	late := identity.NewRefresherWith(rot.provider(), identity.RefresherOptions{Timeout: time.Second, Redis: srv.Client()})
	tok, err := late.Refresh(context.Background(), "refresh-0")
	if err != nil || tok.RefreshToken != "refresh-1" || !tok.Expiry.Equal(toks[0].Expiry) {
		t.Errorf("late replica: %+v, %v", tok, err)
	}
	if c := rot.calls.Load(); c != 1 {
		t.Errorf("%d provider refreshes, want 1", c)
	}
}

// TestSharedRefreshLeaseRenewed: a refresh that takes longer than the lease is not
// made a second time by a replica that thinks the holder died.
func TestSharedRefreshLeaseRenewed(t *testing.T) {
	srv := redistest.Start(t)
	rot := newRotating()
	rot.gate = make(chan struct{})
	rs := refreshers(2, rot.provider(), identity.RefresherOptions{Redis: srv.Client(), Lease: 300 * time.Millisecond})
	go func() {
		<-rot.entered
		time.Sleep(time.Second) // > 3 leases
		close(rot.gate)
	}()
	toks, errs := refreshAll(rs, 2, "refresh-0")
	if c := rot.calls.Load(); c != 1 {
		t.Errorf("%d provider refreshes, want 1: the lease lapsed while the refresh ran", c)
	}
	for i := range toks {
		if errs[i] != nil || toks[i].RefreshToken != "refresh-1" {
			t.Errorf("caller %d: %+v, %v", i, toks[i], errs[i])
		}
	}
	_, lock := refreshKeys("refresh-0")
	if n, _ := srv.Client().Exists(context.Background(), lock).Result(); n != 0 {
		t.Error("the lock outlived the refresh")
	}
}

// TestSharedRefreshEncrypted: Redis holds the refresh's result encrypted, under a key
// only the old refresh token gives: a dump of it reveals no token.
func TestSharedRefreshEncrypted(t *testing.T) {
	srv := redistest.Start(t)
	rot := newRotating()
	rs := refreshers(1, rot.provider(), identity.RefresherOptions{Redis: srv.Client()})
	tok, err := rs[0].Refresh(context.Background(), "refresh-0")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	keys, err := srv.Client().Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	val, _ := refreshKeys("refresh-0")
	if len(keys) != 1 || keys[0] != val {
		t.Fatalf("Redis keys %v, want [%s]", keys, val)
	}
	stored, err := srv.Client().Get(ctx, val).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{tok.AccessToken, tok.RefreshToken, "refresh-0", "access-", "refresh-1"} {
		if strings.Contains(stored, secret) || strings.Contains(strings.Join(keys, " "), secret) {
			t.Errorf("Redis holds %q in clear", secret)
		}
	}
	if ms, _ := srv.Client().PTTL(ctx, val).Result(); ms <= 0 || ms > time.Minute {
		t.Errorf("PTTL = %v, want within (0, 1m]", ms)
	}
}

// TestSharedRefreshTampered: a value the replica cannot open is not taken for a
// result: the replica refreshes itself.
func TestSharedRefreshTampered(t *testing.T) {
	srv := redistest.Start(t)
	rot := newRotating()
	rs := refreshers(1, rot.provider(), identity.RefresherOptions{Redis: srv.Client()})
	val, _ := refreshKeys("refresh-0")
	srv.Client().Set(context.Background(), val, "not sealed by hubgate at all, no", time.Minute)
	tok, err := rs[0].Refresh(context.Background(), "refresh-0")
	if err != nil || tok.AccessToken != "access-1-for-refresh-0" {
		t.Errorf("%+v, %v", tok, err)
	}
}

// TestSharedRefreshRefused: a refused refresh is refused for the replicas waiting on
// it too, without each asking again.
func TestSharedRefreshRefused(t *testing.T) {
	srv := redistest.Start(t)
	rot := newRotating()
	rot.gate = make(chan struct{})
	rot.fail = provider.ErrInvalidToken
	rs := refreshers(3, rot.provider(), identity.RefresherOptions{Redis: srv.Client()})
	go func() {
		<-rot.entered
		time.Sleep(200 * time.Millisecond)
		close(rot.gate)
	}()
	_, errs := refreshAll(rs, 4, "refresh-0")
	for i, err := range errs {
		if !errors.Is(err, provider.ErrInvalidToken) {
			t.Errorf("caller %d: %v, want ErrInvalidToken", i, err)
		}
	}
	if c := rot.calls.Load(); c != 1 {
		t.Errorf("%d provider refreshes, want 1", c)
	}
}

// TestSharedRefreshHolderFails: when the holder's refresh gets no answer, the
// replicas waiting on it try themselves (or fail), within the timeout.
func TestSharedRefreshHolderFails(t *testing.T) {
	srv := redistest.Start(t)
	var calls atomic.Int64
	p := &stubIDP{refresh: func(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
		n := calls.Add(1)
		time.Sleep(150 * time.Millisecond)
		if n == 1 {
			return nil, &provider.UnavailableError{Err: errors.New("first refresh fails")}
		}
		return &oauth2.Token{AccessToken: "access", RefreshToken: "refresh-1"}, nil
	}}
	rs := refreshers(3, p, identity.RefresherOptions{Redis: srv.Client(), Timeout: 3 * time.Second})
	start := time.Now()
	toks, errs := refreshAll(rs, 4, "refresh-0")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refreshes took %v after the holder failed", d)
	}
	if c := calls.Load(); c != 2 {
		t.Errorf("%d provider refreshes, want 2: the failed one and one retry", c)
	}
	var ok int
	for i := range errs {
		if errs[i] == nil && toks[i].RefreshToken == "refresh-1" {
			ok++
		}
	}
	if ok != 8 {
		t.Errorf("%d callers got the retry's tokens, want 8 (the holder's 4 fail): %v", ok, errs)
	}
}

// TestSharedRefreshDeadHolder: a replica that died holding the lock holds it until
// its lease ends; then a waiter refreshes.
func TestSharedRefreshDeadHolder(t *testing.T) {
	srv := redistest.Start(t)
	rot := newRotating()
	rs := refreshers(1, rot.provider(), identity.RefresherOptions{Redis: srv.Client()})
	_, lock := refreshKeys("refresh-0")
	srv.Client().Set(context.Background(), lock, "dead-replica", 300*time.Millisecond)
	start := time.Now()
	tok, err := rs[0].Refresh(context.Background(), "refresh-0")
	if err != nil || tok.RefreshToken != "refresh-1" {
		t.Fatalf("%+v, %v", tok, err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("refresh took %v: it did not wait for the lock", d)
	}
}

// TestSharedRefreshWaitBounded: a lock that never ends fails the refresh at the
// timeout, as unavailable.
func TestSharedRefreshWaitBounded(t *testing.T) {
	srv := redistest.Start(t)
	rot := newRotating()
	rs := refreshers(1, rot.provider(), identity.RefresherOptions{Redis: srv.Client(), Timeout: 200 * time.Millisecond})
	_, lock := refreshKeys("refresh-0")
	srv.Client().Set(context.Background(), lock, "busy", time.Minute)
	start := time.Now()
	_, err := rs[0].Refresh(context.Background(), "refresh-0")
	var ue *provider.UnavailableError
	if !errors.As(err, &ue) {
		t.Errorf("err = %v, want *UnavailableError", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("waited %v with a 200 ms timeout", d)
	}
	if c := rot.calls.Load(); c != 0 {
		t.Errorf("%d provider refreshes while another replica held the lock", c)
	}
}

// TestSharedRefreshRedisDown: without Redis each replica refreshes on its own, as
// before, and says so once.
func TestSharedRefreshRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	core, logs := observer.New(zap.InfoLevel)
	rot := newRotating()
	rs := refreshers(1, rot.provider(), identity.RefresherOptions{Redis: srv.Client(), Logger: zap.New(core)})
	srv.Stop()
	toks, errs := refreshAll(rs, 16, "refresh-0")
	for i := range toks {
		if errs[i] != nil || toks[i].RefreshToken != "refresh-1" {
			t.Errorf("caller %d with Redis down: %+v, %v", i, toks[i], errs[i])
		}
	}
	if c := rot.calls.Load(); c != 1 {
		t.Errorf("%d provider refreshes, want 1 (the in-process single flight)", c)
	}
	for _, tok := range []string{"a", "b", "c"} {
		if _, err := rs[0].Refresh(context.Background(), tok); err != nil {
			t.Error(err)
		}
	}
	if n := logs.FilterMessageSnippet("Redis unavailable").Len(); n != 1 {
		t.Errorf("%d warnings, want 1: %v", n, logs.All())
	}
}

// TestRefresherWithoutRedis: a nil client is the in-process Refresher.
func TestRefresherWithoutRedis(t *testing.T) {
	rot := newRotating()
	ref := identity.NewRefresherWith(rot.provider(), identity.RefresherOptions{Timeout: time.Second, Redis: (*redis.Client)(nil)})
	if _, err := ref.Refresh(context.Background(), "refresh-0"); err != nil {
		t.Fatal(err)
	}
}
