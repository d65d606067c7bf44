package googletest

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The reading of typed query parameters, and opaque page tokens bound to
// the query they page.

// queryInt reads an integer parameter; ok is false after an error answer.
func queryInt(w http.ResponseWriter, q url.Values, name, typ string, def int) (int, bool) {
	v := q.Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || typ == "TYPE_UINT32" && n < 0 {
		invalidValue(w, name, typ, v)
		return 0, false
	}
	return n, true
}

// queryBool reads a boolean parameter; ok is false after an error answer.
func queryBool(w http.ResponseWriter, q url.Values, name string) (bool, bool) {
	switch v := q.Get(name); v {
	case "", "false":
		return false, true
	case "true":
		return true, true
	default:
		invalidValue(w, name, "TYPE_BOOL", v)
		return false, false
	}
}

// pageToken makes an opaque page token for a position in a result list,
// bound to the query it belongs to.
func pageToken(query string, pos string) string {
	sum := sha256.Sum256([]byte(query))
	return base64.RawURLEncoding.EncodeToString(append(sum[:6], pos...))
}

// readPageToken returns the position in a token made by pageToken for the
// same query; ok is false for any other token.
func readPageToken(query, tok string) (pos string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	sum := sha256.Sum256([]byte(query))
	if err != nil || len(b) < 6 || string(b[:6]) != string(sum[:6]) {
		return "", false
	}
	return string(b[6:]), true
}

// queryKey joins the parameters a page token is bound to.
func queryKey(q url.Values, names ...string) string {
	var b strings.Builder
	for _, n := range names {
		vs := slices.Clone(q[n])
		slices.Sort(vs)
		fmt.Fprintf(&b, "%s=%q;", n, vs)
	}
	return b.String()
}

// readPage reads the pageToken parameter, made by pageToken for the query
// key: pos is "" without one; a token of another query is answered 400
// with the API's message and reason.
func readPage(w http.ResponseWriter, q url.Values, key, message, reason string) (pos string, ok bool) {
	tok := q.Get("pageToken")
	if tok == "" {
		return "", true
	}
	if pos, ok = readPageToken(key, tok); !ok {
		WriteAPIError(w, http.StatusBadRequest, message, reason)
	}
	return pos, ok
}

// pageOf is items from offset on, at most max of them; end is where the
// next page starts (len(items) when this is the last).
func pageOf[T any](items []T, offset, max int) (page []T, end int) {
	end = min(offset+max, len(items))
	return items[min(offset, end):end], end
}

// Calendar's parameters.

// readOffset reads a Calendar page token, an offset in the result list.
func readOffset(w http.ResponseWriter, q url.Values, key string) (int, bool) {
	pos, ok := readPage(w, q, key, "Invalid page token value.", "invalid")
	n, _ := strconv.Atoi(pos)
	return n, ok
}

// queryMaxResults reads Calendar's maxResults: def when absent, at most
// limit; below 1 is an error.
func queryMaxResults(w http.ResponseWriter, q url.Values, def, limit int) (int, bool) {
	n, ok := queryInt(w, q, "maxResults", "TYPE_INT32", def)
	if ok && n < 1 {
		WriteAPIError(w, http.StatusBadRequest, fmt.Sprintf("Invalid value '%d'. Values must be within the range: [1, %d]", n, limit), "invalid")
		ok = false
	}
	return min(n, limit), ok
}

// queryTime reads an RFC 3339 time parameter (zero when absent).
func queryTime(w http.ResponseWriter, q url.Values, name string) (time.Time, bool) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		WriteAPIError(w, http.StatusBadRequest, "Bad Request", "badRequest")
		return time.Time{}, false
	}
	return t, true
}

// queryWindow reads timeMin and timeMax; an empty window is an error.
func queryWindow(w http.ResponseWriter, q url.Values) (timeMin, timeMax time.Time, ok bool) {
	if timeMin, ok = queryTime(w, q, "timeMin"); ok {
		timeMax, ok = queryTime(w, q, "timeMax")
	}
	if ok && !timeMin.IsZero() && !timeMax.IsZero() && !timeMax.After(timeMin) {
		WriteAPIError(w, http.StatusBadRequest, "The specified time range is empty.", "timeRangeEmpty")
		ok = false
	}
	return timeMin, timeMax, ok
}

// queryTimeZone reads the timeZone parameter (nil when absent).
func queryTimeZone(w http.ResponseWriter, q url.Values) (*time.Location, bool) {
	tz := q.Get("timeZone")
	if tz == "" {
		return nil, true
	}
	loc, err := time.LoadLocation(tz)
	if err != nil || tz == "Local" {
		WriteAPIError(w, http.StatusBadRequest, "Invalid time zone definition for time zone: "+tz, "invalid")
		return nil, false
	}
	return loc, true
}
