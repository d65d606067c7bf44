package googletest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Gmail's messages.list: labelIds, includeSpamTrash and search (gmail_search.go),
// newest first, with page tokens bound to their query.

type msgRef struct {
	ID       string `json:"id"`
	ThreadID string `json:"threadId"`
}

type listMessagesJSON struct {
	Messages           []msgRef `json:"messages,omitempty"`
	NextPageToken      string   `json:"nextPageToken,omitempty"`
	ResultSizeEstimate int      `json:"resultSizeEstimate"`
}

func (s *Server) gmailList(w http.ResponseWriter, r *http.Request, c call) {
	email, scopes := c.email, c.scopes
	q := r.URL.Query()
	if q.Get("q") != "" && metadataOnly(scopes, gmailListMethod) {
		WriteAPIError(w, http.StatusForbidden, "Metadata scope does not support 'q' parameter", "forbidden")
		return
	}
	maxResults, ok := queryInt(w, q, "maxResults", "TYPE_UINT32", 100)
	if !ok {
		return
	}
	if maxResults == 0 {
		maxResults = 100
	}
	maxResults = min(maxResults, 500)
	spamTrash, ok := queryBool(w, q, "includeSpamTrash")
	if !ok {
		return
	}
	key := queryKey(q, "q", "labelIds", "includeSpamTrash") + strings.ToLower(email)
	after, ok := readPage(w, q, key, "Invalid pageToken", "invalidArgument")
	if !ok {
		return
	}
	terms := parseGmailQuery(q.Get("q"))
	labelIDs := q["labelIds"]
	if slices.ContainsFunc(labelIDs, func(l string) bool { return l == "SPAM" || l == "TRASH" }) || terms.mentionsSpamTrash() {
		spamTrash = true
	}

	a := s.api
	a.mu.Lock()
	mb := a.mailboxLocked(email)
	now := s.Now()
	var hits []*mailMsg
	for _, m := range mb.order {
		if !spamTrash && (slices.Contains(m.labels, "SPAM") || slices.Contains(m.labels, "TRASH")) {
			continue
		}
		if slices.ContainsFunc(labelIDs, func(l string) bool { return !slices.Contains(m.labels, mb.labelID(l)) }) {
			continue
		}
		if terms.match(m, mb, now) {
			hits = append(hits, m)
		}
	}
	a.mu.Unlock()
	slices.SortFunc(hits, func(x, y *mailMsg) int { return strings.Compare(sortKey(y), sortKey(x)) })
	start := 0
	if after != "" {
		start = len(hits)
		for i, m := range hits {
			if sortKey(m) < after {
				start = i
				break
			}
		}
	}
	resp := listMessagesJSON{ResultSizeEstimate: len(hits)}
	page, end := pageOf(hits, start, maxResults)
	for _, m := range page {
		resp.Messages = append(resp.Messages, msgRef{m.id, m.threadID})
	}
	if end < len(hits) {
		resp.NextPageToken = pageToken(key, sortKey(hits[end-1]))
	}
	s.writeAPI(w, r, http.StatusOK, resp)
}

// sortKey orders messages newest first (descending key): internalDate, then id.
func sortKey(m *mailMsg) string { return fmt.Sprintf("%016x:%s", m.date.UnixMilli(), m.id) }

// labelID maps a label name of a user label to its id; ids pass through.
func (mb *mailbox) labelID(l string) string {
	for _, ul := range mb.labels {
		if strings.EqualFold(ul.name, l) {
			return ul.id
		}
	}
	return l
}
