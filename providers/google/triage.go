package google

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"
	"google.golang.org/api/googleapi"

	"github.com/mailcal/mailcal/providers"
	"github.com/mailcal/mailcal/providers/httpretry"
)

// Triage over Gmail: every change is a change of labels (UNREAD, INBOX,
// TRASH, the user's), made for all the messages at once with one
// users.messages.batchModify (at most 1,000 ids, providers.MaxModifyIDs):
// a modify_messages of 100 ids, or of 1,000, is one request.
//
// batchModify answers 204 with no word per message, and Gmail passes over
// ids it does not know; the result says so (ModifyResult.Unconfirmed)
// rather than reading every message back: a read-back costs a
// messages.get per id (5 quota units each against Gmail's 250 a second per
// user: 5,000 units for 1,000 ids, i.e. throttling) and two more round
// trips per 100 ids, to tell the model what the ids it took from
// list_messages already say. Only when Gmail refuses the whole request
// for an id (404, or 400 "Invalid id value") are the messages read, to
// find the ids it has and send them again.
//
// Trash is the TRASH label added by batchModify (what messages.trash does
// to one message, for all of them in one request, within gmail.modify).

var _ providers.Triage = (*mailbox)(nil)

// Labels Gmail sets itself: refused in a change (Gmail answers 400).
var fixedLabels = []string{"SENT", "DRAFT", "CHAT"}

// gmailID reports whether id can be a Gmail message id (hexadecimal).
func gmailID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// ModifyMessages changes the messages' labels with one batchModify.
func (mb *mailbox) ModifyMessages(ctx context.Context, ids []string, c providers.MessageChange) (providers.ModifyResult, error) {
	var res providers.ModifyResult
	if len(ids) > providers.MaxModifyIDs {
		return res, &providers.FieldError{Field: "ids", Msg: fmt.Sprintf("at most %d ids at once", providers.MaxModifyIDs)}
	}
	add, remove, err := mb.labelChange(ctx, c)
	if err != nil {
		return res, err
	}
	valid := make([]string, 0, len(ids))
	for _, id := range ids {
		if gmailID(id) {
			valid = append(valid, id)
		} else {
			res.Failed = append(res.Failed, providers.ModifyFailure{ID: id, Reason: "not a Gmail message id (ids come from list_messages)"})
		}
	}
	if len(valid) == 0 {
		return res, nil
	}
	err = mb.batchModify(ctx, valid, add, remove)
	if err == nil {
		res.Changed, res.Unconfirmed = valid, true
		return res, nil
	}
	// Gmail documents no per-id failure of batchModify: should it refuse
	// the whole request for an id it does not have (404, or 400 "Invalid id
	// value"), the ids it has are found and sent again, once, and the
	// result then says which ids failed.
	if !errors.Is(err, providers.ErrNotFound) && !errors.Is(err, providers.ErrInvalid) {
		return res, err
	}
	labels, lerr := mb.messageLabels(ctx, valid)
	if lerr != nil {
		return res, err
	}
	var known []string
	for i, id := range valid {
		if labels[i] == nil {
			res.Failed = append(res.Failed, providers.ModifyFailure{ID: id, Reason: "no such message in this mailbox"})
		} else {
			known = append(known, id)
		}
	}
	if len(known) == len(valid) {
		return res, err // not an id's fault
	}
	if len(known) == 0 {
		return res, nil
	}
	if err := mb.batchModify(ctx, known, add, remove); err != nil {
		return res, err
	}
	res.Changed = known
	return res, nil
}

// labelChange turns a change into the label ids to add and remove.
func (mb *mailbox) labelChange(ctx context.Context, c providers.MessageChange) (add, remove []string, err error) {
	resolve := func(field, label string) (string, error) {
		id, err := mb.labelID(ctx, label)
		var pe *providers.Error
		if errors.As(err, &pe) && errors.Is(pe.Kind, providers.ErrNotFound) {
			return "", &providers.FieldError{Field: field, Msg: pe.Message +
				"; mailcal does not create labels: make it in Gmail first, or use an existing one"}
		}
		if err != nil {
			return "", err
		}
		if slices.Contains(fixedLabels, id) {
			return "", &providers.FieldError{Field: field, Msg: fmt.Sprintf("Gmail sets %s itself; it cannot be added or removed", id)}
		}
		return id, nil
	}
	if c.MarkUnread {
		add = append(add, "UNREAD")
	}
	if c.MarkRead {
		remove = append(remove, "UNREAD")
	}
	if c.Archive {
		remove = append(remove, "INBOX")
	}
	if c.Trash {
		add = append(add, "TRASH")
	}
	for i, l := range c.AddLabels {
		id, err := resolve(fmt.Sprintf("add_labels[%d]", i), l)
		if err != nil {
			return nil, nil, err
		}
		add = append(add, id)
	}
	for i, l := range c.RemoveLabels {
		id, err := resolve(fmt.Sprintf("remove_labels[%d]", i), l)
		if err != nil {
			return nil, nil, err
		}
		remove = append(remove, id)
	}
	if c.MoveTo != "" {
		id, err := resolve("move_to", c.MoveTo)
		if err != nil {
			return nil, nil, err
		}
		add = append(add, id)
		if id == "INBOX" { // back to the inbox: out of the trash and spam
			remove = append(remove, "TRASH", "SPAM")
		} else {
			remove = append(remove, "INBOX")
		}
	}
	slices.Sort(add)
	slices.Sort(remove)
	add, remove = slices.Compact(add), slices.Compact(remove)
	for _, id := range add {
		if slices.Contains(remove, id) {
			return nil, nil, &providers.FieldError{Field: "add_labels", Msg: fmt.Sprintf("label %q would be both added and removed", mb.labelName(id))}
		}
	}
	return add, remove, nil
}

