package providers

import (
	"context"
	"time"
)

// Composer forwards messages and keeps drafts: what an agent writes for a
// person to read, change and send. Part of Mail.
type Composer interface {
	// Forward sends the message f.MessageID to new recipients with f.Note
	// above it; its attachments go along when f.IncludeAttachments. The
	// subject is the original's with one "Fwd:"-style prefix. Like Send it
	// is never repeated after it may have reached the provider
	// (ErrUncertain).
	Forward(ctx context.Context, f ForwardMessage) (SentMessage, error)
	// CreateDraft saves m as a draft; with m.ReplyTo set, as a reply in the
	// original's conversation (as Send threads it). Nothing is sent.
	CreateDraft(ctx context.Context, m OutgoingMessage) (DraftRef, error)
	// UpdateDraft replaces the draft's recipients and body with u's, its
	// subject when u.Subject is not empty, and its attachments unless
	// u.KeepAttachments. A reply draft stays a reply in its conversation
	// (u.ReplyTo is not used).
	UpdateDraft(ctx context.Context, id string, u DraftUpdate) (DraftRef, error)
	// ListDrafts lists the drafts, most recently changed first.
	ListDrafts(ctx context.Context, q DraftQuery) (DraftPage, error)
	// GetDraft reads a draft: what would leave if it were sent.
	GetDraft(ctx context.Context, id string) (Draft, error)
	// SendDraft sends a draft as it is; it leaves the drafts. Never
	// repeated after it may have reached the provider (ErrUncertain).
	SendDraft(ctx context.Context, id string) (SentMessage, error)
	// DeleteDraft deletes a draft for good (not a message that is not a
	// draft: ErrNotFound).
	DeleteDraft(ctx context.Context, id string) error
}

// ForwardMessage is a forward to send.
type ForwardMessage struct {
	MessageID          string // the message forwarded
	To, Cc, Bcc        []Address
	Note               string // plain text written above the forwarded message
	IncludeAttachments bool
}

// DraftUpdate is a draft's new content.
type DraftUpdate struct {
	OutgoingMessage
	// KeepAttachments keeps the draft's attachments (Attachments is then
	// empty); false replaces them with Attachments (none: removed).
	KeepAttachments bool
}

// DraftRef identifies a saved draft: its draft id, the id of the message it
// holds (the same on providers whose drafts are messages) and its
// conversation.
type DraftRef struct {
	ID        string `json:"draft_id"`
	MessageID string `json:"message_id"`
	ThreadID  string `json:"thread_id"`
}

// DraftQuery selects a page of drafts.
type DraftQuery struct {
	MaxResults int // 1..100
	PageToken  string
}

// DraftSummary is a listed draft.
type DraftSummary struct {
	DraftRef
	To      []Address
	Subject string
	Date    time.Time // when it was last saved
	Snippet string
}

// DraftPage is one page of drafts.
type DraftPage struct {
	Drafts        []DraftSummary
	NextPageToken string
}

// Draft is a draft in full, as it would leave.
type Draft struct {
	DraftSummary
	Cc, Bcc     []Address
	Text        string // the body as text (an HTML body converted)
	HTML        string // the HTML body, if any
	Attachments []AttachmentInfo
}
