package freeport

import (
	"net"
	"strconv"
	"testing"
)

// Ports are distinct, below the ephemeral range, and free to bind.
func TestPort(t *testing.T) {
	ephLo, _ := ephemeralRange()
	seen := map[int]bool{}
	for range 200 {
		port, err := Port()
		if err != nil {
			t.Fatal(err)
		}
		if seen[port] {
			t.Fatalf("port %d handed out twice", port)
		}
		seen[port] = true
		if ephLo-low >= 1000 && (port < low || port >= ephLo) {
			t.Fatalf("port %d outside %d-%d", port, low, ephLo-1)
		}
	}
	addr, err := Addr()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("Addr %s does not bind: %v", addr, err)
	}
	l.Close()
}

// A port that is in use is not handed out.
func TestPortSkipsBusy(t *testing.T) {
	var busy []net.Listener
	defer func() {
		for _, l := range busy {
			l.Close()
		}
	}()
	ephLo, _ := ephemeralRange()
	lo, hi := portRange(ephLo, 0)
	taken := map[int]bool{}
	for p := lo; p < hi && len(busy) < 50; p += (hi - lo) / 50 {
		l, err := net.Listen("tcp", net.JoinHostPort(Host, strconv.Itoa(p)))
		if err == nil {
			busy = append(busy, l)
			taken[p] = true
		}
	}
	for range 200 {
		port, err := Port()
		if err != nil {
			t.Fatal(err)
		}
		if taken[port] {
			t.Fatalf("busy port %d handed out", port)
		}
	}
}

func TestPortRange(t *testing.T) {
	for _, c := range []struct{ ephLo, ephHi, lo, hi int }{
		{32768, 60999, low, 32768},
		{49152, 65535, low, 49152},
		{1024, 50000, 50001, 65536},
		{1024, 65535, 1024, 65536},
	} {
		if lo, hi := portRange(c.ephLo, c.ephHi); lo != c.lo || hi != c.hi {
			t.Errorf("portRange(%d, %d) = %d, %d; want %d, %d", c.ephLo, c.ephHi, lo, hi, c.lo, c.hi)
		}
	}
}
