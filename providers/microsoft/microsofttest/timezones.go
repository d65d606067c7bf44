package microsofttest

import (
	"strings"
	"time"
)

// Time zones. Outlook names zones the Windows way ("W. Europe Standard
// Time") and Graph takes those or IANA names in Prefer: outlook.timezone
// and in dateTimeTimeZone values; events keep the Windows name of the zone
// they were made in (originalStartTimeZone). The table is CLDR's
// windowsZones mapping for the zones in common use.
var windowsZones = map[string]string{
	"UTC":                             "Etc/UTC",
	"GMT Standard Time":               "Europe/London",
	"Greenwich Standard Time":         "Atlantic/Reykjavik",
	"W. Europe Standard Time":         "Europe/Berlin",
	"Central Europe Standard Time":    "Europe/Budapest",
	"Central European Standard Time":  "Europe/Warsaw",
	"Romance Standard Time":           "Europe/Paris",
	"E. Europe Standard Time":         "Europe/Chisinau",
	"FLE Standard Time":               "Europe/Kiev",
	"GTB Standard Time":               "Europe/Bucharest",
	"Russian Standard Time":           "Europe/Moscow",
	"Turkey Standard Time":            "Europe/Istanbul",
	"Israel Standard Time":            "Asia/Jerusalem",
	"Egypt Standard Time":             "Africa/Cairo",
	"South Africa Standard Time":      "Africa/Johannesburg",
	"Arabian Standard Time":           "Asia/Dubai",
	"Arab Standard Time":              "Asia/Riyadh",
	"Iran Standard Time":              "Asia/Tehran",
	"Pakistan Standard Time":          "Asia/Karachi",
	"India Standard Time":             "Asia/Calcutta",
	"Nepal Standard Time":             "Asia/Katmandu",
	"Bangladesh Standard Time":        "Asia/Dhaka",
	"SE Asia Standard Time":           "Asia/Bangkok",
	"China Standard Time":             "Asia/Shanghai",
	"Singapore Standard Time":         "Asia/Singapore",
	"Taipei Standard Time":            "Asia/Taipei",
	"Tokyo Standard Time":             "Asia/Tokyo",
	"Korea Standard Time":             "Asia/Seoul",
	"AUS Eastern Standard Time":       "Australia/Sydney",
	"E. Australia Standard Time":      "Australia/Brisbane",
	"Cen. Australia Standard Time":    "Australia/Adelaide",
	"W. Australia Standard Time":      "Australia/Perth",
	"New Zealand Standard Time":       "Pacific/Auckland",
	"Hawaiian Standard Time":          "Pacific/Honolulu",
	"Alaskan Standard Time":           "America/Anchorage",
	"Pacific Standard Time":           "America/Los_Angeles",
	"US Mountain Standard Time":       "America/Phoenix",
	"Mountain Standard Time":          "America/Denver",
	"Central Standard Time":           "America/Chicago",
	"Central Standard Time (Mexico)":  "America/Mexico_City",
	"Canada Central Standard Time":    "America/Regina",
	"Eastern Standard Time":           "America/New_York",
	"US Eastern Standard Time":        "America/Indianapolis",
	"Atlantic Standard Time":          "America/Halifax",
	"Newfoundland Standard Time":      "America/St_Johns",
	"SA Pacific Standard Time":        "America/Bogota",
	"Pacific SA Standard Time":        "America/Santiago",
	"Argentina Standard Time":         "America/Buenos_Aires",
	"E. South America Standard Time":  "America/Sao_Paulo",
	"Morocco Standard Time":           "Africa/Casablanca",
	"W. Central Africa Standard Time": "Africa/Lagos",
	"E. Africa Standard Time":         "Africa/Nairobi",
}

// ianaAliases are IANA names CLDR lists beside the canonical one of a
// Windows zone, and the current names of old ones.
var ianaAliases = map[string]string{
	"Europe/Amsterdam": "W. Europe Standard Time", "Europe/Rome": "W. Europe Standard Time",
	"Europe/Vienna": "W. Europe Standard Time", "Europe/Zurich": "W. Europe Standard Time",
	"Europe/Stockholm": "W. Europe Standard Time", "Europe/Oslo": "W. Europe Standard Time",
	"Europe/Madrid": "Romance Standard Time", "Europe/Brussels": "Romance Standard Time",
	"Europe/Copenhagen": "Romance Standard Time", "Europe/Prague": "Central Europe Standard Time",
	"Europe/Dublin": "GMT Standard Time", "Europe/Lisbon": "GMT Standard Time", "Europe/Kyiv": "FLE Standard Time",
	"Europe/Helsinki": "FLE Standard Time", "Europe/Athens": "GTB Standard Time", "Asia/Kolkata": "India Standard Time",
	"Asia/Kathmandu": "Nepal Standard Time", "Asia/Hong_Kong": "China Standard Time", "America/Toronto": "Eastern Standard Time",
	"America/Vancouver": "Pacific Standard Time", "America/Argentina/Buenos_Aires": "Argentina Standard Time",
	"Etc/GMT": "UTC", "GMT": "UTC", "Etc/UTC": "UTC",
}

// windowsName is the Windows name of a zone given by either name; "" for
// one it does not know.
func windowsName(name string) string {
	for win, iana := range windowsZones {
		if strings.EqualFold(name, win) || strings.EqualFold(name, iana) {
			return win
		}
	}
	for iana, win := range ianaAliases {
		if strings.EqualFold(name, iana) {
			return win
		}
	}
	return ""
}

// resolveZone loads a zone by Windows or IANA name.
func resolveZone(name string) (*time.Location, bool) {
	if name == "" {
		return nil, false
	}
	if strings.EqualFold(name, "UTC") {
		return time.UTC, true
	}
	for win, iana := range windowsZones {
		if strings.EqualFold(name, win) {
			name = iana
			break
		}
	}
	if strings.Contains(name, "/") {
		if loc, err := time.LoadLocation(name); err == nil {
			return loc, true
		}
	}
	return nil, false
}
