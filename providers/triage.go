package providers

import "context"

// Triage is what a mailbox offers to sort mail: changing many messages at
// once (read state, archive, trash, labels or categories, a folder) and
// listing the labels or folders and categories messages may carry. Labels
// are named as the person sees them, never by an opaque id.
type Triage interface {
	// ModifyMessages applies c to every message of ids (at most
	// MaxModifyIDs, no duplicates; the caller validates them). One id's
	// failure (an unknown message) does not stop the others: it is reported
	// in the result. An error means nothing could be said of any id (the
	// mailbox refused the request, a label is unknown).
	ModifyMessages(ctx context.Context, ids []string, c MessageChange) (ModifyResult, error)
	// ListLabels lists the mailbox's labels (Gmail), or its folders and
	// categories (Outlook), with their message counts where the provider
	// keeps them.
	ListLabels(ctx context.Context) ([]Label, error)
}

// MaxModifyIDs is the most messages one ModifyMessages call changes.
const MaxModifyIDs = 1000

// MessageChange is what ModifyMessages does to each message. Labels are
// names (any case) or ids, as ListLabels gives them; the caller refuses
// contradictions (MarkRead with MarkUnread, Trash with Archive or MoveTo,
// Archive with MoveTo, a label both added and removed).
type MessageChange struct {
	MarkRead, MarkUnread bool
	Archive              bool // out of the inbox (Gmail: INBOX removed; Outlook: the Archive folder)
	Trash                bool // to the trash (Deleted Items)
	AddLabels            []string
	RemoveLabels         []string
	MoveTo               string // Gmail: the label added and INBOX removed; Outlook: the folder
}

// Empty reports whether c changes nothing.
func (c MessageChange) Empty() bool {
	return !c.MarkRead && !c.MarkUnread && !c.Archive && !c.Trash && len(c.AddLabels) == 0 && len(c.RemoveLabels) == 0 && c.MoveTo == ""
}

// ModifyResult says what ModifyMessages did: the ids changed and, for the
// others, why not.
type ModifyResult struct {
	Changed []string
	Failed  []ModifyFailure
	// Unconfirmed: the provider made the change in one request without a
	// word per message, passing over ids it does not have (Gmail's
	// batchModify); Changed lists the ids sent, not ids known to exist.
	Unconfirmed bool
}

// ModifyFailure is one message that was not changed.
type ModifyFailure struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// Label types.
const (
	LabelSystem   = "system"   // Gmail's own labels (INBOX, SENT, …)
	LabelUser     = "user"     // labels the person made
	LabelFolder   = "folder"   // an Outlook mail folder
	LabelCategory = "category" // an Outlook category
)

// Label is a label, folder or category of a mailbox.
type Label struct {
	Name string // as the person sees it; an Outlook subfolder as "Parent/Child"
	ID   string
	Type string // LabelSystem, LabelUser, LabelFolder, LabelCategory
	// Counted: Unread and Total are known (Outlook keeps no counts for
	// categories).
	Counted       bool
	Unread, Total int
}
