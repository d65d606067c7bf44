package main

import (
	"net"

	"golang.org/x/net/netutil"
)

// limitConns bounds the connections the HTTP listener holds at once to the
// process's file-descriptor limit less a reserve, so that a flood of
// connections (slow senders, until readDeadline cuts them) cannot take the
// descriptors the keyring, upstream requests and logs need: with none left,
// every request failed with 503 "too many open files". Connections beyond
// the bound wait in the kernel's accept queue. It returns the bound, 0 when
// the limit is unknown (and ln unchanged).
func limitConns(ln net.Listener) (net.Listener, int) {
	n := fdLimit()
	if n <= 0 || n > 1<<20 {
		return ln, 0
	}
	reserve := min(max(n/4, 32), 512)
	n = max(n-reserve, 16)
	return netutil.LimitListener(ln, n), n
}
