package tools

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"path"
	"strings"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/mimemsg"
)

// ---- send_email

type attachmentArg struct {
	Filename      string `json:"filename" arg:"required,max=255,kind=line" jsonschema:"file name shown to the recipient, e.g. report.pdf"`
	ContentBase64 string `json:"content_base64" arg:"required" jsonschema:"the file's bytes, base64-encoded"`
	MIMEType      string `json:"mime_type,omitempty" arg:"max=255,kind=token" jsonschema:"e.g. application/pdf; default: from the file name"`
}

type sendArgs struct {
	account
	To               []string        `json:"to" arg:"required,max=100,items.max=320,items.kind=line" jsonschema:"recipients: \"a@example.com\" or \"Name <a@example.com>\""`
	Cc               []string        `json:"cc,omitempty" arg:"max=100,items.max=320,items.kind=line" jsonschema:"copy recipients, same format as to"`
	Bcc              []string        `json:"bcc,omitempty" arg:"max=100,items.max=320,items.kind=line" jsonschema:"blind-copy recipients, same format as to"`
	Subject          string          `json:"subject,omitempty" arg:"max=900,kind=line" jsonschema:"subject line, required for a new message; a reply keeps the original's subject with \"Re: \", so leave it out"`
	Body             string          `json:"body,omitempty" arg:"max=5242880" jsonschema:"plain-text body"`
	HTMLBody         string          `json:"html_body,omitempty" arg:"max=5242880" jsonschema:"optional HTML version of the body, sent as an alternative to the plain text"`
	ReplyToMessageID string          `json:"reply_to_message_id,omitempty" arg:"max=256,kind=token" jsonschema:"id of the message this one replies to (from list_messages or get_message)"`
	Attachments      []attachmentArg `json:"attachments,omitempty" arg:"max=50" jsonschema:"files to attach; the whole message may be at most {max_message}"`

	msg providers.OutgoingMessage // built by check
}

func (a *sendArgs) check(time.Time) error {
	var err error
	a.msg, err = a.message()
	return err
}

// SendResult is the structured result of send_email.
type SendResult struct {
	ID       string `json:"id" jsonschema:"the sent message's id"`
	ThreadID string `json:"thread_id" jsonschema:"the conversation it belongs to"`
	Account  string `json:"account" jsonschema:"the account it was sent from"`
}

const (
	// maxAttachmentBytes bounds what one call decodes; the account's
	// provider may accept less (fitsProvider).
	maxAttachmentBytes = 50 << 20
)

func (h *handlers) sendEmail() tool {
	return accountTool(h, decl{
		name: "send_email", title: "Send an email", scope: providers.MailSend, hints: changes,
		vars: map[string]string{"account_can": "send"},
		desc: "Send an email from a connected account, as a new message or as a reply in an existing conversation. " +
			"Only send what the person asked for: the message leaves at once and cannot be recalled. " +
			"Give a plain-text body; add html_body only for a formatted version of the same text. " +
			"To reply, pass reply_to_message_id (the id from list_messages/get_message): the reply is threaded and keeps the original's subject with \"Re:\".",
	}, func(ctx context.Context, g grants.Grant, a *sendArgs) (SendResult, string, error) {
		msg := a.msg
		if err := h.fitsProvider(g, msg); err != nil {
			return SendResult{}, "", err
		}
		sent, err := onMail(ctx, h, g, func(m providers.Mail) (providers.SentMessage, error) { return m.Send(ctx, msg) })
		if err != nil {
			return SendResult{}, "", h.providerError(ctx, err, g, "sending the message", "reply_to_message_id "+a.ReplyToMessageID)
		}
		res := SendResult{ID: sent.ID, ThreadID: sent.ThreadID, Account: g.Account}
		rcpt := len(msg.To) + len(msg.Cc) + len(msg.Bcc)
		return res, fmt.Sprintf("Sent from %s to %d recipient(s): id %s, thread %s.", g.Account, rcpt, sent.ID, sent.ThreadID), nil
	})
}

// message validates the arguments into a message to send.
func (a sendArgs) message() (providers.OutgoingMessage, error) {
	var m providers.OutgoingMessage
	var err error
	if m.To, err = mimemsg.ParseAddressList("to", a.To); err != nil {
		return m, &userError{"invalid argument " + err.Error()}
	}
	if m.Cc, err = mimemsg.ParseAddressList("cc", a.Cc); err != nil {
		return m, &userError{"invalid argument " + err.Error()}
	}
	if m.Bcc, err = mimemsg.ParseAddressList("bcc", a.Bcc); err != nil {
		return m, &userError{"invalid argument " + err.Error()}
	}
	if a.Body == "" && a.HTMLBody == "" {
		return m, argError("body", "give a plain-text body (and optionally html_body)")
	}
	if a.Subject == "" && a.ReplyToMessageID == "" {
		return m, argError("subject", "required for a new message (only a reply may leave it out)")
	}
	total := 0
	for i, at := range a.Attachments {
		field := fmt.Sprintf("attachments[%d]", i)
		name := strings.TrimSpace(at.Filename)
		if strings.ContainsAny(name, "/\\") || name == "." || name == ".." || name != path.Base(name) {
			return m, argError(field+".filename", "a file name without folders, e.g. report.pdf")
		}
		mt := at.MIMEType
		if mt != "" {
			// mime.ParseMediaType takes a bare "text" (a disposition's
			// form); a MIME type needs type/subtype.
			if base, _, err := mime.ParseMediaType(mt); err != nil || !strings.Contains(base, "/") {
				return m, argError(field+".mime_type", "a MIME type like application/pdf, got %q", mt)
			}
		}
		data, err := decodeBase64(at.ContentBase64)
		if err != nil {
			return m, argError(field+".content_base64", "not valid base64 (standard or URL-safe alphabet)")
		}
		total += len(data)
		if total > maxAttachmentBytes {
			return m, argError("attachments", "together over %d MB", maxAttachmentBytes>>20)
		}
		m.Attachments = append(m.Attachments, providers.Attachment{Filename: name, MIMEType: mt, Data: data})
	}
	m.Subject, m.Text, m.HTML, m.ReplyTo = a.Subject, a.Body, a.HTMLBody, a.ReplyToMessageID
	return m, nil
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("invalid base64")
}

// fitsProvider checks a message against the limits of the account's
// provider, before anything is sent.
func (h *handlers) fitsProvider(g grants.Grant, m providers.OutgoingMessage) error {
	p, err := h.opts.Providers.Get(g.Provider)
	if err != nil {
		return err
	}
	lim := p.Limits
	if n := len(m.To) + len(m.Cc) + len(m.Bcc); n > lim.MaxRecipients {
		return argError("to", "%d recipients in to, cc and bcc together; %s accepts at most %d per message", n, p.Title, lim.MaxRecipients)
	}
	size := len(m.Text) + len(m.HTML)
	for _, at := range m.Attachments {
		size += (len(at.Data) + 2) / 3 * 4 // base64
	}
	if size > lim.MaxMessageBytes {
		return argError("attachments", "the message would be about %.1f MB once encoded; %s accepts at most %.0f MB including attachments (which grow by a third when encoded)",
			float64(size)/(1<<20), p.Title, float64(lim.MaxMessageBytes)/(1<<20))
	}
	return nil
}
