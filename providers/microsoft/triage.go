package microsoft

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mailcal/mailcal/providers"
)

// Triage over Graph: labels are Outlook's categories (the mailbox's master
// list, by display name), moves go to folders (archive: the Archive
// well-known folder; trash: Deleted Items; move_to: a folder by name,
// "Parent/Child" path or id, as list_messages' label). Requests go in JSON
// batches of 20 (batch.go); per 100 ids:
//
//   - mark_read, mark_unread: one PATCH isRead a message, 5 batches;
//   - archive, trash, move_to: one POST move a message, 5 batches;
//   - add_labels, remove_labels: PATCH replaces the whole categories list,
//     so each message's list is read first (5 batches of GETs, plus the
//     master categories once per categoryTTL), then one PATCH a message
//     whose list changes, carrying isRead too when asked (5 batches);
//   - several actions: the PATCHes (read state and categories together),
//     then the moves: 10 batches (15 with categories).
//
// With immutable ids a moved message keeps its id, so the ids given stay
// valid after the change.

var _ providers.Triage = (*mailbox)(nil)

// categoryTTL is how long an account's master categories are kept.
const categoryTTL = 5 * time.Minute

type category struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

// categories returns the mailbox's master categories (kept briefly).
func (mb *mailbox) categories(ctx context.Context, fresh bool) ([]category, error) {
	api := mb.g.api
	if !fresh {
		if cs, ok := api.categories.get(mb.g.account, api.now()); ok {
			return cs, nil
		}
	}
	var list struct {
		Value []category `json:"value"`
	}
	if err := mb.g.do(ctx, req{method: http.MethodGet, path: "/me/outlook/masterCategories", need: "MailboxSettings.Read"}, &list); err != nil {
		return nil, err
	}
	api.categories.put(mb.g.account, list.Value, api.now())
	return list.Value, nil
}

// categoryName resolves a label argument to a master category's display
// name (any case, or its id).
func (mb *mailbox) categoryName(ctx context.Context, field, label string) (string, error) {
	label = strings.TrimSpace(label)
	var cs []category
	for _, fresh := range []bool{false, true} {
		var err error
		if cs, err = mb.categories(ctx, fresh); err != nil {
			return "", err
		}
		for _, c := range cs {
			if strings.EqualFold(c.DisplayName, label) || c.ID == label {
				return c.DisplayName, nil
			}
		}
	}
	if _, name, err := mb.resolveFolder(ctx, label); err == nil && name != "" {
		return "", &providers.FieldError{Field: field, Msg: fmt.Sprintf("%q is an Outlook folder, not a category: use move_to to move messages there", clip(label))}
	}
	names := make([]string, 0, len(cs))
	for _, c := range cs {
		names = append(names, c.DisplayName)
	}
	slices.Sort(names)
	return "", &providers.FieldError{Field: field, Msg: fmt.Sprintf("no category %q in this mailbox (its categories: %s; list_labels lists them); mailcal does not create categories",
		clip(label), strings.Join(names, ", "))}
}

// listedCategory is the master category named label (any case, or its
// id) for a listing, "" when there is none (or the categories cannot be
// read: the listing then says the folder does not exist).
func (mb *mailbox) listedCategory(ctx context.Context, label string) string {
	cs, err := mb.categories(ctx, false)
	if err != nil {
		return ""
	}
	for _, c := range cs {
		if strings.EqualFold(c.DisplayName, label) || c.ID == label {
			return c.DisplayName
		}
	}
	return ""
}

