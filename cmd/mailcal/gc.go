package main

import (
	"log/slog"
	"runtime/debug"
)

// The garbage collector when serving over HTTP. Every call allocates (the
// answers decoded, the result encoded), and at Go's default (GOGC=100) the
// collector took about a fifth of a call's CPU time under load (the load
// benchmark, cmd/mailcal/e2e/load), much of it scanning the stacks of the
// goroutines of every open connection. Serving over HTTP, mailcal lets the
// heap grow to five times what is live before collecting (GOGC=400: a
// quarter as many collections), within a soft memory limit of three
// quarters of the memory the process may use (its cgroup's limit, else the
// machine's): near the limit the collector runs more often rather than let
// a container be killed. GOGC and GOMEMLIMIT, when set, are the runtime's
// and stand. stdio mode keeps Go's defaults.

// httpGCPercent is GOGC when serving over HTTP.
const httpGCPercent = 400

// gcSettings are collector settings to apply; 0 leaves one as it is.
type gcSettings struct {
	percent int
	limit   int64 // bytes
}

// httpGC decides the collector settings of http mode: gogcSet and
// memLimitSet say whether GOGC and GOMEMLIMIT are in the environment;
// memory is the memory the process may use (0: unknown).
func httpGC(gogcSet, memLimitSet bool, memory int64) gcSettings {
	var s gcSettings
	if !gogcSet {
		s.percent = httpGCPercent
	}
	if !memLimitSet && memory > 0 {
		s.limit = memory / 4 * 3
	}
	return s
}

// applyGC applies s to the runtime (main's env.setGC).
func applyGC(s gcSettings) {
	if s.percent > 0 {
		debug.SetGCPercent(s.percent)
	}
	if s.limit > 0 {
		debug.SetMemoryLimit(s.limit)
	}
	var attrs []any
	if s.percent > 0 {
		attrs = append(attrs, "gogc", s.percent)
	}
	if s.limit > 0 {
		attrs = append(attrs, "memory_limit_mb", s.limit>>20)
	}
	if len(attrs) > 0 {
		slog.Info("garbage collector set for serving over HTTP", attrs...)
	}
}
