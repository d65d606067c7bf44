package tools

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/mimemsg"
)

// ---- replies: who they go to

// resolveReply fills in the recipients of a reply (m.ReplyTo set) from the
// original, provider-neutrally: without to, the original's Reply-To, else
// its sender (or, for a message this account sent, its To, as mail clients
// do); with replyAll, those and the original's To and Cc. What the original
// brings leaves out this account and every address already there (compared
// without regard to case); what the caller gave stays as given. The guard
// then sees the resolved recipients.
func (h *handlers) resolveReply(ctx context.Context, g grants.Grant, m *providers.OutgoingMessage, replyAll bool) error {
	if m.ReplyTo == "" || len(m.To) > 0 && !replyAll {
		return nil
	}
	orig, err := onMail(ctx, h, g, func(mb providers.Mail) (providers.Message, error) { return mb.Get(ctx, m.ReplyTo) })
	if err != nil {
		return h.providerError(ctx, err, g, "reading the message replied to", "reply_to_message_id "+m.ReplyTo)
	}
	seen := map[string]bool{}
	for _, list := range [][]providers.Address{m.To, m.Cc, m.Bcc} {
		for _, a := range list {
			seen[strings.ToLower(a.Email)] = true
		}
	}
	self := strings.ToLower(g.Account)
	add := func(dst *[]providers.Address, header, v string) error {
		as, err := originalAddresses(header, v)
		if err != nil {
			return err
		}
		for _, a := range as {
			k := strings.ToLower(a.Email)
			if k == self || seen[k] {
				continue
			}
			seen[k] = true
			*dst = append(*dst, a)
		}
		return nil
	}
	header, v := answerTo(orig, g.Account)
	if err := add(&m.To, header, v); err != nil {
		return err
	}
	if replyAll {
		if err := add(&m.To, "To", orig.To); err != nil {
			return err
		}
		if err := add(&m.Cc, "Cc", orig.Cc); err != nil {
			return err
		}
	}
	if len(m.To) == 0 {
		if len(m.Cc) == 0 {
			return argError("to", "the message replied to names no one to answer but this account itself; give to")
		}
		m.To, m.Cc = m.Cc, nil
	}
	return nil
}

// answerTo is the header a reply answers, and its value: the original's
// Reply-To, else its To for a message the account sent itself, else its
// From.
func answerTo(orig providers.Message, account string) (header, value string) {
	switch from, err := originalAddresses("From", orig.From); {
	case strings.TrimSpace(orig.ReplyTo) != "":
		return "Reply-To", orig.ReplyTo
	case err == nil && len(from) == 1 && strings.EqualFold(from[0].Email, account):
		return "To", orig.To
	default:
		return "From", orig.From
	}
}

// originalAddresses parses an address header of a message read from the
// mailbox (third-party data): each address must be one mailcal could
// write itself, or the reply is refused naming it.
func originalAddresses(header, v string) ([]providers.Address, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	list, err := (&mail.AddressParser{}).ParseList(v)
	if err != nil {
		return nil, userErrorf("the message replied to has a %s header mailcal cannot read (%q); give to yourself", header, clipText(v, 200))
	}
	out := make([]providers.Address, 0, len(list))
	for _, a := range list {
		pa := providers.Address{Name: a.Name, Email: a.Address}
		if _, err := mimemsg.FormatAddress(pa); err != nil {
			pa.Name = "" // a display name mailcal would not write: the address alone
			if _, err := mimemsg.FormatAddress(pa); err != nil {
				return nil, userErrorf("the message replied to has an address in %s that mailcal does not send to (%q); give to yourself", header, clipText(a.Address, 200))
			}
		}
		out = append(out, pa)
	}
	return out, nil
}

// ---- forward_email

type forwardArgs struct {
	account
	MessageID          string   `json:"message_id" arg:"required,max=256,kind=token" jsonschema:"id of the message to forward (from list_messages or get_message)"`
	To                 []string `json:"to" arg:"required,max=100,items.max=320,items.kind=line" jsonschema:"recipients: \"a@example.com\" or \"Name <a@example.com>\""`
	Cc                 []string `json:"cc,omitempty" arg:"max=100,items.max=320,items.kind=line" jsonschema:"copy recipients, same format as to"`
	Bcc                []string `json:"bcc,omitempty" arg:"max=100,items.max=320,items.kind=line" jsonschema:"blind-copy recipients, same format as to"`
	Body               string   `json:"body,omitempty" arg:"max=1048576" jsonschema:"plain-text note written above the forwarded message"`
	IncludeAttachments *bool    `json:"include_attachments,omitempty" jsonschema:"send the original's attachments along (default true); false forwards the text only"`

	fwd providers.ForwardMessage // built by check
}

