// Package freeport hands out loopback TCP ports for tests and the bench to start
// servers on.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Host is the address the ports are checked on, and the one Addr names.
const Host = "127.0.0.1"

// low is the lowest port handed out, clear of well-known services' ports.
const low = 20000

// Port returns a TCP port on Host that was free a moment ago and that no other
// caller in this process got.
//
// A port from ":0" would be the wrong kind: the kernel picks it from its ephemeral
// range (/proc/sys/net/ipv4/ip_local_port_range, 32768-60999 by default), where the
// local ends of outgoing connections come from too, so between the probe closing and
// the server binding it, the port can be handed out again or taken by a connection
// (CI saw hubgate's listen port given again as a Hub port, and taken by another
// test's server). So Port picks below that range, checks by binding, and remembers.
func Port() (int, error) {
	lo, hi := portRange(ephemeralRange())
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 1000 {
		port := lo + rand.IntN(hi-lo)
		if handedOut.ports[port] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(Host, strconv.Itoa(port)))
		if err != nil {
			continue // in use
		}
		l.Close()
		handedOut.ports[port] = true
		return port, nil
	}
	return 0, fmt.Errorf("freeport: no free port in %d-%d after 1000 tries", lo, hi-1)
}

// Addr is Port as "127.0.0.1:PORT".
func Addr() (string, error) {
	port, err := Port()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(Host, strconv.Itoa(port)), nil
}

var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// portRange is [lo, hi): from low up to the ephemeral range [ephLo, ephHi]. If that range starts
// too low to leave room, the ports come from above it instead.
func portRange(ephLo, ephHi int) (lo, hi int) {
	if ephLo-low >= 1000 {
		return low, ephLo
	}
	if 65536-(ephHi+1) >= 1000 {
		return ephHi + 1, 65536
	}
	return 1024, 65536 // no room either side: binding alone decides
}

// ephemeralRange reads the kernel's ephemeral port range, Linux's default where it
// cannot (other systems start theirs higher still).
func ephemeralRange() (lo, hi int) {
	lo, hi = 32768, 60999
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return lo, hi
	}
	l, err1 := strconv.Atoi(f[0])
	h, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || l < 1 || h < l || h > 65535 {
		return lo, hi
	}
	return l, h
}
