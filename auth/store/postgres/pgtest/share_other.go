//go:build !linux

package pgtest

// shared: each test binary starts its own server outside Linux.
func shared() (*server, error, bool) { return nil, nil, false }