func (a *forwardArgs) check(time.Time) error {
	f := providers.ForwardMessage{MessageID: a.MessageID, Note: a.Body, IncludeAttachments: a.IncludeAttachments == nil || *a.IncludeAttachments}
	var err error
	if f.To, err = mimemsg.ParseAddressList("to", a.To); err != nil {
		return &userError{"invalid argument " + err.Error()}
	}
	if f.Cc, err = mimemsg.ParseAddressList("cc", a.Cc); err != nil {
		return &userError{"invalid argument " + err.Error()}
	}
	if f.Bcc, err = mimemsg.ParseAddressList("bcc", a.Bcc); err != nil {
		return &userError{"invalid argument " + err.Error()}
	}
	a.fwd = f
	return nil
}

func (h *handlers) forwardEmail() tool {
	return accountTool(h, decl{
		name: "forward_email", title: "Forward an email", scope: providers.MailSend, also: []string{providers.MailRead},
		hints: hints{destructive: true, openWorld: true}, sends: true,
		uncertain: "The message may or may not have been forwarded: look for it in the account's sent mail (list_messages with label SENT) before forwarding it again.",
		vars:      map[string]string{"account_can": "send and read mail"},
		desc: "Forward a message of a connected mailbox to other people, with an optional note above it. " +
			"The forward carries the original's text under the note, its subject with a forward prefix ({fwd_prefixes}) and, unless include_attachments is false, its attachments. " +
			"Only forward what the person asked for: it leaves at once and cannot be recalled. " +
			"message_id comes from list_messages or get_message; the result lists who it went to.",
	}, func(ctx context.Context, g grants.Grant, a *forwardArgs) (SendResult, string, error) {
		f := a.fwd
		orig, err := onMail(ctx, h, g, func(m providers.Mail) (providers.Message, error) { return m.Get(ctx, f.MessageID) })
		if err != nil {
			return SendResult{}, "", h.providerError(ctx, err, g, "reading the message to forward", "message_id "+f.MessageID)
		}
		out := forwardOut(g, f, orig, h.opts.Providers)
		if err := h.fitsForward(g, f, orig); err != nil {
			return SendResult{}, "", err
		}
		noteIDs(ctx, f.MessageID)
		if err := h.guardOutgoing(ctx, g, out); err != nil {
			return SendResult{}, "", err
		}
		sent, err := onMail(ctx, h, g, func(m providers.Mail) (providers.SentMessage, error) { return m.Forward(ctx, f) })
		if err != nil {
			return SendResult{}, "", h.providerError(ctx, err, g, "forwarding the message", "message_id "+f.MessageID)
		}
		noteIDs(ctx, sent.ID, sent.ThreadID)
		res := sentResult(g, sent, f.To, f.Cc, f.Bcc)
		return res, sentText("Forwarded", res), nil
	})
}

// forwardOut is what a forward sends out, for the tenant's policy: the
// subject as the account's provider writes it, the note then the
// original's first lines, and the attachments' names when they go along.
func forwardOut(g grants.Grant, f providers.ForwardMessage, orig providers.Message, reg *providers.Registry) outgoing {
	prefix := ""
	if p, err := reg.Get(g.Provider); err == nil {
		prefix = p.Words.ForwardPrefix
	}
	o := outgoing{what: "the forward", subject: mimemsg.ForwardSubject(prefix, orig.Subject), field: "to, cc and bcc"}
	for _, list := range [][]providers.Address{f.To, f.Cc, f.Bcc} {
		for _, a := range list {
			o.recipients = append(o.recipients, a.Email)
		}
	}
	// The note, then the original's first lines (the confirmation shows
	// a few lines only).
	o.text = strings.TrimSpace(f.Note + "\n---------- Forwarded message from " + orig.From + " ----------\n" + strings.TrimSpace(orig.BodyText))
	d := sha256.New()
	fmt.Fprintf(d, "%s;%t;", f.MessageID, f.IncludeAttachments)
	if f.IncludeAttachments {
		for _, at := range orig.Attachments {
			o.attachments = append(o.attachments, at.Filename)
			fmt.Fprintf(d, "%s;%d;", at.ID, at.Size)
		}
	}
	o.content = hex.EncodeToString(d.Sum(nil))
	return o
}

// fitsForward checks a forward against the provider's limits: recipients,
// and the original's attachments with the text.
func (h *handlers) fitsForward(g grants.Grant, f providers.ForwardMessage, orig providers.Message) error {
	m := providers.OutgoingMessage{To: f.To, Cc: f.Cc, Bcc: f.Bcc, Text: f.Note + orig.BodyText}
	if err := h.fitsProvider(g, m); err != nil {
		return err
	}
	if !f.IncludeAttachments {
		return nil
	}
	p, err := h.opts.Providers.Get(g.Provider)
	if err != nil {
		return err
	}
	size := len(m.Text)
	for _, at := range orig.Attachments {
		size += int((at.Size + 2) / 3 * 4)
	}
	if size > p.Limits.MaxMessageBytes {
		return argError("include_attachments", "the original's attachments come to about %.1f MB once encoded; %s sends at most %.0f MB: forward with include_attachments false, or fewer files",
			float64(size)/(1<<20), p.Title, float64(p.Limits.MaxMessageBytes)/(1<<20))
	}
	return nil
}
