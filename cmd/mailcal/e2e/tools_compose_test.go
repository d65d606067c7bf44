//go:build unix

package e2e

import (
	"slices"
	"strings"
	"testing"
)

// Composing for a Google and a Microsoft account alike (run by
// TestE2EProviders): a reply without to, a reply to all, a forward with
// and without its attachments, the drafts' whole life, and the recipient
// allowlist on reply_all, forward_email and send_draft with nothing
// reaching the provider.

// ttChangeHints are the hints of the tools that change something, beyond
// readOnlyHint false and openWorldHint true: what leaves the mailbox or
// deletes or overwrites cannot be undone (destructive: update_draft replaces
// the draft's recipients and text); an update or a delete repeated changes
// nothing more (idempotent).
var ttChangeHints = map[string]*struct{ destructive, idempotent bool }{
	"send_email":    {destructive: true},
	"forward_email": {destructive: true},
	"send_draft":    {destructive: true},
	"create_draft":  {},
	"update_draft":  {destructive: true, idempotent: true},
	"delete_draft":  {destructive: true, idempotent: true},
}

// ttComposed is send_email's, forward_email's and send_draft's result.
type ttComposed struct {
	ID       string   `json:"id"`
	ThreadID string   `json:"thread_id"`
	To       []string `json:"to"`
	Cc       []string `json:"cc"`
}

type ttDraft struct {
	DraftID   string   `json:"draft_id"`
	MessageID string   `json:"message_id"`
	ThreadID  string   `json:"thread_id"`
	To        []string `json:"to"`
}

type ttDrafts struct {
	Drafts []struct {
		DraftID string   `json:"draft_id"`
		To      []string `json:"to"`
		Subject string   `json:"subject"`
		Date    string   `json:"date"`
	} `json:"drafts"`
	NextPageToken string `json:"next_page_token"`
}

// budget logs the upstream requests since resetAPI and fails past max.
func (a *provAccount) budget(t *testing.T, what string, max int) {
	t.Helper()
	n := a.apiRequests()
	t.Logf("%s: %s: %d upstream requests", a.name, what, n)
	if n > max {
		t.Errorf("%s made %d upstream requests, want at most %d", what, n, max)
	}
}

