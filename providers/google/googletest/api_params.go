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
