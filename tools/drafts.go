package tools

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/providers"
)

// Drafts: written by the agent, kept in the mailbox's drafts for a person
// to read, change and send. Only send_draft sends (and is guarded); the
// others stay available under drafts_only, which is what it is for.

// DraftResult is the structured result of create_draft and update_draft.
type DraftResult struct {
	Account   string   `json:"account"`
	DraftID   string   `json:"draft_id" jsonschema:"the draft's id, for update_draft, send_draft and delete_draft"`
	MessageID string   `json:"message_id" jsonschema:"the id of the message the draft holds (get_message reads it)"`
	ThreadID  string   `json:"thread_id" jsonschema:"the conversation it belongs to"`
	To        []string `json:"to"`
	Cc        []string `json:"cc,omitempty"`
	Bcc       []string `json:"bcc,omitempty"`
}

func draftResult(g grants.Grant, d providers.DraftRef, m providers.OutgoingMessage) DraftResult {
	return DraftResult{Account: g.Account, DraftID: d.ID, MessageID: d.MessageID, ThreadID: d.ThreadID,
		To: addressStrings(m.To), Cc: addressStrings(m.Cc), Bcc: addressStrings(m.Bcc)}
}

func draftText(verb string, r DraftResult) string {
	rc := strings.Join(r.To, ", ")
	if len(r.Cc) > 0 {
		rc += "; cc: " + strings.Join(r.Cc, ", ")
	}
	if len(r.Bcc) > 0 {
		rc += "; bcc: " + strings.Join(r.Bcc, ", ")
	}
	return fmt.Sprintf("%s draft %s in %s (message %s, thread %s), to: %s. Nothing was sent: send_draft sends it, or the person sends it from their mail app.",
		verb, r.DraftID, r.Account, r.MessageID, r.ThreadID, rc)
}

// ---- create_draft

func (h *handlers) createDraft() tool {
	return accountTool(h, decl{
		name: "create_draft", title: "Write a draft", scope: providers.MailModify, hints: changes,
		uncertain: "The draft may or may not have been saved: look for it with list_drafts before writing it again.",
		vars:      map[string]string{"account_can": "write drafts"},
		desc: "Save an email as a draft in a connected mailbox, without sending it: for the person to review and send, or for send_draft later. " +
			"Takes send_email's arguments: a new message (to, subject, body) or, with reply_to_message_id, a reply that stays in the original's conversation " +
			"(to may then be left out: the original's Reply-To address, else its sender; reply_all adds everyone the original went to).",
	}, func(ctx context.Context, g grants.Grant, a *sendArgs) (DraftResult, string, error) {
		msg := a.msg
		if err := h.resolveReply(ctx, g, &msg, a.ReplyAll); err != nil {
			return DraftResult{}, "", err
		}
		if err := h.fitsProvider(g, msg); err != nil {
			return DraftResult{}, "", err
		}
		noteOutgoing(ctx, messageOut(msg))
		d, err := onMail(ctx, h, g, func(m providers.Mail) (providers.DraftRef, error) { return m.CreateDraft(ctx, msg) })
		if err != nil {
			return DraftResult{}, "", h.providerError(ctx, err, g, "saving the draft", "reply_to_message_id "+a.ReplyToMessageID)
		}
		noteIDs(ctx, d.ID, d.MessageID)
		res := draftResult(g, d, msg)
		return res, draftText("Saved", res), nil
	})
}

// ---- update_draft

type updateDraftArgs struct {
	account
	DraftID     string          `json:"draft_id" arg:"required,max=512,kind=token" jsonschema:"the draft to change (from create_draft or list_drafts)"`
	To          []string        `json:"to" arg:"required,max=100,items.max=320,items.kind=line" jsonschema:"recipients: \"a@example.com\" or \"Name <a@example.com>\""`
	Cc          []string        `json:"cc,omitempty" arg:"max=100,items.max=320,items.kind=line" jsonschema:"copy recipients, same format as to"`
	Bcc         []string        `json:"bcc,omitempty" arg:"max=100,items.max=320,items.kind=line" jsonschema:"blind-copy recipients, same format as to"`
	Subject     string          `json:"subject,omitempty" arg:"max=900,kind=line" jsonschema:"new subject; left out: the draft keeps its subject. A reply draft's subject is its conversation's: a different one may be refused"`
	Body        string          `json:"body,omitempty" arg:"max=5242880" jsonschema:"plain-text body"`
	HTMLBody    string          `json:"html_body,omitempty" arg:"max=5242880" jsonschema:"optional HTML version of the body"`
	Attachments []attachmentArg `json:"attachments,omitempty" arg:"max=50" jsonschema:"files that replace the draft's attachments; left out: the draft keeps its attachments; the whole message may be at most {max_message}"`
	// RemoveAttachments drops the draft's attachments.
	RemoveAttachments bool `json:"remove_attachments,omitempty" jsonschema:"remove the draft's attachments (not with attachments)"`

	upd providers.DraftUpdate // built by check
}

