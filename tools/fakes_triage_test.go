package tools

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/mailcal/mailcal/providers"
)

// fakeTriage is what the in-process mailbox records of triage calls.
type fakeTriage struct {
	labels  []string // user labels; system ones are INBOX, UNREAD, TRASH
	changes []providers.MessageChange
	ids     [][]string
}

var fakeSystemLabels = []string{"INBOX", "UNREAD", "TRASH"}

// fakeLabel resolves a label name (any case) as a provider would.
func (f *fakeProvider) fakeLabel(field, name string) (string, error) {
	for _, l := range append(slices.Clone(fakeSystemLabels), f.triage.labels...) {
		if strings.EqualFold(l, name) {
			return l, nil
		}
	}
	return "", &providers.FieldError{Field: field, Msg: fmt.Sprintf("label %q does not exist; list_labels lists them", name)}
}

func (m fakeMail) ModifyMessages(ctx context.Context, ids []string, c providers.MessageChange) (providers.ModifyResult, error) {
	if err := m.check(); err != nil {
		return providers.ModifyResult{}, err
	}
	f := m.f
	f.mu.Lock()
	defer f.mu.Unlock()
	var add, remove []string
	for i, l := range c.AddLabels {
		id, err := f.fakeLabel(fmt.Sprintf("add_labels[%d]", i), l)
		if err != nil {
			return providers.ModifyResult{}, err
		}
		add = append(add, id)
	}
	for i, l := range c.RemoveLabels {
		id, err := f.fakeLabel(fmt.Sprintf("remove_labels[%d]", i), l)
		if err != nil {
			return providers.ModifyResult{}, err
		}
		remove = append(remove, id)
	}
	if c.Archive {
		remove = append(remove, "INBOX")
	}
	if c.Trash {
		add = append(add, "TRASH")
	}
	f.triage.changes = append(f.triage.changes, c)
	f.triage.ids = append(f.triage.ids, slices.Clone(ids))
	var res providers.ModifyResult
	for _, id := range ids {
		i := slices.IndexFunc(f.messages, func(msg providers.Message) bool { return msg.ID == id })
		if i < 0 {
			res.Failed = append(res.Failed, providers.ModifyFailure{ID: id, Reason: "no such message in this mailbox"})
			continue
		}
		msg := &f.messages[i]
		msg.Labels = slices.DeleteFunc(slices.Clone(msg.Labels), func(l string) bool { return slices.Contains(remove, l) })
		for _, l := range add {
			if !slices.Contains(msg.Labels, l) {
				msg.Labels = append(msg.Labels, l)
			}
		}
		switch {
		case c.MarkRead:
			msg.Unread = false
		case c.MarkUnread:
			msg.Unread = true
		}
		res.Changed = append(res.Changed, id)
	}
	return res, nil
}

func (m fakeMail) ListLabels(ctx context.Context) ([]providers.Label, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	f := m.f
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []providers.Label
	for _, l := range append(slices.Clone(fakeSystemLabels), f.triage.labels...) {
		typ := providers.LabelUser
		if slices.Contains(fakeSystemLabels, l) {
			typ = providers.LabelSystem
		}
		lb := providers.Label{Name: l, ID: l, Type: typ, Counted: true}
		if typ == providers.LabelUser {
			lb.ID = "Label_" + l
		}
		for _, msg := range f.messages {
			if slices.Contains(msg.Labels, l) {
				lb.Total++
				if msg.Unread {
					lb.Unread++
				}
			}
		}
		out = append(out, lb)
	}
	return out, nil
}

func (m stuckMail) ModifyMessages(ctx context.Context, _ []string, _ providers.MessageChange) (providers.ModifyResult, error) {
	return providers.ModifyResult{}, m.block(ctx, m.src)
}

func (m stuckMail) ListLabels(ctx context.Context) ([]providers.Label, error) {
	return nil, m.block(ctx, m.src)
}