// labelName is a label id's name as kept ("" unknown: the id).
func (mb *mailbox) labelName(id string) string {
	if s := mb.labelCache.get(strings.ToLower(mb.account)); s != nil && s.name[id] != "" {
		return s.name[id]
	}
	return id
}

// batchModify makes one users.messages.batchModify call. It may be
// repeated: it sets labels, so a second time changes nothing more.
func (mb *mailbox) batchModify(ctx context.Context, ids, add, remove []string) error {
	body, err := json.Marshal(map[string][]string{"ids": ids, "addLabelIds": nonNil(add), "removeLabelIds": nonNil(remove)})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(httpretry.Idempotent(ctx), http.MethodPost, mb.api+"users/me/messages/batchModify?alt=json&prettyPrint=false", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "mailcal")
	resp, err := mb.hc.Do(req)
	if err != nil {
		return mapError(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return mapError(googleapi.CheckResponse(resp))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// minimalQuery reads a message's labels only.
const minimalQuery = "?format=minimal&fields=id%2ClabelIds&alt=json&prettyPrint=false"

// messageLabels reads the messages' labels through the batch endpoint; a
// message Gmail does not have is nil.
func (mb *mailbox) messageLabels(ctx context.Context, ids []string) ([]*[]string, error) {
	out := make([]*[]string, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(mb.concurrency)
	for start := 0; start < len(ids); start += maxBatchCalls {
		chunk := ids[start:min(start+maxBatchCalls, len(ids))]
		g.Go(func() error {
			paths := make([]string, len(chunk))
			for i, id := range chunk {
				paths[i] = "users/me/messages/" + url.PathEscape(id) + minimalQuery
			}
			return mb.batch.get(gctx, paths, func(i int, a *callAnswer) error {
				if a.status/100 != 2 {
					return nil // 404: no such message
				}
				var m struct {
					LabelIDs []string `json:"labelIds"`
				}
				if err := decodeJSON(a.body, &m); err != nil {
					return &providers.Error{Kind: providers.ErrInvalidAnswer, Message: "Gmail's answer is not the JSON its API documents"}
				}
				l := nonNil(m.LabelIDs)
				out[start+i] = &l
				return nil
			})
		})
	}
	if err := g.Wait(); err != nil {
		return nil, mapError(err)
	}
	return out, nil
}

// ListLabels lists the mailbox's labels (labels.list, kept for the label
// cache too) with their counts: one labels.get a label, 50 a round trip
// through the batch endpoint. System labels first, as Gmail lists them,
// then the user's by name.
func (mb *mailbox) ListLabels(ctx context.Context) ([]providers.Label, error) {
	s, err := mb.labels(ctx, true)
	if err != nil {
		return nil, err
	}
	out := make([]providers.Label, 0, len(s.list))
	for _, l := range s.list {
		typ := providers.LabelUser
		if l.Type == "system" || isSystemLabel(l.ID) {
			typ = providers.LabelSystem
		}
		out = append(out, providers.Label{Name: l.Name, ID: l.ID, Type: typ})
	}
	slices.SortStableFunc(out, func(a, b providers.Label) int {
		if a.Type != b.Type {
			if a.Type == providers.LabelSystem {
				return -1
			}
			return 1
		}
		if a.Type == providers.LabelUser {
			return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
		}
		return 0
	})
	for start := 0; start < len(out); start += maxBatchCalls {
		chunk := out[start:min(start+maxBatchCalls, len(out))]
		paths := make([]string, len(chunk))
		for i, l := range chunk {
			paths[i] = "users/me/labels/" + url.PathEscape(l.ID) + "?fields=id%2CmessagesTotal%2CmessagesUnread&alt=json&prettyPrint=false"
		}
		err := mb.batch.get(ctx, paths, func(i int, a *callAnswer) error {
			if a.status/100 != 2 {
				return nil // deleted since the list: no counts
			}
			var c struct {
				Total  int `json:"messagesTotal"`
				Unread int `json:"messagesUnread"`
			}
			if err := decodeJSON(a.body, &c); err != nil {
				return &providers.Error{Kind: providers.ErrInvalidAnswer, Message: "Gmail's answer is not the JSON its API documents"}
			}
			chunk[i].Counted, chunk[i].Total, chunk[i].Unread = true, c.Total, c.Unread
			return nil
		})
		if err != nil {
			return nil, mapError(err)
		}
	}
	return out, nil
}
