package tools

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mailcal/mailcal/auth/grants"
	"github.com/mailcal/mailcal/providers"
)

// ---- modify_messages

type modifyArgs struct {
	account
	IDs          []string `json:"ids" arg:"required,min=1,max=1000,items.max=256,items.kind=token" jsonschema:"ids of the messages to change (from list_messages), 1 to 1000; repeated ids count once"`
	MarkRead     bool     `json:"mark_read,omitempty" jsonschema:"mark the messages read"`
	MarkUnread   bool     `json:"mark_unread,omitempty" jsonschema:"mark the messages unread"`
	Archive      bool     `json:"archive,omitempty" jsonschema:"take the messages out of the inbox, keeping them in the mailbox (archived)"`
	Trash        bool     `json:"trash,omitempty" jsonschema:"move the messages to the trash (deleted items), which the provider empties after a while"`
	AddLabels    []string `json:"add_labels,omitempty" arg:"max=20,items.max=200,items.kind=line" jsonschema:"labels or categories to put on the messages, by name as list_labels shows them ({tags}); an unknown name is refused, none is created"`
	RemoveLabels []string `json:"remove_labels,omitempty" arg:"max=20,items.max=200,items.kind=line" jsonschema:"labels or categories to take off the messages, by name ({tags})"`
	MoveTo       string   `json:"move_to,omitempty" arg:"max=200,kind=line" jsonschema:"where to file the messages, by name as list_labels shows it ({labels}): a folder they move to, or a label they get as they leave the inbox"`

	ids []string // deduplicated by check
}

func (a *modifyArgs) check(time.Time) error {
	seen := make(map[string]bool, len(a.IDs))
	for i, id := range a.IDs {
		id = strings.TrimSpace(id)
		if id == "" {
			return argError(fmt.Sprintf("ids[%d]", i), "empty; give message ids from list_messages")
		}
		if !seen[id] {
			seen[id] = true
			a.ids = append(a.ids, id)
		}
	}
	clash := func(x, y string) error {
		return argError(x+" and "+y, "they contradict each other: give one of them")
	}
	switch {
	case a.MarkRead && a.MarkUnread:
		return clash("mark_read", "mark_unread")
	case a.Trash && a.Archive:
		return clash("trash", "archive")
	case a.Trash && a.MoveTo != "":
		return clash("trash", "move_to")
	case a.Archive && a.MoveTo != "":
		return clash("archive", "move_to")
	}
	for i, l := range a.AddLabels {
		if strings.TrimSpace(l) == "" {
			return argError(fmt.Sprintf("add_labels[%d]", i), "empty; give a label's name (list_labels lists them)")
		}
		for _, r := range a.RemoveLabels {
			if strings.EqualFold(strings.TrimSpace(l), strings.TrimSpace(r)) {
				return argError("add_labels and remove_labels", "%q is in both", l)
			}
		}
	}
	for i, l := range a.RemoveLabels {
		if strings.TrimSpace(l) == "" {
			return argError(fmt.Sprintf("remove_labels[%d]", i), "empty; give a label's name (list_labels lists them)")
		}
	}
	if a.change().Empty() {
		return argError("mark_read", "no change asked: give at least one of mark_read, mark_unread, archive, trash, add_labels, remove_labels, move_to")
	}
	return nil
}

func (a *modifyArgs) change() providers.MessageChange {
	return providers.MessageChange{
		MarkRead: a.MarkRead, MarkUnread: a.MarkUnread, Archive: a.Archive, Trash: a.Trash,
		AddLabels: a.AddLabels, RemoveLabels: a.RemoveLabels, MoveTo: strings.TrimSpace(a.MoveTo),
	}
}

// actions names what a change does, for texts and the audit record.
func (a *modifyArgs) actions() []string {
	var out []string
	for _, f := range []struct {
		on   bool
		name string
	}{{a.MarkRead, "mark_read"}, {a.MarkUnread, "mark_unread"}, {a.Archive, "archive"}, {a.Trash, "trash"}} {
		if f.on {
			out = append(out, f.name)
		}
	}
	if len(a.AddLabels) > 0 {
		out = append(out, "add_labels:"+strings.Join(a.AddLabels, ","))
	}
	if len(a.RemoveLabels) > 0 {
		out = append(out, "remove_labels:"+strings.Join(a.RemoveLabels, ","))
	}
	if a.MoveTo != "" {
		out = append(out, "move_to:"+a.MoveTo)
	}
	return out
}

// ModifyResult is the structured result of modify_messages.
type ModifyResult struct {
	Account string   `json:"account"`
	Actions []string `json:"actions" jsonschema:"what was done to each message"`
	Changed int      `json:"changed" jsonschema:"how many messages were changed"`
	Asked   int      `json:"asked" jsonschema:"how many distinct ids were given"`
	// Unconfirmed: the provider changed them in one request without a
	// word per message (changed counts the ids sent).
	Unconfirmed bool `json:"unconfirmed,omitempty" jsonschema:"true when the provider made the change without saying which ids it had: an id it does not have is passed over, not reported"`
	// Failures are grouped by reason: a thousand unknown ids are one
	// reason and a list, not a thousand lines.
	Failed []FailedGroup `json:"failed" jsonschema:"the messages not changed, grouped by the reason"`
}

// FailedGroup is the ids that failed for one reason.
type FailedGroup struct {
	Reason string   `json:"reason"`
	IDs    []string `json:"ids"`
}

