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

	"github.com/mark3labs/mcp-go/mcp"
	"golang.org/x/oauth2"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/mimemsg"
)

// withMail runs fn with the account's mailbox (see withToken).
func (h *handlers) withMail(ctx context.Context, g grants.Grant, fn func(providers.Mail) error) error {
	return h.withProvider(ctx, g, func(p providers.Provider, tok *oauth2.Token) error { return fn(p.Mail(tok, g.Account)) })
}

// ---- send_email

type attachmentArg struct {
	Filename      string `json:"filename"`
	ContentBase64 string `json:"content_base64"`
	MIMEType      string `json:"mime_type,omitempty"`
}

type sendArgs struct {
	account
	To               []string        `json:"to"`
	Cc               []string        `json:"cc,omitempty"`
	Bcc              []string        `json:"bcc,omitempty"`
	Subject          string          `json:"subject,omitempty"`
	Body             string          `json:"body,omitempty"`
	HTMLBody         string          `json:"html_body,omitempty"`
	ReplyToMessageID string          `json:"reply_to_message_id,omitempty"`
	Attachments      []attachmentArg `json:"attachments,omitempty"`

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
	maxBodyBytes   = 5 << 20
	maxAttachments = 50
)

var addressList = map[string]any{"type": "string", "maxLength": 320}

func (h *handlers) sendEmail() tool {
	def := mcp.NewTool("send_email",
		mcp.WithDescription("Send an email from a connected account, as a new message or as a reply in an existing conversation. "+
			"Only send what the person asked for: the message leaves at once and cannot be recalled. "+
			"Give a plain-text body; add html_body only for a formatted version of the same text. "+
			"To reply, pass reply_to_message_id (the id from list_messages/get_message): the reply is threaded and its subject gets \"Re:\"."),
		mcp.WithString("account", mcp.MaxLength(254), mcp.Description("sending account's email address; may be left out when one connected account can send")),
		mcp.WithArray("to", mcp.Required(), mcp.MinItems(1), mcp.MaxItems(100), mcp.Items(addressList),
			mcp.Description(`recipients: "a@example.com" or "Name <a@example.com>"`)),
		mcp.WithArray("cc", mcp.MaxItems(100), mcp.Items(addressList), mcp.Description("copy recipients, same format as to")),
		mcp.WithArray("bcc", mcp.MaxItems(100), mcp.Items(addressList), mcp.Description("blind-copy recipients, same format as to")),
		mcp.WithString("subject", mcp.MaxLength(900), mcp.Description("subject line; may be left out for a reply (then \"Re: \" + the original subject)")),
		mcp.WithString("body", mcp.Description("plain-text body")),
		mcp.WithString("html_body", mcp.Description("optional HTML version of the body, sent as an alternative to the plain text")),
		mcp.WithString("reply_to_message_id", mcp.MaxLength(256), mcp.Description("id of the message this one replies to")),
		mcp.WithArray("attachments", mcp.MaxItems(maxAttachments), mcp.Items(map[string]any{
			"type": "object",
			"properties": map[string]any{
				"filename":       map[string]any{"type": "string", "maxLength": 255, "description": "file name shown to the recipient, e.g. report.pdf"},
				"content_base64": map[string]any{"type": "string", "description": "the file's bytes, base64-encoded"},
				"mime_type":      map[string]any{"type": "string", "maxLength": 255, "description": "e.g. application/pdf; default: from the file name"},
			},
			"required":             []string{"filename", "content_base64"},
			"additionalProperties": false,
		}), mcp.Description("files to attach; the whole message may be at most 35 MB")),
		annotations("Send an email", false, false, false, true),
		mcp.WithOutputSchema[SendResult](),
	)
	return tool{def: def, readOnly: false, handler: accountTool(h, "mail.send", func(ctx context.Context, g grants.Grant, a *sendArgs) (*mcp.CallToolResult, error) {
		msg := a.msg
		var sent providers.SentMessage
		err := h.withMail(ctx, g, func(m providers.Mail) (err error) {
			sent, err = m.Send(ctx, msg)
			return err
		})
		if err != nil {
			return nil, providerError(err, g, "sending the message", "reply_to_message_id "+a.ReplyToMessageID)
		}
		res := SendResult{ID: sent.ID, ThreadID: sent.ThreadID, Account: g.Account}
		rcpt := len(msg.To) + len(msg.Cc) + len(msg.Bcc)
		return mcp.NewToolResultStructured(res, fmt.Sprintf("Sent from %s to %d recipient(s): id %s, thread %s.", g.Account, rcpt, sent.ID, sent.ThreadID)), nil
	})}
}

// message validates the arguments into a message to send.
func (a sendArgs) message() (providers.OutgoingMessage, error) {
	var m providers.OutgoingMessage
	var err error
	if len(a.To) == 0 {
		return m, argError("to", "at least one recipient is required")
	}
	if m.To, err = mimemsg.ParseAddressList("to", a.To); err != nil {
		return m, &userError{"invalid argument " + err.Error()}
	}
	if m.Cc, err = mimemsg.ParseAddressList("cc", a.Cc); err != nil {
		return m, &userError{"invalid argument " + err.Error()}
	}
	if m.Bcc, err = mimemsg.ParseAddressList("bcc", a.Bcc); err != nil {
		return m, &userError{"invalid argument " + err.Error()}
	}
	if strings.ContainsAny(a.Subject, "\r\n") {
		return m, argError("subject", "must be one line (no line breaks)")
	}
	if err := text("subject", a.Subject, 900); err != nil {
		return m, err
	}
	if err := text("body", a.Body, maxBodyBytes); err != nil {
		return m, err
	}
	if err := text("html_body", a.HTMLBody, maxBodyBytes); err != nil {
		return m, err
	}
	if a.Body == "" && a.HTMLBody == "" {
		return m, argError("body", "give a plain-text body (and optionally html_body)")
	}
	if a.Subject == "" && a.ReplyToMessageID == "" {
		return m, argError("subject", "required for a new message (only a reply may leave it out)")
	}
	if err := token("reply_to_message_id", a.ReplyToMessageID, 256); err != nil {
		return m, err
	}
	if len(a.Attachments) > maxAttachments {
		return m, argError("attachments", "at most %d files", maxAttachments)
	}
	total := 0
	for i, at := range a.Attachments {
		field := fmt.Sprintf("attachments[%d]", i)
		name := strings.TrimSpace(at.Filename)
		if name == "" || len(name) > 255 || strings.ContainsAny(name, "/\\\x00\r\n") || name == "." || name == ".." || name != path.Base(name) {
			return m, argError(field+".filename", "a file name without folders or line breaks, 1 to 255 bytes")
		}
		mt := at.MIMEType
		if mt != "" {
			// mime.ParseMediaType takes a bare "text" (a disposition's
			// form); a MIME type needs type/subtype.
			if base, _, err := mime.ParseMediaType(mt); err != nil || !strings.Contains(base, "/") || strings.ContainsAny(mt, "\r\n") {
				return m, argError(field+".mime_type", "a MIME type like application/pdf, got %q", mt)
			}
		}
		data, err := decodeBase64(at.ContentBase64)
		if err != nil {
			return m, argError(field+".content_base64", "not valid base64 (standard or URL-safe alphabet)")
		}
		total += len(data)
		if total > mimemsg.MaxMessageBytes {
			return m, argError("attachments", "together over %d MB: Gmail accepts messages up to 35 MB", mimemsg.MaxMessageBytes>>20)
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
