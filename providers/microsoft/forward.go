package microsoft

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/mailcal/mailcal/providers"
)

// Forward forwards a message as Outlook does: createForward makes a draft
// in the original's conversation with its attachments, "FW:" subject and
// quoted body, the note written above it; without attachments asked, they
// are deleted from the draft; then the draft is sent. With Mail.Send alone
// (drafts refused) and attachments wanted, it is one forward request, whose
// 202 names no id.
func (mb *mailbox) Forward(ctx context.Context, f providers.ForwardMessage) (providers.SentMessage, error) {
	if err := checkID("message_id", f.MessageID); err != nil {
		return providers.SentMessage{}, err
	}
	rcpts := outgoing(providers.OutgoingMessage{To: f.To, Cc: f.Cc, Bcc: f.Bcc}, false)
	delete(rcpts, "body")
	path := "/me/messages/" + url.PathEscape(f.MessageID)
	body := map[string]any{"message": rcpts, "comment": f.Note}
	var d draft
	err := mb.g.do(ctx, req{method: http.MethodPost, path: path + "/createForward", body: body, need: scopeMailReadWrite}, &d)
	var pe *providers.Error
	switch {
	case errors.As(err, &pe) && errors.Is(pe.Kind, providers.ErrNotFound):
		return providers.SentMessage{}, &providers.Error{Kind: providers.ErrNotFound, Status: pe.Status,
			Message: fmt.Sprintf("message_id %q: no such message in the mailbox", clip(f.MessageID))}
	case errors.As(err, &pe) && errors.Is(pe.Kind, providers.ErrForbidden) && pe.Status == http.StatusForbidden && f.IncludeAttachments:
		if err := mb.g.do(ctx, req{method: http.MethodPost, path: path + "/forward", body: body, need: scopeMailSend}, nil); err != nil {
			return providers.SentMessage{}, mapUncertain(err, "it may have been forwarded: check Sent Items before forwarding it again")
		}
		return providers.SentMessage{}, nil
	case errors.As(err, &pe) && errors.Is(pe.Kind, providers.ErrForbidden) && pe.Status == http.StatusForbidden:
		pe.Message += "; forwarding without the attachments needs the mail.modify scope (Graph Mail.ReadWrite): reconnect with it, or forward with include_attachments"
		return providers.SentMessage{}, pe
	case err != nil:
		return providers.SentMessage{}, err
	case checkID("id", d.ID) != nil:
		return providers.SentMessage{}, &providers.Error{Kind: providers.ErrInvalidAnswer, Message: "Microsoft Graph answered a forward draft without a valid id; nothing was sent"}
	}
	if !f.IncludeAttachments {
		if err := mb.dropAttachments(ctx, d.ID); err != nil {
			mb.discard(ctx, d.ID)
			return providers.SentMessage{}, err
		}
	}
	err = mb.g.do(ctx, req{method: http.MethodPost, path: "/me/messages/" + url.PathEscape(d.ID) + "/send", need: scopeMailSend}, nil)
	if err != nil {
		err = mapUncertain(err, fmt.Sprintf("it may have been forwarded: check Sent Items (message id %s) before forwarding it again", d.ID))
		if !errors.As(err, &pe) || !errors.Is(pe.Kind, providers.ErrUncertain) {
			mb.discard(ctx, d.ID)
		}
		return providers.SentMessage{}, err
	}
	return providers.SentMessage{ID: d.ID, ThreadID: d.ConversationID}, nil
}

// dropAttachments deletes a draft's attachments (inline images stay: they
// are part of the quoted body).
func (mb *mailbox) dropAttachments(ctx context.Context, id string) error {
	path := "/me/messages/" + url.PathEscape(id) + "/attachments"
	var res struct {
		Value []struct {
			ID       string `json:"id"`
			IsInline bool   `json:"isInline"`
		} `json:"value"`
	}
	if err := mb.g.do(ctx, req{method: http.MethodGet, path: path, query: url.Values{"$select": {"id,isInline"}}, need: scopeMailReadWrite}, &res); err != nil {
		return err
	}
	for _, a := range res.Value {
		if a.IsInline {
			continue
		}
		if err := checkID("id", a.ID); err != nil {
			return &providers.Error{Kind: providers.ErrInvalidAnswer, Message: "Microsoft Graph answered an attachment without a valid id; nothing was sent"}
		}
		err := mb.g.do(ctx, req{method: http.MethodDelete, path: path + "/" + url.PathEscape(a.ID), need: scopeMailReadWrite}, nil)
		if err != nil && !errors.Is(err, providers.ErrNotFound) {
			return err
		}
	}
	return nil
}
