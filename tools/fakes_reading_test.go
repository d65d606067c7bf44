package tools

import (
	"context"
	"sync"

	"github.com/mailcal/mailcal/providers"
)

// The in-process fake's conversations and attachments (get_thread,
// get_attachment), kept beside fakeProvider.

type fakeReading struct {
	threads []providers.Thread
	files   map[[2]string]providers.AttachmentContent // by message id, attachment id
	limits  []int64                                   // the limits asked for
}

var fakeReadings sync.Map // *fakeProvider → *fakeReading

func (f *fakeProvider) reading() *fakeReading {
	r, _ := fakeReadings.LoadOrStore(f, &fakeReading{files: map[[2]string]providers.AttachmentContent{}})
	return r.(*fakeReading)
}

func (m fakeMail) Thread(ctx context.Context, q providers.ThreadQuery) (providers.Thread, error) {
	if err := m.check(); err != nil {
		return providers.Thread{}, err
	}
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	for _, t := range m.f.reading().threads {
		if t.ID == q.ThreadID {
			return t, nil
		}
		for _, msg := range t.Messages {
			if q.MessageID != "" && msg.ID == q.MessageID {
				return t, nil
			}
		}
	}
	return providers.Thread{}, &providers.Error{Kind: providers.ErrNotFound, Status: 404, Message: "Requested entity was not found."}
}

func (m fakeMail) Attachment(ctx context.Context, q providers.AttachmentQuery) (providers.AttachmentContent, error) {
	if err := m.check(); err != nil {
		return providers.AttachmentContent{}, err
	}
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	r := m.f.reading()
	a, ok := r.files[[2]string{q.MessageID, q.AttachmentID}]
	if !ok {
		return providers.AttachmentContent{}, &providers.Error{Kind: providers.ErrNotFound, Status: 404, Message: "no such attachment"}
	}
	limit := q.LimitOf(a.AttachmentInfo)
	r.limits = append(r.limits, limit)
	if int64(len(a.Data)) > limit {
		return providers.AttachmentContent{}, &providers.SizeError{Name: a.Filename, Size: int64(len(a.Data)), Limit: limit}
	}
	return a, nil
}

func (m stuckMail) Thread(ctx context.Context, _ providers.ThreadQuery) (providers.Thread, error) {
	return providers.Thread{}, m.block(ctx, m.src)
}

func (m stuckMail) Attachment(ctx context.Context, _ providers.AttachmentQuery) (providers.AttachmentContent, error) {
	return providers.AttachmentContent{}, m.block(ctx, m.src)
}
