//go:build !unix

package main

// fdLimit returns 0: no descriptor limit to keep a reserve under.
func fdLimit() int { return 0 }