func (a *updateDraftArgs) check(time.Time) error {
	if a.RemoveAttachments && len(a.Attachments) > 0 {
		return argError("remove_attachments", "not with attachments: give the new files alone, they replace the old ones")
	}
	s := sendArgs{To: a.To, Cc: a.Cc, Bcc: a.Bcc, Subject: a.Subject, Body: a.Body, HTMLBody: a.HTMLBody, Attachments: a.Attachments}
	var err error
	a.upd.OutgoingMessage, err = s.message(true)
	a.upd.KeepAttachments = len(a.Attachments) == 0 && !a.RemoveAttachments
	return err
}

func (h *handlers) updateDraft() tool {
	return accountTool(h, decl{
		name: "update_draft", title: "Change a draft", scope: providers.MailModify, hints: hints{destructive: true, idempotent: true, openWorld: true},
		uncertain: "The draft may or may not have been changed (its attachments perhaps only in part): read it with list_drafts and get_message, or call update_draft again with the same arguments.",
		vars:      map[string]string{"account_can": "write drafts"},
		desc: "Rewrite a draft without sending it. The recipients (to, cc, bcc) and the body are replaced by the ones given, whole: pass everything they should hold " +
			"(list_drafts and get_message show the current ones). The subject and the attachments are kept when left out, and replaced when given " +
			"(remove_attachments drops the attachments). A reply draft stays a reply in its conversation. Nothing is sent.",
	}, func(ctx context.Context, g grants.Grant, a *updateDraftArgs) (DraftResult, string, error) {
		upd := a.upd
		msg := upd.OutgoingMessage
		if err := h.fitsProvider(g, msg); err != nil {
			return DraftResult{}, "", err
		}
		noteOutgoing(ctx, messageOut(msg))
		noteIDs(ctx, a.DraftID)
		d, err := onMail(ctx, h, g, func(m providers.Mail) (providers.DraftRef, error) { return m.UpdateDraft(ctx, a.DraftID, upd) })
		if err != nil {
			return DraftResult{}, "", h.providerError(ctx, err, g, "updating the draft", "draft_id "+a.DraftID)
		}
		noteIDs(ctx, d.MessageID)
		res := draftResult(g, d, msg)
		return res, draftText("Updated", res), nil
	})
}

// ---- list_drafts

type listDraftsArgs struct {
	account
	MaxResults int    `json:"max_results,omitempty" arg:"min=1,max=100,default=20" jsonschema:"drafts per page, 1 to 100"`
	PageToken  string `json:"page_token,omitempty" arg:"max=512,kind=token" jsonschema:"next_page_token of the previous page"`
}

// DraftRow is one listed draft.
type DraftRow struct {
	DraftID   string   `json:"draft_id"`
	MessageID string   `json:"message_id"`
	ThreadID  string   `json:"thread_id"`
	To        []string `json:"to"`
	Subject   string   `json:"subject"`
	Date      string   `json:"date" jsonschema:"when it was last saved, RFC 3339"`
	Snippet   string   `json:"snippet"`
}

// ListDraftsResult is the structured result of list_drafts.
type ListDraftsResult struct {
	Account       string     `json:"account"`
	TimeZone      string     `json:"time_zone"`
	Drafts        []DraftRow `json:"drafts"`
	NextPageToken string     `json:"next_page_token,omitempty" jsonschema:"pass as page_token to get the next page; absent on the last page"`
}

func (h *handlers) listDrafts() tool {
	return accountTool(h, decl{
		name: "list_drafts", title: "List drafts", scope: providers.MailRead, hints: reads,
		vars: map[string]string{"account_can": "read mail"},
		desc: "List the drafts of a connected mailbox, most recently saved first: draft id, message id, recipients, subject, date and a snippet. " +
			"Use it to find a draft to change (update_draft), send (send_draft) or delete (delete_draft); get_message with the message id reads one in full.",
	}, func(ctx context.Context, g grants.Grant, a *listDraftsArgs) (ListDraftsResult, string, error) {
		page, err := onMail(ctx, h, g, func(m providers.Mail) (providers.DraftPage, error) {
			return m.ListDrafts(ctx, providers.DraftQuery{MaxResults: a.MaxResults, PageToken: a.PageToken})
		})
		if err != nil {
			return ListDraftsResult{}, "", h.providerError(ctx, err, g, "listing drafts", "the drafts folder")
		}
		loc := h.zones.of(g)
		res := ListDraftsResult{Account: g.Account, TimeZone: loc.String(), Drafts: make([]DraftRow, 0, len(page.Drafts)), NextPageToken: page.NextPageToken}
		for _, d := range page.Drafts {
			res.Drafts = append(res.Drafts, DraftRow{DraftID: d.ID, MessageID: d.MessageID, ThreadID: d.ThreadID, To: addressStrings(d.To),
				Subject: d.Subject, Date: formatTime(d.Date, loc), Snippet: d.Snippet})
		}
		return res, draftsText(res), nil
	})
}

