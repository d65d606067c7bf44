package googletest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/api/gmail/v1"
	"google.golang.org/api/googleapi"
)

func TestGmailBatchModify(t *testing.T) {
	a := newAPITest(t)
	svc := a.gmail(gmailModifyScope)
	report, github := a.fx.Messages["report"], a.fx.Messages["github"]
	work := a.s.MessageLabels(alice, report)
	modify := func(ids, add, remove []string) error {
		return svc.Users.Messages.BatchModify("me", &gmail.BatchModifyMessagesRequest{Ids: ids, AddLabelIds: add, RemoveLabelIds: remove}).Do()
	}
	// Read, archived and into the trash at once; an unknown id is passed over.
	if err := modify([]string{report, github, "00000000000fffff"}, []string{"TRASH"}, []string{"UNREAD", "INBOX"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{report, github} {
		l := a.s.MessageLabels(alice, id)
		if slices.Contains(l, "UNREAD") || slices.Contains(l, "INBOX") || !slices.Contains(l, "TRASH") {
			t.Errorf("%s labels %v", id, l)
		}
	}
	// The change shows in search and in the listing (trash is left out).
	ids := listAll(t, svc.Users.Messages.List("me").Q("is:unread label:work"))
	if slices.Contains(ids, report) {
		t.Errorf("is:unread label:work still lists the report: %v", ids)
	}
	if ids := listAll(t, svc.Users.Messages.List("me").LabelIds("TRASH")); !slices.Contains(ids, report) {
		t.Errorf("TRASH does not list the report: %v", ids)
	}
	// Counts follow.
	if l, err := svc.Users.Labels.Get("me", "TRASH").Do(); err != nil || l.MessagesTotal < 2 {
		t.Errorf("TRASH counts %+v %v", l, err)
	}
	userLabel := ""
	for _, l := range work {
		if strings.HasPrefix(l, "Label_") {
			userLabel = l
		}
	}
	for _, c := range []struct {
		ids, add, remove []string
		msg              string
	}{
		{make([]string, 1001), nil, []string{"UNREAD"}, "Number of ids cannot exceed 1000"},
		{[]string{report, "not-hex!"}, nil, []string{"UNREAD"}, "Invalid id value"},
		{[]string{report}, []string{"Label_999"}, nil, "Invalid label: Label_999"},
		{[]string{report}, nil, []string{"SENT"}, "Invalid label: SENT"},
		{nil, []string{userLabel}, nil, "No message ids specified"},
	} {
		for i := range c.ids {
			if c.ids[i] == "" {
				c.ids[i] = fmt.Sprintf("%016x", i+1)
			}
		}
		err := modify(c.ids, c.add, c.remove)
		var ge *googleapi.Error
		if !errors.As(err, &ge) || ge.Code != 400 || !strings.Contains(ge.Message, c.msg) {
			t.Errorf("%d ids, add %v, remove %v: %v, want 400 %q", len(c.ids), c.add, c.remove, err, c.msg)
		}
	}
	// gmail.readonly may not change labels.
	if err := a.gmail(gmailRead).Users.Messages.BatchModify("me", &gmail.BatchModifyMessagesRequest{Ids: []string{report}, AddLabelIds: []string{"UNREAD"}}).Do(); err == nil {
		t.Error("batchModify with gmail.readonly accepted")
	}
	// 1000 ids are taken.
	many := make([]string, 1000)
	for i := range many {
		many[i] = fmt.Sprintf("%016x", i+1)
	}
	many[999] = report
	if err := modify(many, nil, []string{"TRASH"}); err != nil || slices.Contains(a.s.MessageLabels(alice, report), "TRASH") {
		t.Errorf("1000 ids: %v, labels %v", err, a.s.MessageLabels(alice, report))
	}
}