func sameAddresses(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	for i := range x {
		x[i] = strings.ToLower(x[i])
	}
	for i := range y {
		y[i] = strings.ToLower(y[i])
	}
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

func (a *provAccount) testCompose(t *testing.T) {
	t.Run("reply", a.testReplyRecipients)
	t.Run("forward", a.testForward)
	t.Run("drafts", a.testDrafts)
	t.Run("guarded", a.testComposeGuarded)
}

// testReplyRecipients: a reply without to goes to the original's sender,
// in its conversation; reply_all adds its To and Cc without alice.
func (a *provAccount) testReplyRecipients(t *testing.T) {
	var res ttComposed
	a.callOK(t, a.c, "send_email", map[string]any{"body": "Count me in.", "reply_to_message_id": a.msgs["phoenix-3"]}, &res)
	s := a.sent(t)
	if !slices.Equal(s.to, []string{"carol@example.com"}) || !strings.EqualFold(s.subject, "Re: Project Phoenix kickoff") || !strings.Contains(s.body, "Count me in.") {
		t.Errorf("reply without to: to %v, subject %q, body %q", s.to, s.subject, s.body)
	}
	if !slices.Equal(res.To, []string{"Carol Chen <carol@example.com>"}) {
		t.Errorf("the result says it went to %v", res.To)
	}
	if !a.replyInPhoen(t, ttSent{ID: res.ID, ThreadID: res.ThreadID}) {
		t.Error("the reply left its conversation")
	}

	a.callOK(t, a.c, "send_email", map[string]any{"body": "Agreed.", "reply_to_message_id": a.msgs["multi-rcpt"], "reply_all": true}, &res)
	s = a.sent(t)
	if !sameAddresses(s.to, []string{"eve@example.com", "jane@example.com"}) || !sameAddresses(s.cc, []string{bob, "carol@example.com"}) {
		t.Errorf("reply_all: to %v, cc %v; want eve and jane, cc bob and carol (never alice)", s.to, s.cc)
	}
	if len(res.To) != 2 || len(res.Cc) != 2 {
		t.Errorf("the result says to %v, cc %v", res.To, res.Cc)
	}
}

// testForward: the original's text under the note, its attachment along
// unless include_attachments is false, one forward prefix.
func (a *provAccount) testForward(t *testing.T) {
	var res ttComposed
	a.resetAPI()
	a.callOK(t, a.c, "forward_email", map[string]any{"message_id": a.msgs["report"], "to": []any{"Bob <" + bob + ">"}, "body": "FYI, the draft numbers."}, &res)
	a.budget(t, "forward_email with a PDF", 4) // Gmail: the original read for the guard, in full, its PDF, the send
	s := a.sent(t)
	fwd := strings.HasPrefix(s.subject, "Fwd: ") || strings.HasPrefix(s.subject, "FW: ")
	if !fwd || !strings.HasSuffix(s.subject, " Q3 report draft") || strings.Count(strings.ToLower(s.subject), "fw") != 1 {
		t.Errorf("forward subject %q, want one forward prefix", s.subject)
	}
	if !slices.Equal(s.to, []string{bob}) || !strings.Contains(s.body, "FYI, the draft numbers.") {
		t.Errorf("forward: to %v, body %q", s.to, s.body)
	}
	if pdf := s.attachments["Q3-report-draft.pdf"]; !strings.HasPrefix(string(pdf), "%PDF") {
		t.Errorf("the report's PDF did not go along: %d attachments", len(s.attachments))
	}
	if !slices.Equal(res.To, []string{"Bob <" + bob + ">"}) {
		t.Errorf("the result says it went to %v", res.To)
	}

	a.callOK(t, a.c, "forward_email", map[string]any{"message_id": a.msgs["report"], "to": []any{bob}, "include_attachments": false}, nil)
	if s := a.sent(t); len(s.attachments) != 0 {
		t.Errorf("include_attachments false sent %d attachments", len(s.attachments))
	}
	a.callFails(t, a.c, "forward_email", map[string]any{"message_id": a.bobMsg, "to": []any{bob}}, "not found")
}

// testDrafts: a reply draft in its conversation, listed, changed, sent;
// another deleted; nothing leaves until send_draft.
func (a *provAccount) testDrafts(t *testing.T) {
	sent, drafts := a.sentCount(), a.drafts()
	var d ttDraft
	a.resetAPI()
	a.callOK(t, a.c, "create_draft", map[string]any{"body": "Draft: see you then.", "reply_to_message_id": a.msgs["phoenix-3"]}, &d)
	a.budget(t, "create_draft of a reply without to", 3) // the original's recipients, its threading, the draft
	if d.DraftID == "" || !slices.Equal(d.To, []string{"Carol Chen <carol@example.com>"}) {
		t.Fatalf("create_draft %+v", d)
	}
	var other ttDraft
	a.callOK(t, a.c, "create_draft", map[string]any{"to": []any{bob}, "subject": "Lunch plan", "body": "Friday?",
		"attachments": []any{map[string]any{"filename": "menu.txt", "content_base64": "U291cA=="}}}, &other)
	if a.sentCount() != sent || a.drafts() != drafts+2 {
		t.Fatalf("after two create_draft: %d sent, %d new drafts; want none sent and 2 drafts", a.sentCount()-sent, a.drafts()-drafts)
	}

	var l ttDrafts
	a.resetAPI()
	a.callOK(t, a.c, "list_drafts", nil, &l)
	a.budget(t, "list_drafts", 2) // Gmail: the list and one batch of its messages
	var ids []string
	for _, r := range l.Drafts {
		ids = append(ids, r.DraftID)
		if r.DraftID == other.DraftID && (r.Subject != "Lunch plan" || !slices.Equal(r.To, []string{bob}) || r.Date == "") {
			t.Errorf("listed draft %+v", r)
		}
	}
	if !slices.Contains(ids, d.DraftID) || !slices.Contains(ids, other.DraftID) {
		t.Errorf("list_drafts %v lacks the new drafts", ids)
	}

	var upd ttDraft
	a.callOK(t, a.c, "update_draft", map[string]any{"draft_id": d.DraftID, "to": []any{"carol@example.com"}, "cc": []any{bob}, "body": "Draft: see you at ten."}, &upd)
	if upd.DraftID != d.DraftID || upd.ThreadID != d.ThreadID {
		t.Errorf("update_draft %+v, created %+v: same draft, same conversation", upd, d)
	}
	var m ttMessage
	a.callOK(t, a.c, "get_message", map[string]any{"id": upd.MessageID}, &m)
	if !strings.Contains(m.BodyText, "see you at ten.") || !strings.Contains(m.Cc, bob) || !strings.EqualFold(m.Subject, "Re: Project Phoenix kickoff") {
		t.Errorf("the updated draft reads %q, cc %q, subject %q", m.BodyText, m.Cc, m.Subject)
	}
	var res ttComposed
	a.resetAPI()
	a.callOK(t, a.c, "send_draft", map[string]any{"draft_id": d.DraftID}, &res)
	a.budget(t, "send_draft", 3) // the draft read for the guard (Graph: checked again), the send
	s := a.sent(t)
	if a.sentCount() != sent+1 || !slices.Equal(s.to, []string{"carol@example.com"}) || !slices.Equal(s.cc, []string{bob}) ||
		!strings.Contains(s.body, "see you at ten.") || !strings.EqualFold(s.subject, "Re: Project Phoenix kickoff") {
		t.Errorf("the sent draft: to %v cc %v subject %q body %q", s.to, s.cc, s.subject, s.body)
	}
	if !a.replyInPhoen(t, ttSent{ID: res.ID, ThreadID: res.ThreadID}) {
		t.Error("the reply draft left its conversation")
	}
	a.callFails(t, a.c, "send_draft", map[string]any{"draft_id": d.DraftID}, "not found")

	// New text; the attachment, left out, is kept.
	a.callOK(t, a.c, "update_draft", map[string]any{"draft_id": other.DraftID, "to": []any{bob}, "body": "Friday at one?"}, &upd)
	a.callOK(t, a.c, "get_message", map[string]any{"id": upd.MessageID}, &m)
	if !strings.Contains(m.BodyText, "Friday at one?") || m.Subject != "Lunch plan" || len(m.Attachments) != 1 || m.Attachments[0].Filename != "menu.txt" {
		t.Errorf("the draft updated without attachments reads %q, subject %q, attachments %+v", m.BodyText, m.Subject, m.Attachments)
	}
	a.callOK(t, a.c, "delete_draft", map[string]any{"draft_id": other.DraftID}, nil)
	a.callFails(t, a.c, "delete_draft", map[string]any{"draft_id": other.DraftID}, "not found")
	if a.drafts() != drafts || a.sentCount() != sent+1 {
		t.Errorf("at the end: %d drafts more, %d sent; want none and 1", a.drafts()-drafts, a.sentCount()-sent)
	}
}

// testComposeGuarded: the allowlist refuses a reply to all, a forward and
// a draft sent to someone outside it, naming them, and nothing reaches the
// provider; a draft may still be written for them.
func (a *provAccount) testComposeGuarded(t *testing.T) {
	put := func(body string) {
		t.Helper()
		r := a.do(t, a.s, "PUT", "/api/policy", strings.NewReader(body), "Authorization", "Bearer "+a.key, "Content-Type", "application/json")
		if r.status != 200 {
			t.Fatalf("PUT /api/policy %s = %d %s", body, r.status, r.body)
		}
	}
	var d ttDraft
	a.callOK(t, a.c, "create_draft", map[string]any{"to": []any{"eve@evil.example"}, "subject": "Numbers", "body": "Here."}, &d)
	put(`{"recipient_allowlist":["bob@example.com","carol@example.com"]}`)
	defer put(`{"recipient_allowlist":[]}`)
	sent, drafts := a.sentCount(), a.drafts()
	a.callFails(t, a.c, "send_email", map[string]any{"body": "x", "reply_to_message_id": a.msgs["multi-rcpt"], "reply_all": true},
		"not sent", "eve@example.com", "jane@example.com", "recipient allowlist")
	a.callFails(t, a.c, "forward_email", map[string]any{"message_id": a.msgs["report"], "to": []any{bob}, "cc": []any{"eve@evil.example"}},
		"not sent", "eve@evil.example", "recipient allowlist")
	a.callFails(t, a.c, "send_draft", map[string]any{"draft_id": d.DraftID}, "not sent", "eve@evil.example", "recipient allowlist")
	if a.sentCount() != sent || a.drafts() != drafts {
		t.Errorf("refused calls reached the provider: %d sent, %d drafts gone", a.sentCount()-sent, drafts-a.drafts())
	}
	a.callOK(t, a.c, "delete_draft", map[string]any{"draft_id": d.DraftID}, nil)
}
