package oauth

import "time"

// SetClock replaces a Flows' clock in tests.
func SetClock(f *Flows, now func() time.Time) { f.now = now }

var LoopbackRedirect = loopbackRedirect
