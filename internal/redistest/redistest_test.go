package redistest_test

import (
	"context"
	"testing"

	"github.com/hubgate/hubgate/internal/redistest"
)

func TestStartStopRestart(t *testing.T) {
	s := redistest.Start(t)
	c := s.Client()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := c.Get(ctx, "k").Err(); err == nil {
		t.Fatal("GET succeeded with the server stopped")
	}
	s.Restart()
	if err := c.Get(ctx, "k").Err(); err == nil {
		t.Fatal("the restarted server still has the old data")
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after restart: %v", err)
	}
}
