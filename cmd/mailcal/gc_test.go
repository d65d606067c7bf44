package main

import "testing"

func TestHTTPGC(t *testing.T) {
	const gib = 1 << 30
	for _, tc := range []struct {
		gogcSet, limitSet bool
		memory            int64
		want              gcSettings
	}{
		{false, false, 8 * gib, gcSettings{percent: httpGCPercent, limit: 6 * gib}},
		{false, false, 0, gcSettings{percent: httpGCPercent}}, // memory unknown: no limit
		{true, false, 2 * gib, gcSettings{limit: 3 * gib / 2}},
		{false, true, 2 * gib, gcSettings{percent: httpGCPercent}},
		{true, true, 2 * gib, gcSettings{}},
	} {
		if got := httpGC(tc.gogcSet, tc.limitSet, tc.memory); got != tc.want {
			t.Errorf("httpGC(GOGC set %v, GOMEMLIMIT set %v, %d) = %+v, want %+v", tc.gogcSet, tc.limitSet, tc.memory, got, tc.want)
		}
	}
}
