package google

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/url"
	"strings"

	gmail "google.golang.org/api/gmail/v1"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/htmltext"
	"github.com/mailcal/mailcal/providers/mimemsg"
)

// forwardedMarker opens the forwarded message in a forward's body, as
// Gmail writes it.
const forwardedMarker = "---------- Forwarded message ---------"

// Forward builds a forward with mimemsg and sends it (Gmail has no forward
// method): the note, the original's header block and its body (text, or its
// HTML with a text version), and, when asked, its attachments, read from
// Gmail. It stays in the original's thread (In-Reply-To, References and the
// thread id; Gmail threads "Fwd:" with its original). Requests: the
// original, one per attachment stored apart, the send.
func (mb *mailbox) Forward(ctx context.Context, f providers.ForwardMessage) (providers.SentMessage, error) {
	orig := new(gmail.Message)
	if err := getJSON(ctx, mb.hc, mb.api+"users/me/messages/"+url.PathEscape(f.MessageID)+"?format=full&alt=json&prettyPrint=false", orig); err != nil {
		err = mapError(err)
		var pe *providers.Error
		if errors.As(err, &pe) && errors.Is(pe.Kind, providers.ErrNotFound) {
			pe.Message = fmt.Sprintf("message_id %q: no such message in the mailbox", f.MessageID)
		}
		return providers.SentMessage{}, err
	}
	if orig.Payload == nil {
		return providers.SentMessage{}, &providers.Error{Kind: providers.ErrInvalidAnswer, Message: "Gmail answered the message without its content; nothing was sent"}
	}
	hs := orig.Payload.Headers
	msg := mimemsg.Message{
		Limits: Spec.Limits,
		From:   providers.Address{Email: mb.account},
		To:     f.To, Cc: f.Cc, Bcc: f.Bcc,
		Subject: mimemsg.ForwardSubject(Spec.Words.ForwardPrefix, decodeHeader(header(hs, "Subject"))),
	}
	msg.InReplyTo, msg.References = replyIDs(hs)

	var w partWalker
	w.visit(orig.Payload, 0)
	intro := forwardedIntro(hs)
	note := strings.TrimRight(f.Note, "\n")
	if note != "" {
		note += "\n\n"
	}
	switch {
	case w.plain != nil:
		b, err := mb.partData(ctx, f.MessageID, w.plain)
		if err != nil {
			return providers.SentMessage{}, err
		}
		msg.Text = note + intro + "\n" + strings.ReplaceAll(toUTF8(b, partCharset(w.plain)), "\r\n", "\n")
	case w.html != nil:
		b, err := mb.partData(ctx, f.MessageID, w.html)
		if err != nil {
			return providers.SentMessage{}, err
		}
		body := toUTF8(b, partCharset(w.html))
		msg.Text = note + intro + "\n" + htmltext.Convert(body)
		msg.HTML = textHTML(note) + textHTML(intro) + "<br>" + body
	default:
		msg.Text = note + intro
	}
	if f.IncludeAttachments {
		var err error
		if msg.Attachments, err = mb.attachmentsOf(ctx, orig); err != nil {
			return providers.SentMessage{}, err
		}
	}
	raw, err := build(msg)
	if err != nil {
		return providers.SentMessage{}, err
	}
	return mb.sendRaw(ctx, raw, orig.ThreadId, "it may have been forwarded: check the Sent folder before forwarding it again")
}

// forwardedIntro is the header block above a forwarded message.
func forwardedIntro(hs []*gmail.MessagePartHeader) string {
	var b strings.Builder
	b.WriteString(forwardedMarker + "\n")
	for _, name := range []string{"From", "Date", "Subject", "To", "Cc"} {
		if v := strings.TrimSpace(decodeHeader(header(hs, name))); v != "" {
			fmt.Fprintf(&b, "%s: %s\n", name, oneLine(v))
		}
	}
	return b.String()
}

// oneLine folds a header value's line breaks into spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// textHTML is plain text as an HTML block.
func textHTML(s string) string {
	if s == "" {
		return ""
	}
	return "<div>" + strings.ReplaceAll(html.EscapeString(strings.TrimRight(s, "\n")), "\n", "<br>") + "</div>"
}

// attachmentName is a forwarded attachment's file name: the original's,
// without folders, or a made-up one.
func attachmentName(name string, i int) string {
	if j := strings.LastIndexAny(name, `/\`); j >= 0 {
		name = name[j+1:]
	}
	if name = strings.TrimSpace(name); name == "" || name == "." || name == ".." {
		return fmt.Sprintf("attachment-%d", i+1)
	}
	return name
}
