//go:build !linux

package main

// availableMemory returns 0 (unknown): no soft memory limit is set.
func availableMemory() int64 { return 0 }
