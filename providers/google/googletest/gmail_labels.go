package googletest

import (
	"net/http"
	"slices"
	"strings"
)

// Gmail's labels.list and labels.get: the system labels and the user's own.

type labelJSON struct {
	ID                    string `json:"id"`
	Name                  string `json:"name"`
	MessageListVisibility string `json:"messageListVisibility,omitempty"`
	LabelListVisibility   string `json:"labelListVisibility,omitempty"`
	Type                  string `json:"type"`
	MessagesTotal         *int   `json:"messagesTotal,omitempty"`
	MessagesUnread        *int   `json:"messagesUnread,omitempty"`
	ThreadsTotal          *int   `json:"threadsTotal,omitempty"`
	ThreadsUnread         *int   `json:"threadsUnread,omitempty"`
}

func (s *Server) gmailLabels(w http.ResponseWriter, r *http.Request, c call) {
	email := c.email
	s.api.mu.Lock()
	mb := s.api.mailboxLocked(email)
	var out []labelJSON
	for _, l := range systemLabels {
		lj := labelJSON{ID: l, Name: l, Type: "system"}
		if l == "SENT" || l == "INBOX" || l == "IMPORTANT" || l == "STARRED" || l == "UNREAD" || l == "DRAFT" {
			// Gmail shows no visibility for these in labels.list.
		} else if strings.HasPrefix(l, "CATEGORY_") || l == "CHAT" {
			lj.MessageListVisibility, lj.LabelListVisibility = "hide", "labelHide"
		}
		out = append(out, lj)
	}
	for _, ul := range mb.labels {
		out = append(out, labelJSON{ID: ul.id, Name: ul.name, Type: "user", MessageListVisibility: "show", LabelListVisibility: "labelShow"})
	}
	s.api.mu.Unlock()
	s.writeAPI(w, r, http.StatusOK, map[string]any{"labels": out})
}

func (s *Server) gmailLabel(w http.ResponseWriter, r *http.Request, c call) {
	email := c.email
	id := c.params["id"]
	s.api.mu.Lock()
	mb := s.api.mailboxLocked(email)
	var lj *labelJSON
	if slices.Contains(systemLabels, id) {
		lj = &labelJSON{ID: id, Name: id, Type: "system"}
	}
	for _, ul := range mb.labels {
		if ul.id == id {
			lj = &labelJSON{ID: ul.id, Name: ul.name, Type: "user", MessageListVisibility: "show", LabelListVisibility: "labelShow"}
		}
	}
	if lj != nil {
		total, unread, threads, unreadThreads := 0, 0, map[string]bool{}, map[string]bool{}
		for _, m := range mb.order {
			if slices.Contains(m.labels, id) {
				total++
				threads[m.threadID] = true
				if slices.Contains(m.labels, "UNREAD") {
					unread++
					unreadThreads[m.threadID] = true
				}
			}
		}
		nt, nut := len(threads), len(unreadThreads)
		lj.MessagesTotal, lj.MessagesUnread, lj.ThreadsTotal, lj.ThreadsUnread = &total, &unread, &nt, &nut
	}
	s.api.mu.Unlock()
	writeFound(s, w, r, lj, "Requested entity was not found.")
}
