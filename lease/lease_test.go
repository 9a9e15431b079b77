package lease_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hubgate/hubgate/internal/redistest"
	"github.com/hubgate/hubgate/lease"
)

// TestClaimWaitsForTheHolder: one replica holds the lock; another waits and is
// handed the value the holder stores as it lets go.
func TestClaimWaitsForTheHolder(t *testing.T) {
	rdb := redistest.Start(t).Client()
	a, b := lease.New(rdb, nil, "a", time.Second), lease.New(rdb, nil, "b", time.Second)
	ctx := context.Background()
	_, held, err := a.Claim(ctx, "val", "lock")
	if err != nil || held == nil {
		t.Fatalf("first claim: held %v, %v", held != nil, err)
	}
	got := make(chan string)
	go func() {
		v, l, err := b.Claim(ctx, "val", "lock")
		if err != nil || l != nil {
			t.Errorf("second claim: held %v, %v", l != nil, err)
		}
		got <- v
	}()
	time.Sleep(50 * time.Millisecond)
	if now := held.Release("val", "result", time.Minute, false); now != "result" {
		t.Errorf("Release returned %q", now)
	}
	if v := <-got; v != "result" {
		t.Errorf("the waiter got %q, want the holder's result", v)
	}
}

// TestClaimGivesUpWithItsContext: a wait outlasting its context is ErrWaitTimeout.
func TestClaimGivesUpWithItsContext(t *testing.T) {
	rdb := redistest.Start(t).Client()
	s := lease.New(rdb, nil, "", time.Second)
	_, held, err := s.Claim(context.Background(), "val", "lock")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release("val", "", 0, false)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := s.Claim(ctx, "val", "lock"); !errors.Is(err, lease.ErrWaitTimeout) {
		t.Errorf("err = %v, want ErrWaitTimeout", err)
	}
}

// A nil Shared (no Redis) is never up, so its users stay in the process.
func TestNoRedis(t *testing.T) {
	if s := lease.New(nil, nil, "", 0); s.Up() {
		t.Error("a Shared without Redis is up")
	}
}