// ModifyMessages applies the change: PATCHes first (read state and
// categories), then moves, each in batches; an id that fails a step is
// reported and left out of the next.
func (mb *mailbox) ModifyMessages(ctx context.Context, ids []string, c providers.MessageChange) (providers.ModifyResult, error) {
	var res providers.ModifyResult
	if len(ids) > providers.MaxModifyIDs {
		return res, &providers.FieldError{Field: "ids", Msg: fmt.Sprintf("at most %d ids at once", providers.MaxModifyIDs)}
	}
	var add, remove []string
	for i, l := range c.AddLabels {
		n, err := mb.categoryName(ctx, fmt.Sprintf("add_labels[%d]", i), l)
		if err != nil {
			return res, err
		}
		add = append(add, n)
	}
	for i, l := range c.RemoveLabels {
		n, err := mb.categoryName(ctx, fmt.Sprintf("remove_labels[%d]", i), l)
		if err != nil {
			return res, err
		}
		remove = append(remove, n)
	}
	for _, a := range add {
		if slices.ContainsFunc(remove, func(r string) bool { return strings.EqualFold(a, r) }) {
			return res, &providers.FieldError{Field: "add_labels", Msg: fmt.Sprintf("category %q would be both added and removed", a)}
		}
	}
	dest := ""
	switch {
	case c.Trash:
		dest = "deleteditems"
	case c.Archive:
		dest = "archive"
	case c.MoveTo != "":
		id, _, err := mb.resolveFolder(ctx, strings.TrimSpace(c.MoveTo))
		var pe *providers.Error
		if errors.As(err, &pe) && errors.Is(pe.Kind, providers.ErrNotFound) {
			if cat := mb.listedCategory(ctx, c.MoveTo); cat != "" {
				return res, &providers.FieldError{Field: "move_to", Msg: fmt.Sprintf("%q is an Outlook category, not a folder: use add_labels to put it on messages", cat)}
			}
			return res, &providers.FieldError{Field: "move_to", Msg: pe.Message + "; list_labels lists them"}
		}
		if err != nil {
			return res, err
		}
		dest = id
	}
	var alive []string
	for _, id := range ids {
		if checkID("ids", id) != nil {
			res.Failed = append(res.Failed, providers.ModifyFailure{ID: id, Reason: "not an Outlook message id (ids come from list_messages)"})
		} else {
			alive = append(alive, id)
		}
	}
	st := &modifyRun{mb: mb, res: &res}
	var current [][]string
	var err error
	if len(add)+len(remove) > 0 {
		if alive, current, err = st.readCategories(ctx, alive); err != nil {
			return res, err
		}
	}
	patched := false
	if c.MarkRead || c.MarkUnread || len(add)+len(remove) > 0 {
		body := func(i int) map[string]any {
			b := map[string]any{}
			if c.MarkRead || c.MarkUnread {
				b["isRead"] = c.MarkRead
			}
			if current != nil {
				if next, changed := withCategories(current[i], add, remove); changed {
					b["categories"] = next
				}
			}
			return b
		}
		if alive, err = st.patch(ctx, alive, body); err != nil {
			return res, partly(err)
		}
		patched = true
	}
	if dest != "" {
		if alive, err = st.move(ctx, alive, dest); err != nil && !patched {
			return res, partly(err)
		} else if err != nil {
			// The messages were changed in part: each says so.
			for _, id := range alive {
				st.fail(id, "changed but not moved: "+err.Error())
			}
			alive = nil
		}
	}
	res.Changed = alive
	return res, nil
}

// modifyRun is one ModifyMessages call's steps, each over the ids still
// standing; a failed id is reported and left out of the next steps.
type modifyRun struct {
	mb  *mailbox
	res *providers.ModifyResult
}

func (st *modifyRun) fail(id, reason string) {
	st.res.Failed = append(st.res.Failed, providers.ModifyFailure{ID: id, Reason: reason})
}

// readCategories reads each message's categories (Graph's PATCH replaces
// the whole list): the ids found and their lists.
func (st *modifyRun) readCategories(ctx context.Context, ids []string) ([]string, [][]string, error) {
	reqs := make([]batchReq, len(ids))
	for i, id := range ids {
		reqs[i] = batchReq{method: http.MethodGet, path: "/me/messages/" + url.PathEscape(id) + "?$select=categories"}
	}
	answers, err := st.mb.g.batch(ctx, reqs, scopeMailRead)
	if err != nil {
		return nil, nil, err
	}
	var keep []string
	var lists [][]string
	for i, a := range answers {
		var m struct {
			Categories []string `json:"categories"`
		}
		switch {
		case a.err != nil:
			st.fail(ids[i], a.reason())
		case json.Unmarshal(a.body, &m) != nil:
			st.fail(ids[i], "Microsoft Graph's answer could not be read")
		default:
			keep, lists = append(keep, ids[i]), append(lists, m.Categories)
		}
	}
	return keep, lists, nil
}

