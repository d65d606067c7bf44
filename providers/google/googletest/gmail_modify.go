package googletest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// Gmail's users.messages.batchModify: POST
// gmail/v1/users/{userId}/messages/batchModify with {ids, addLabelIds,
// removeLabelIds}, answered 204 with no body. At most 1,000 ids ("Number of
// ids cannot exceed 1000", 400 invalidArgument); an id that is not one
// Gmail could have made is refused ("Invalid id value"), while a well-formed
// id of no message in the mailbox is passed over (the answer says nothing
// per message). Label ids must be the mailbox's (system or user); SENT,
// DRAFT and CHAT cannot be changed ("Invalid label"). Adding TRASH trashes,
// as messages.trash does.

const gmailBatchModifyMethod = "gmail.users.messages.batchModify"

// GmailMaxBatchModifyIDs is batchModify's limit of ids a request.
const GmailMaxBatchModifyIDs = 1000

func init() {
	// The discovery document's scopes of the method (CheckDiscovery
	// verifies them).
	routeScopes[gmailBatchModifyMethod] = []string{scopeMail, scopeGmailModify}
}

func (s *Server) gmailModifyRoutes() {
	s.addRoute("POST", "gmail/v1/users/{userId}/messages/batchModify", gmailBatchModifyMethod, s.gmailBatchModify)
}

func (s *Server) gmailBatchModify(w http.ResponseWriter, r *http.Request, c call) {
	body, err := io.ReadAll(io.LimitReader(r.Body, GmailJSONBodyLimit+1))
	if err != nil || len(body) > GmailJSONBodyLimit {
		WriteAPIError(w, http.StatusBadRequest, "Failed to read the request body.", "badRequest")
		return
	}
	var req struct {
		IDs    []string `json:"ids"`
		Add    []string `json:"addLabelIds"`
		Remove []string `json:"removeLabelIds"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		badRequestField(w, "", "Invalid JSON payload received. "+err.Error())
		return
	}
	switch {
	case len(req.IDs) == 0:
		WriteAPIError(w, http.StatusBadRequest, "No message ids specified.", "invalidArgument")
		return
	case len(req.IDs) > GmailMaxBatchModifyIDs:
		WriteAPIError(w, http.StatusBadRequest, fmt.Sprintf("Number of ids cannot exceed %d", GmailMaxBatchModifyIDs), "invalidArgument")
		return
	}
	for _, id := range req.IDs {
		if !hexID.MatchString(id) {
			WriteAPIError(w, http.StatusBadRequest, "Invalid id value", "invalidArgument")
			return
		}
	}
	a := s.api
	a.mu.Lock()
	defer a.mu.Unlock()
	mb := a.mailboxLocked(c.email)
	for _, l := range append(slices.Clone(req.Add), req.Remove...) {
		known := slices.Contains(systemLabels, l) || slices.ContainsFunc(mb.labels, func(ul *userLabel) bool { return ul.id == l })
		if !known || l == "SENT" || l == "DRAFT" || l == "CHAT" {
			WriteAPIError(w, http.StatusBadRequest, "Invalid label: "+l, "invalidArgument")
			return
		}
	}
	for _, id := range req.IDs {
		m := mb.msgs[id]
		if m == nil {
			continue
		}
		labels := slices.DeleteFunc(slices.Clone(m.labels), func(l string) bool { return slices.Contains(req.Remove, l) })
		for _, l := range req.Add {
			if !slices.Contains(labels, l) {
				labels = append(labels, l)
			}
		}
		if !slices.Equal(labels, m.labels) {
			mb.history += 7
			m.labels, m.history = labels, mb.history
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// MessageLabels returns the label ids of a message in a user's mailbox (nil
// when there is no such message).
func (s *Server) MessageLabels(email, id string) []string {
	s.api.mu.Lock()
	defer s.api.mu.Unlock()
	mb := s.api.mail[strings.ToLower(email)]
	if mb == nil || mb.msgs[id] == nil {
		return nil
	}
	return slices.Clone(mb.msgs[id].labels)
}
