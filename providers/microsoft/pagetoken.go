package microsoft

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"

	"github.com/mailcal/mailcal/providers"
)

// pageToken is what mailcal's opaque page_token carries of Graph's
// @odata.nextLink: only the paging parameter ($skip or $skiptoken), the
// window of a calendar view, and a hash of the listing's arguments. The next
// request is rebuilt from the listing's own path and parameters, so a token
// can never send a request to another host or path, and a token of another
// listing is refused rather than silently paging it.
type pageToken struct {
	Hash      string `json:"h"`
	Skip      int64  `json:"k,omitempty"`
	SkipToken string `json:"t,omitempty"`
	// Start and End: a calendar view's window (Unix seconds), kept so that
	// the next page continues the first one's window.
	Start int64 `json:"a,omitempty"`
	End   int64 `json:"b,omitempty"`
}

// maxPageToken is what list_messages and list_events accept as page_token.
const maxPageToken = 512

// listingHash identifies a listing's arguments in its page tokens.
func listingHash(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:6])
}

func (t pageToken) encode() string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

func badToken(msg string) error {
	return &providers.FieldError{Field: "page_token", Msg: msg}
}

// decodePageToken reads a page_token and checks it belongs to the listing
// whose arguments hash to hash.
func decodePageToken(s, hash string) (pageToken, error) {
	var t pageToken
	if len(s) > maxPageToken {
		return t, badToken("too long to be a next_page_token mailcal gave")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &t) != nil {
		return t, badToken("not a next_page_token mailcal gave (damaged or cut short?): pass next_page_token exactly as it came, or leave it out for the first page")
	}
	switch {
	case t.Hash != hash:
		return t, badToken("belongs to a listing with other arguments: pass the same query, label, unread_only (or calendar_id and query) as for the first page, or leave page_token out")
	case (t.Skip != 0) == (t.SkipToken != ""), t.Skip < 0, t.Skip > 1<<31:
		return t, badToken("not a next_page_token mailcal gave (its position is missing or out of range)")
	case t.SkipToken != "" && !safeSkipToken(t.SkipToken):
		return t, badToken("not a next_page_token mailcal gave (its position holds characters Graph does not use)")
	case t.Start < 0 || t.End < t.Start:
		return t, badToken("not a next_page_token mailcal gave (its window is out of order)")
	}
	return t, nil
}

// safeSkipToken: the characters Graph's $skiptoken values use.
func safeSkipToken(s string) bool {
	if s == "" || len(s) > 400 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~=+/%!*'()", c) >= 0) {
			return false
		}
	}
	return true
}

// apply puts the token's paging parameter into a request's query.
func (t pageToken) apply(q url.Values) {
	if t.SkipToken != "" {
		q.Set("$skiptoken", t.SkipToken)
	} else if t.Skip > 0 {
		q.Set("$skip", strconv.FormatInt(t.Skip, 10))
	}
}

// nextToken turns an answer's @odata.nextLink into the next page's token.
// Only its $skip or $skiptoken is kept: the link itself is never requested
// (whatever host or path it names), the next request is rebuilt from the
// listing's own.
func nextToken(next, hash string, start, end int64) (string, error) {
	if next == "" {
		return "", nil
	}
	invalid := &providers.Error{Kind: providers.ErrInvalidAnswer, Message: "Microsoft Graph's next-page link has no $skip or $skiptoken mailcal can page with"}
	u, err := url.Parse(next)
	if err != nil {
		return "", invalid
	}
	q := u.Query()
	t := pageToken{Hash: hash, Start: start, End: end, SkipToken: q.Get("$skiptoken")}
	if t.SkipToken == "" {
		n, err := strconv.ParseInt(q.Get("$skip"), 10, 64)
		if err != nil || n <= 0 || n > 1<<31 {
			return "", invalid
		}
		t.Skip = n
	} else if !safeSkipToken(t.SkipToken) {
		return "", invalid
	}
	s := t.encode()
	if len(s) > maxPageToken {
		return "", &providers.Error{Kind: providers.ErrInvalidAnswer, Message: "Microsoft Graph's next-page position is longer than a page_token may be"}
	}
	return s, nil
}
