package tools

import (
	"context"

	"github.com/mailcal/mailcal/providers"
)

// eventChanges is what the fake calendar's event changes saw: the events
// GetEvent finds (by id) and the changes asked for.
type eventChanges struct {
	byID      map[string]providers.Event
	updates   []providers.EventUpdate
	deletions []providers.EventDeletion
	responses []providers.EventResponse
}

// addEvent makes an event GetEvent finds.
func (f *fakeProvider) addEvent(ev providers.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.changes.byID == nil {
		f.changes.byID = map[string]providers.Event{}
	}
	f.changes.byID[ev.ID] = ev
}

func (c fakeCal) GetEvent(ctx context.Context, calendarID, eventID string) (providers.Event, error) {
	if err := c.check(); err != nil {
		return providers.Event{}, err
	}
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	ev, ok := c.f.changes.byID[eventID]
	if !ok {
		return providers.Event{}, &providers.Error{Kind: providers.ErrNotFound, Status: 404, Message: "Not Found"}
	}
	return ev, nil
}

func (c fakeCal) UpdateEvent(ctx context.Context, u providers.EventUpdate) (providers.Event, error) {
	if err := c.check(); err != nil {
		return providers.Event{}, err
	}
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.changes.updates = append(c.f.changes.updates, u)
	ev := c.f.changes.byID[u.EventID]
	if u.Summary != nil {
		ev.Summary = *u.Summary
	}
	if u.Location != nil {
		ev.Location = *u.Location
	}
	if u.Attendees != nil {
		ev.Attendees = *u.Attendees
	}
	if u.Conference != "" {
		ev.JoinURL = "https://meet.example/abc"
	}
	c.f.changes.byID[u.EventID] = ev
	return ev, nil
}

func (c fakeCal) DeleteEvent(ctx context.Context, d providers.EventDeletion) error {
	if err := c.check(); err != nil {
		return err
	}
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.changes.deletions = append(c.f.changes.deletions, d)
	delete(c.f.changes.byID, d.EventID)
	return nil
}

func (c fakeCal) RespondToEvent(ctx context.Context, r providers.EventResponse) error {
	if err := c.check(); err != nil {
		return err
	}
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.changes.responses = append(c.f.changes.responses, r)
	return nil
}

// The stuck provider's event changes block like its other calls.

func (c stuckCal) GetEvent(ctx context.Context, _, _ string) (providers.Event, error) {
	return providers.Event{}, c.block(ctx, c.src)
}

func (c stuckCal) UpdateEvent(ctx context.Context, _ providers.EventUpdate) (providers.Event, error) {
	return providers.Event{}, c.block(ctx, c.src)
}

func (c stuckCal) DeleteEvent(ctx context.Context, _ providers.EventDeletion) error {
	return c.block(ctx, c.src)
}

func (c stuckCal) RespondToEvent(ctx context.Context, _ providers.EventResponse) error {
	return c.block(ctx, c.src)
}
