package microsoft

import (
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // IANA zones on systems without a zoneinfo database
)

// zoneTTL is how long a mailbox's time zone is kept.
const zoneTTL = time.Hour

// ianaZone turns a zone name as Graph gives it (a Windows name such as
// "W. Europe Standard Time", an IANA name, "tzone://Microsoft/Utc") into an
// IANA zone; nil when it names none mailcal knows.
func ianaZone(name string) *time.Location {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return nil
	case strings.EqualFold(name, "tzone://Microsoft/Utc"), strings.EqualFold(name, "UTC"), strings.EqualFold(name, "Etc/UTC"):
		return time.UTC
	}
	if iana, ok := windowsZones[name]; ok {
		name = iana
	} else if !strings.Contains(name, "/") {
		return nil // not IANA either ("Customized Time Zone", a local name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil
	}
	return loc
}

// windowsZone finds a Windows zone name for an IANA zone, for the time
// zone Graph stores with a new event: the zone CLDR maps to it, else the
// first (by name) whose offsets agree with it at every instant of
// instants and at each month's start of the year after the first of them
// (Europe/Amsterdam → a zone with Amsterdam's rules). "" when none agrees:
// the caller sends UTC times then.
func windowsZone(loc *time.Location, instants ...time.Time) string {
	if loc == nil {
		return ""
	}
	if loc == time.UTC || loc.String() == "UTC" || loc.String() == "Etc/UTC" {
		return "UTC"
	}
	if w, ok := ianaToWindows[loc.String()]; ok {
		return w
	}
	if len(instants) == 0 {
		instants = []time.Time{time.Now()}
	}
	probe := append([]time.Time(nil), instants...)
	for m := 1; m <= 12; m++ {
		probe = append(probe, instants[0].AddDate(0, m, 0))
	}
	for _, w := range windowsNames {
		cand, err := time.LoadLocation(windowsZones[w])
		if err != nil {
			continue
		}
		same := true
		for _, t := range probe {
			_, a := t.In(loc).Zone()
			_, b := t.In(cand).Zone()
			same = same && a == b
		}
		if same {
			return w
		}
	}
	return ""
}

// ianaToWindows is windowsZones reversed (CLDR's zone of each Windows
// name maps back to it); windowsNames are the Windows names, sorted.
var ianaToWindows, windowsNames = func() (map[string]string, []string) {
	m := make(map[string]string, len(windowsZones))
	names := make([]string, 0, len(windowsZones))
	for w, iana := range windowsZones {
		names = append(names, w)
		if prev, ok := m[iana]; !ok || w < prev {
			m[iana] = w
		}
	}
	sort.Strings(names)
	return m, names
}()