// groupFailures groups failures by reason, in the order reasons first
// appear.
func groupFailures(fs []providers.ModifyFailure) []FailedGroup {
	out := []FailedGroup{}
	at := map[string]int{}
	for _, f := range fs {
		i, ok := at[f.Reason]
		if !ok {
			i = len(out)
			at[f.Reason] = i
			out = append(out, FailedGroup{Reason: f.Reason})
		}
		out[i].IDs = append(out[i].IDs, f.ID)
	}
	return out
}

func (h *handlers) modifyMessages() tool {
	return accountTool(h, decl{
		name: "modify_messages", title: "Change messages (read, archive, trash, labels, move)", scope: providers.MailModify,
		// Trash is destructive (the provider empties it); repeating a call
		// leaves the messages as the first did.
		hints:     hints{destructive: true, idempotent: true, openWorld: true},
		uncertain: "Some or all of the messages may have been changed: list_messages shows their state before you call again.",
		vars:      map[string]string{"account_can": "change mail"},
		desc: "Change up to 1000 messages at once: mark them read or unread, archive them, move them to the trash, put labels or categories on them or take them off, or file them with move_to (a folder, or a label as they leave the inbox). " +
			"Several changes may be combined in one call; contradicting ones (mark_read with mark_unread, trash with archive or move_to, archive with move_to) are refused. " +
			"Labels and folders are given by name as list_labels shows them; unknown ones are refused, none is created. " +
			"The answer says how many messages changed and which ids failed, with the reason (where the provider tells: some change all the ids in one request and pass over unknown ones silently); an unknown id does not stop the others. Trashed messages are deleted for good by the provider after a while.",
	}, func(ctx context.Context, g grants.Grant, a *modifyArgs) (ModifyResult, string, error) {
		actions := a.actions()
		noteActions(ctx, actions)
		noteIDs(ctx, a.ids...)
		res, err := onMail(ctx, h, g, func(m providers.Mail) (providers.ModifyResult, error) {
			return m.ModifyMessages(ctx, a.ids, a.change())
		})
		if err != nil {
			return ModifyResult{}, "", h.providerError(ctx, err, g, "changing the messages", "a label or folder of the call")
		}
		out := ModifyResult{Account: g.Account, Actions: actions, Changed: len(res.Changed), Asked: len(a.ids), Unconfirmed: res.Unconfirmed, Failed: groupFailures(res.Failed)}
		return out, modifyText(out), nil
	})
}

func modifyText(r ModifyResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d of %d message(s) changed in %s.", strings.Join(r.Actions, ", "), r.Changed, r.Asked, r.Account)
	if r.Unconfirmed {
		b.WriteString(" (The provider does not say which ids it had: an id that is not in the mailbox was passed over.)")
	}
	if len(r.Failed) > 0 {
		b.WriteString(" Not changed:")
	}
	for _, g := range r.Failed {
		fmt.Fprintf(&b, "\n%s (%d): ", oneLine(g.Reason, 200), len(g.IDs))
		for i, id := range g.IDs {
			if i == 10 {
				fmt.Fprintf(&b, " … and %d more (see failed)", len(g.IDs)-10)
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(oneLine(id, 80))
		}
	}
	return b.String()
}

// ---- list_labels

type listLabelsArgs struct {
	account
}

// LabelRow is one label, folder or category.
type LabelRow struct {
	Name   string `json:"name" jsonschema:"what other tools take (label, add_labels, move_to)"`
	ID     string `json:"id"`
	Type   string `json:"type" jsonschema:"system or user (labels), folder, or category"`
	Unread *int   `json:"unread,omitempty" jsonschema:"unread messages; absent where the provider keeps no count (categories)"`
	Total  *int   `json:"total,omitempty" jsonschema:"messages; absent where the provider keeps no count"`
}

// ListLabelsResult is the structured result of list_labels.
type ListLabelsResult struct {
	Account string     `json:"account"`
	Labels  []LabelRow `json:"labels"`
}

func (h *handlers) listLabels() tool {
	return accountTool(h, decl{
		name: "list_labels", title: "List labels and folders", scope: providers.MailRead, hints: reads,
		vars: map[string]string{"account_can": "read mail"},
		desc: "List the labels, folders and categories of a mailbox (whichever its provider has; subfolders as Parent/Child), with their message and unread counts where the provider keeps them. " +
			"The names are what list_messages' label, and modify_messages' add_labels, remove_labels and move_to take.",
	}, func(ctx context.Context, g grants.Grant, a *listLabelsArgs) (ListLabelsResult, string, error) {
		labels, err := onMail(ctx, h, g, func(m providers.Mail) ([]providers.Label, error) { return m.ListLabels(ctx) })
		if err != nil {
			return ListLabelsResult{}, "", h.providerError(ctx, err, g, "listing labels", "the mailbox")
		}
		res := ListLabelsResult{Account: g.Account, Labels: make([]LabelRow, 0, len(labels))}
		for _, l := range labels {
			row := LabelRow{Name: l.Name, ID: l.ID, Type: l.Type}
			if l.Counted {
				row.Unread, row.Total = &l.Unread, &l.Total
			}
			res.Labels = append(res.Labels, row)
		}
		return res, labelsText(res), nil
	})
}

// labelsText renders labels one a line: "name (type) unread/total".
func labelsText(r ListLabelsResult) string {
	var b strings.Builder
	if len(r.Labels) == 0 {
		return "No labels in " + r.Account + "."
	}
	fmt.Fprintf(&b, "%d labels in %s (name | type | unread/total):", len(r.Labels), r.Account)
	for _, l := range r.Labels {
		b.WriteString("\n" + oneLine(l.Name, 120) + " | " + l.Type)
		if l.Total != nil {
			fmt.Fprintf(&b, " | %d/%d", *l.Unread, *l.Total)
		}
	}
	return b.String()
}
