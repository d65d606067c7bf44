package tools

import (
	"sync"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
)

// zones remembers each account's time zone once a calendar answer named it
// (the primary calendar's), so that mail times are shown in the person's
// zone where it is known, and in UTC until then.
type zones struct {
	mu sync.Mutex
	m  map[accountKey]*time.Location
}

const maxZones = 10000

func zoneKey(g grants.Grant) accountKey { return accountKey{g.Tenant, g.Provider, g.Account} }

// of returns the account's zone, or UTC.
func (z *zones) of(g grants.Grant) *time.Location {
	z.mu.Lock()
	defer z.mu.Unlock()
	if loc := z.m[zoneKey(g)]; loc != nil {
		return loc
	}
	return time.UTC
}

// learn records the account's zone (an IANA name; others are ignored). The
// zone database is read only when the name changed.
func (z *zones) learn(g grants.Grant, name string) {
	if name == "" || name == "Local" {
		return
	}
	z.mu.Lock()
	known := z.m[zoneKey(g)]
	z.mu.Unlock()
	if known != nil && known.String() == name {
		return
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.m == nil || len(z.m) >= maxZones {
		z.m = map[accountKey]*time.Location{}
	}
	z.m[zoneKey(g)] = loc
}