func draftsText(res ListDraftsResult) string {
	if len(res.Drafts) == 0 {
		return fmt.Sprintf("No drafts in %s.", res.Account)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d drafts in %s, newest first (draft_id | date | to | subject | snippet; times in %s). Quoted text in them may come from third parties.\n", len(res.Drafts), res.Account, res.TimeZone)
	for _, d := range res.Drafts {
		date := d.Date
		if len(date) >= 16 {
			date = date[:10] + " " + date[11:16]
		}
		b.WriteString(d.DraftID + " | " + date + " | " + oneLine(strings.Join(d.To, ", "), 60) + " | " + oneLine(d.Subject, 70) + " | " + oneLine(d.Snippet, 60) + "\n")
	}
	if res.NextPageToken != "" {
		b.WriteString("More: page_token=" + res.NextPageToken)
	}
	return strings.TrimRight(b.String(), "\n")
}

// ---- send_draft and delete_draft

type draftIDArgs struct {
	account
	DraftID string `json:"draft_id" arg:"required,max=512,kind=token" jsonschema:"the draft (from create_draft or list_drafts)"`
}

func (h *handlers) sendDraft() tool {
	return accountTool(h, decl{
		name: "send_draft", title: "Send a draft", scope: providers.MailSend, also: []string{providers.MailModify},
		hints: hints{destructive: true, openWorld: true}, sends: true,
		uncertain: "The draft may or may not have been sent: look for it in the account's sent mail (list_messages with label SENT) and in list_drafts before sending it again.",
		vars:      map[string]string{"account_can": "send mail and write drafts"},
		desc: "Send a draft as it is, to the recipients it names; it leaves the drafts. " +
			"Only send a draft the person asked to send: it leaves at once and cannot be recalled. The result lists who it went to.",
	}, func(ctx context.Context, g grants.Grant, a *draftIDArgs) (SendResult, string, error) {
		d, err := onMail(ctx, h, g, func(m providers.Mail) (providers.Draft, error) { return m.GetDraft(ctx, a.DraftID) })
		if err != nil {
			return SendResult{}, "", h.providerError(ctx, err, g, "reading the draft", "draft_id "+a.DraftID)
		}
		noteIDs(ctx, a.DraftID)
		out := draftOut(a.DraftID, d)
		if len(out.recipients) == 0 {
			noteOutgoing(ctx, out)
			return SendResult{}, "", argError("draft_id", "the draft has no recipients; add them with update_draft first")
		}
		if err := h.guardOutgoing(ctx, g, out); err != nil {
			return SendResult{}, "", err
		}
		sent, err := onMail(ctx, h, g, func(m providers.Mail) (providers.SentMessage, error) { return m.SendDraft(ctx, a.DraftID) })
		if err != nil {
			return SendResult{}, "", h.providerError(ctx, err, g, "sending the draft", "draft_id "+a.DraftID)
		}
		noteIDs(ctx, sent.ID, sent.ThreadID)
		res := sentResult(g, sent, d.To, d.Cc, d.Bcc)
		return res, sentText("Sent the draft", res), nil
	})
}

// draftOut is what sending a draft sends out, as the provider has it.
func draftOut(id string, d providers.Draft) outgoing {
	o := outgoing{what: "the draft", subject: d.Subject, text: d.Text, field: "the draft's recipients (update_draft changes them)"}
	if o.text == "" {
		o.html = d.HTML
	}
	for _, list := range [][]providers.Address{d.To, d.Cc, d.Bcc} {
		for _, a := range list {
			o.recipients = append(o.recipients, a.Email)
		}
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s;%s;%s;", id, d.MessageID, d.HTML)
	for _, at := range d.Attachments {
		o.attachments = append(o.attachments, at.Filename)
		fmt.Fprintf(h, "%s;%d;", at.ID, at.Size)
	}
	o.content = hex.EncodeToString(h.Sum(nil))
	return o
}

// DeleteDraftResult is the structured result of delete_draft.
type DeleteDraftResult struct {
	Account string `json:"account"`
	DraftID string `json:"draft_id"`
	Deleted bool   `json:"deleted"`
}

func (h *handlers) deleteDraft() tool {
	return accountTool(h, decl{
		name: "delete_draft", title: "Delete a draft", scope: providers.MailModify, hints: hints{destructive: true, idempotent: true, openWorld: true},
		uncertain: "The draft may or may not have been deleted: list_drafts shows whether it is still there.",
		vars:      map[string]string{"account_can": "write drafts"},
		desc:      "Delete a draft that will not be sent. Only drafts can be deleted this way (a sent or received message is refused). Nothing is sent.",
	}, func(ctx context.Context, g grants.Grant, a *draftIDArgs) (DeleteDraftResult, string, error) {
		noteIDs(ctx, a.DraftID)
		_, err := onMail(ctx, h, g, func(m providers.Mail) (struct{}, error) { return struct{}{}, m.DeleteDraft(ctx, a.DraftID) })
		if err != nil {
			return DeleteDraftResult{}, "", h.providerError(ctx, err, g, "deleting the draft", "draft_id "+a.DraftID)
		}
		return DeleteDraftResult{Account: g.Account, DraftID: a.DraftID, Deleted: true}, fmt.Sprintf("Deleted draft %s of %s.", a.DraftID, g.Account), nil
	})
}
