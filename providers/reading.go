package providers

import (
	"context"
	"fmt"
)

// Reading is reading a whole conversation and the content of attachments.
type Reading interface {
	// Thread returns a conversation, its messages oldest first, found by
	// its id or by the id of one of its messages (q has exactly one).
	Thread(ctx context.Context, q ThreadQuery) (Thread, error)
	// Attachment returns an attachment's metadata and bytes. Before
	// reading the bytes it asks q.Limit for the most it may read of an
	// attachment so described: one larger, by its declared size or by what
	// arrives, is a *SizeError, and nothing more is read.
	Attachment(ctx context.Context, q AttachmentQuery) (AttachmentContent, error)
}

// ThreadQuery names a conversation: by ThreadID, or by MessageID, the id
// of one of its messages.
type ThreadQuery struct {
	ThreadID  string
	MessageID string
}

// MaxThreadMessages is the most messages of a conversation Thread reads;
// Thread.More says when there were more (the latest are kept).
const MaxThreadMessages = 100

// Thread is a conversation.
type Thread struct {
	ID       string
	Messages []ThreadMessage // oldest first
	// More: the conversation has more messages than MaxThreadMessages;
	// the earliest were left out.
	More bool
}

// ThreadMessage is a message of a conversation, read as Mail.Get reads
// one; HTML is its HTML body as sent when BodyText was converted from it,
// for a reader that removes the quoted history before converting.
type ThreadMessage struct {
	Message
	HTML string
}

// AttachmentQuery names an attachment and bounds what is read of it.
type AttachmentQuery struct {
	MessageID    string
	AttachmentID string
	// Limit gives the most bytes to read of an attachment so described
	// (its declared type, name and size); nil: no more than
	// MaxAttachmentRead.
	Limit func(AttachmentInfo) int64
}

// MaxAttachmentRead bounds any attachment read, whatever Limit says: the
// largest a message of either provider may be.
const MaxAttachmentRead = 40 << 20

// AttachmentContent is an attachment with its bytes.
type AttachmentContent struct {
	AttachmentInfo
	Charset string // the charset its Content-Type names, if any
	Data    []byte
}

// SizeError is an attachment larger than a reader may take.
type SizeError struct {
	Name  string
	Size  int64 // declared or seen, in bytes
	Limit int64
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("attachment %q is %s, more than the %s that can be read", e.Name, FormatBytes(e.Size), FormatBytes(e.Limit))
}

// FormatBytes renders a size for a person: "512 bytes", "3.4 KB", "5.0 MB".
func FormatBytes(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
}

// LimitOf is q.Limit's answer for info, within MaxAttachmentRead.
func (q AttachmentQuery) LimitOf(info AttachmentInfo) int64 {
	if q.Limit == nil {
		return MaxAttachmentRead
	}
	return min(max(q.Limit(info), 0), MaxAttachmentRead)
}