// patch PATCHes each message with body(i) (none when it is empty: the
// message is already as asked) and returns the ids that did not fail.
func (st *modifyRun) patch(ctx context.Context, ids []string, body func(i int) map[string]any) ([]string, error) {
	var reqs []batchReq
	var sent []string
	for i, id := range ids {
		if b := body(i); len(b) > 0 {
			reqs = append(reqs, batchReq{method: http.MethodPatch, path: "/me/messages/" + url.PathEscape(id), body: b})
			sent = append(sent, id)
		}
	}
	answers, err := st.mb.g.batch(ctx, reqs, scopeMailReadWrite)
	if err != nil {
		return nil, err
	}
	failed := map[string]bool{}
	for i, a := range answers {
		if a.err != nil {
			st.fail(sent[i], a.reason())
			failed[sent[i]] = true
		}
	}
	return slices.DeleteFunc(ids, func(id string) bool { return failed[id] }), nil
}

// move moves each message to dest and returns the ids moved; on an error
// (no batch answered) the ids are returned as they were.
func (st *modifyRun) move(ctx context.Context, ids []string, dest string) ([]string, error) {
	reqs := make([]batchReq, len(ids))
	for i, id := range ids {
		reqs[i] = batchReq{method: http.MethodPost, path: "/me/messages/" + url.PathEscape(id) + "/move", body: map[string]string{"destinationId": dest}}
	}
	answers, err := st.mb.g.batch(ctx, reqs, scopeMailReadWrite)
	if err != nil {
		return ids, err
	}
	var moved []string
	for i, a := range answers {
		if a.err != nil {
			st.fail(ids[i], a.reason())
		} else {
			moved = append(moved, ids[i])
		}
	}
	return moved, nil
}

// partly is the error of a batch that failed after earlier steps may have
// changed some messages.
func partly(err error) error {
	return providers.Uncertain(err, "some of the messages may have been changed: list_messages shows their state")
}

// withCategories is list with add added and remove removed (names compared
// without regard to case), and whether that changes it.
func withCategories(list, add, remove []string) ([]string, bool) {
	out := slices.DeleteFunc(slices.Clone(list), func(c string) bool {
		return slices.ContainsFunc(remove, func(r string) bool { return strings.EqualFold(c, r) })
	})
	changed := len(out) != len(list)
	for _, a := range add {
		if !slices.ContainsFunc(out, func(c string) bool { return strings.EqualFold(c, a) }) {
			out, changed = append(out, a), true
		}
	}
	if out == nil {
		out = []string{}
	}
	return out, changed
}

// ListLabels lists the mailbox's folders (the top two levels, children as
// "Parent/Child", with their counts: one request) and its categories (one
// request; Outlook keeps no counts for them).
func (mb *mailbox) ListLabels(ctx context.Context) ([]providers.Label, error) {
	type countedFolder struct {
		ID          string          `json:"id"`
		DisplayName string          `json:"displayName"`
		Unread      int             `json:"unreadItemCount"`
		Total       int             `json:"totalItemCount"`
		Children    []countedFolder `json:"childFolders"`
	}
	var list struct {
		Value []countedFolder `json:"value"`
	}
	const fields = "id,displayName,unreadItemCount,totalItemCount"
	params := url.Values{"$top": {"250"}, "$select": {fields}, "$expand": {"childFolders($select=" + fields + ")"}}
	if err := mb.g.do(ctx, req{method: http.MethodGet, path: "/me/mailFolders", query: params, need: scopeMailRead}, &list); err != nil {
		return nil, err
	}
	var out []providers.Label
	for _, f := range list.Value {
		if f.ID == "" {
			continue
		}
		out = append(out, providers.Label{Name: f.DisplayName, ID: f.ID, Type: providers.LabelFolder, Counted: true, Unread: f.Unread, Total: f.Total})
		for _, ch := range f.Children {
			if ch.ID != "" {
				out = append(out, providers.Label{Name: f.DisplayName + "/" + ch.DisplayName, ID: ch.ID, Type: providers.LabelFolder, Counted: true, Unread: ch.Unread, Total: ch.Total})
			}
		}
	}
	cs, err := mb.categories(ctx, true)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		out = append(out, providers.Label{Name: c.DisplayName, ID: c.ID, Type: providers.LabelCategory})
	}
	return out, nil
}
