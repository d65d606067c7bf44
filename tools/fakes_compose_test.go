package tools

import (
	"context"
	"fmt"
	"slices"

	"github.com/mailcal/mailcal/providers"
)

// fakeCompose is the fake provider's forwards and drafts.
type fakeCompose struct {
	forwards   []providers.ForwardMessage
	drafts     []*fakeDraft
	sentDrafts []string
	seq        int
}

type fakeDraft struct {
	id  string
	msg providers.OutgoingMessage
}

func notFound(what string) error {
	return &providers.Error{Kind: providers.ErrNotFound, Status: 404, Message: what + ": Requested entity was not found."}
}

func (m fakeMail) Forward(ctx context.Context, f providers.ForwardMessage) (providers.SentMessage, error) {
	if err := m.check(); err != nil {
		return providers.SentMessage{}, err
	}
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	if !slices.ContainsFunc(m.f.messages, func(x providers.Message) bool { return x.ID == f.MessageID }) {
		return providers.SentMessage{}, notFound("message_id")
	}
	m.f.compose.forwards = append(m.f.compose.forwards, f)
	return providers.SentMessage{ID: fmt.Sprintf("f%d", len(m.f.compose.forwards)), ThreadID: "t1"}, nil
}

func (m fakeMail) draft(id string) *fakeDraft {
	for _, d := range m.f.compose.drafts {
		if d.id == id {
			return d
		}
	}
	return nil
}

func (m fakeMail) CreateDraft(ctx context.Context, msg providers.OutgoingMessage) (providers.DraftRef, error) {
	if err := m.check(); err != nil {
		return providers.DraftRef{}, err
	}
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	m.f.compose.seq++
	d := &fakeDraft{id: fmt.Sprintf("r%d", m.f.compose.seq), msg: msg}
	m.f.compose.drafts = append(m.f.compose.drafts, d)
	return providers.DraftRef{ID: d.id, MessageID: "m-" + d.id, ThreadID: "t-" + d.id}, nil
}

func (m fakeMail) UpdateDraft(ctx context.Context, id string, u providers.DraftUpdate) (providers.DraftRef, error) {
	msg := u.OutgoingMessage
	if err := m.check(); err != nil {
		return providers.DraftRef{}, err
	}
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	d := m.draft(id)
	if d == nil {
		return providers.DraftRef{}, notFound("draft_id")
	}
	if msg.Subject == "" {
		msg.Subject = d.msg.Subject
	}
	if u.KeepAttachments {
		msg.Attachments = d.msg.Attachments
	}
	d.msg = msg
	return providers.DraftRef{ID: d.id, MessageID: "m-" + d.id, ThreadID: "t-" + d.id}, nil
}

func (m fakeMail) ListDrafts(ctx context.Context, q providers.DraftQuery) (providers.DraftPage, error) {
	if err := m.check(); err != nil {
		return providers.DraftPage{}, err
	}
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	var p providers.DraftPage
	for _, d := range slices.Backward(m.f.compose.drafts) {
		p.Drafts = append(p.Drafts, providers.DraftSummary{DraftRef: providers.DraftRef{ID: d.id, MessageID: "m-" + d.id, ThreadID: "t-" + d.id},
			To: d.msg.To, Subject: d.msg.Subject, Snippet: d.msg.Text})
	}
	return p, nil
}

func (m fakeMail) GetDraft(ctx context.Context, id string) (providers.Draft, error) {
	if err := m.check(); err != nil {
		return providers.Draft{}, err
	}
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	d := m.draft(id)
	if d == nil {
		return providers.Draft{}, notFound("draft_id")
	}
	out := providers.Draft{DraftSummary: providers.DraftSummary{DraftRef: providers.DraftRef{ID: d.id, MessageID: "m-" + d.id}, To: d.msg.To, Subject: d.msg.Subject},
		Cc: d.msg.Cc, Bcc: d.msg.Bcc, Text: d.msg.Text, HTML: d.msg.HTML}
	for i, a := range d.msg.Attachments {
		out.Attachments = append(out.Attachments, providers.AttachmentInfo{ID: fmt.Sprint(i), Filename: a.Filename, Size: int64(len(a.Data))})
	}
	return out, nil
}

func (m fakeMail) SendDraft(ctx context.Context, id string) (providers.SentMessage, error) {
	if err := m.check(); err != nil {
		return providers.SentMessage{}, err
	}
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	d := m.draft(id)
	if d == nil {
		return providers.SentMessage{}, notFound("draft_id")
	}
	m.f.compose.drafts = slices.DeleteFunc(m.f.compose.drafts, func(x *fakeDraft) bool { return x == d })
	m.f.compose.sentDrafts = append(m.f.compose.sentDrafts, id)
	return providers.SentMessage{ID: "m-" + id, ThreadID: "t-" + id}, nil
}

func (m fakeMail) DeleteDraft(ctx context.Context, id string) error {
	if err := m.check(); err != nil {
		return err
	}
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	if m.draft(id) == nil {
		return notFound("draft_id")
	}
	m.f.compose.drafts = slices.DeleteFunc(m.f.compose.drafts, func(x *fakeDraft) bool { return x.id == id })
	return nil
}

// The stuck provider's forwards and drafts wait like its other calls.

func (m stuckMail) Forward(ctx context.Context, _ providers.ForwardMessage) (providers.SentMessage, error) {
	return providers.SentMessage{}, m.block(ctx, m.src)
}

func (m stuckMail) CreateDraft(ctx context.Context, _ providers.OutgoingMessage) (providers.DraftRef, error) {
	return providers.DraftRef{}, m.block(ctx, m.src)
}

func (m stuckMail) UpdateDraft(ctx context.Context, _ string, _ providers.DraftUpdate) (providers.DraftRef, error) {
	return providers.DraftRef{}, m.block(ctx, m.src)
}

func (m stuckMail) ListDrafts(ctx context.Context, _ providers.DraftQuery) (providers.DraftPage, error) {
	return providers.DraftPage{}, m.block(ctx, m.src)
}

func (m stuckMail) GetDraft(ctx context.Context, _ string) (providers.Draft, error) {
	return providers.Draft{}, m.block(ctx, m.src)
}

func (m stuckMail) SendDraft(ctx context.Context, _ string) (providers.SentMessage, error) {
	return providers.SentMessage{}, m.block(ctx, m.src)
}

func (m stuckMail) DeleteDraft(ctx context.Context, _ string) error {
	return m.block(ctx, m.src)
}
