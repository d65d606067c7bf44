package googletest

import (
	"testing"
	"time"

	calendar "google.golang.org/api/calendar/v3"
)

// Extras as the reference documents them: conferenceData read only with
// conferenceDataVersion=1, at most 5 reminder overrides.
func TestInsertEventExtras(t *testing.T) {
	a := newAPITest(t)
	svc := a.calendar(calEventsScope)
	mk := func() *calendar.Event {
		return &calendar.Event{Summary: "Sync",
			Start:          &calendar.EventDateTime{DateTime: "2026-04-02T10:00:00", TimeZone: "Europe/Berlin"},
			End:            &calendar.EventDateTime{DateTime: "2026-04-02T10:30:00", TimeZone: "Europe/Berlin"},
			ConferenceData: &calendar.ConferenceData{CreateRequest: &calendar.CreateConferenceRequest{RequestId: "r1", ConferenceSolutionKey: &calendar.ConferenceSolutionKey{Type: "hangoutsMeet"}}},
			Reminders:      &calendar.EventReminders{Overrides: []*calendar.EventReminder{{Method: "popup", Minutes: 15}}, ForceSendFields: []string{"UseDefault"}},
		}
	}
	ignored, err := svc.Events.Insert("primary", mk()).Do()
	if err != nil {
		t.Fatal(err)
	}
	if ignored.HangoutLink != "" || ignored.ConferenceData != nil {
		t.Fatalf("conferenceData read without conferenceDataVersion=1: %+v", ignored.ConferenceData)
	}
	got, err := svc.Events.Insert("primary", mk()).ConferenceDataVersion(1).Do()
	if err != nil {
		t.Fatal(err)
	}
	cd := got.ConferenceData
	if got.HangoutLink == "" || cd == nil || len(cd.EntryPoints) != 1 || cd.EntryPoints[0].Uri != got.HangoutLink || cd.CreateRequest.Status.StatusCode != "success" ||
		got.Reminders.UseDefault || len(got.Reminders.Overrides) != 1 || got.Reminders.Overrides[0].Minutes != 15 {
		t.Fatalf("created %+v %+v %+v", got, cd, got.Reminders)
	}
	six := mk()
	for range 5 {
		six.Reminders.Overrides = append(six.Reminders.Overrides, &calendar.EventReminder{Method: "popup", Minutes: 5})
	}
	_, err = svc.Events.Insert("primary", six).Do()
	wantAPIError(t, err, 400, "invalid", "maximum number of override reminders is 5")
}

// An instance's patch and delete make exceptions; a deleted event answers
// 410; instances lists the series with its exceptions; an attendee
// changes only its own answer.
func TestPatchDeleteInstances(t *testing.T) {
	a := newAPITest(t)
	svc := a.calendar(calEventsScope)
	series, err := svc.Events.Insert("primary", &calendar.Event{Summary: "Daily",
		Start:      &calendar.EventDateTime{DateTime: "2026-04-06T09:00:00", TimeZone: "Europe/Berlin"},
		End:        &calendar.EventDateTime{DateTime: "2026-04-06T09:15:00", TimeZone: "Europe/Berlin"},
		Recurrence: []string{"RRULE:FREQ=DAILY;COUNT=4"}, Attendees: []*calendar.EventAttendee{{Email: FixtureBob}}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	inst, err := svc.Events.Instances("primary", series.Id).Do()
	if err != nil || len(inst.Items) != 4 {
		t.Fatalf("instances %v %v", inst, err)
	}
	second := inst.Items[1].Id
	moved, err := svc.Events.Patch("primary", second, &calendar.Event{Summary: "Daily (moved)"}).SendUpdates("all").Do()
	if err != nil || moved.Summary != "Daily (moved)" || moved.RecurringEventId != series.Id || moved.Start.DateTime != inst.Items[1].Start.DateTime {
		t.Fatalf("patched instance %+v %v", moved, err)
	}
	if err := svc.Events.Delete("primary", inst.Items[2].Id).SendUpdates("none").Do(); err != nil {
		t.Fatal(err)
	}
	err = svc.Events.Delete("primary", inst.Items[2].Id).Do()
	wantAPIError(t, err, 410, "deleted", "Resource has been deleted")
	inst, err = svc.Events.Instances("primary", series.Id).Do()
	if err != nil || len(inst.Items) != 3 || inst.Items[1].Summary != "Daily (moved)" {
		t.Fatalf("instances after the changes %+v %v", inst, err)
	}
	before := series.Sequence
	patched, err := svc.Events.Patch("primary", series.Id, &calendar.Event{Location: "Room 2"}).Do()
	if err != nil || patched.Location != "Room 2" || patched.Summary != "Daily" || patched.Sequence != before+1 || len(patched.Attendees) != 1 {
		t.Fatalf("patched series %+v %v", patched, err)
	}

	// An event bob organizes: alice answers, but cannot rename it.
	id := a.s.AddEvent(alice, "primary", Event{Summary: "Bob's", Organizer: FixtureBob, TimeZone: "UTC", Start: fixedNow.Add(48 * time.Hour), End: fixedNow.Add(49 * time.Hour),
		Attendees: []Attendee{{Email: FixtureBob, Organizer: true, ResponseStatus: "accepted"}, {Email: alice}}})
	_, err = svc.Events.Patch("primary", id, &calendar.Event{Summary: "Mine"}).Do()
	wantAPIError(t, err, 403, "forbiddenForNonOrganizer", "organizer")
	ans, err := svc.Events.Patch("primary", id, &calendar.Event{AttendeesOmitted: true,
		Attendees: []*calendar.EventAttendee{{Email: alice, ResponseStatus: "declined", Comment: "away"}}}).SendUpdates("all").Do()
	if err != nil || len(ans.Attendees) != 2 || ans.Attendees[1].ResponseStatus != "declined" || ans.Attendees[1].Comment != "away" || !ans.Attendees[1].Self {
		t.Fatalf("answered %+v %v", ans, err)
	}
	_, err = svc.Events.Patch("primary", id, &calendar.Event{AttendeesOmitted: true,
		Attendees: []*calendar.EventAttendee{{Email: FixtureBob, ResponseStatus: "declined"}}}).Do()
	wantAPIError(t, err, 400, "invalid", "attendee")
}

// A refused patch of an instance leaves its series as it was: no
// exception is stored (events.list without singleEvents lists exceptions
// apart from their series).
func TestRefusedInstancePatchKeepsSeries(t *testing.T) {
	a := newAPITest(t)
	svc := a.calendar(calEventsScope)
	series, err := svc.Events.Insert("primary", &calendar.Event{Summary: "Daily",
		Start:      &calendar.EventDateTime{DateTime: "2026-04-06T09:00:00", TimeZone: "Europe/Berlin"},
		End:        &calendar.EventDateTime{DateTime: "2026-04-06T09:15:00", TimeZone: "Europe/Berlin"},
		Recurrence: []string{"RRULE:FREQ=DAILY;COUNT=3"}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	inst, err := svc.Events.Instances("primary", series.Id).Do()
	if err != nil || len(inst.Items) != 3 {
		t.Fatalf("instances %v %v", inst, err)
	}
	_, err = svc.Events.Patch("primary", inst.Items[1].Id, &calendar.Event{
		End: &calendar.EventDateTime{DateTime: "2026-04-01T09:00:00", TimeZone: "Europe/Berlin"}}).Do()
	wantAPIError(t, err, 400, "timeRangeEmpty", "empty")
	list, err := svc.Events.List("primary").Q("Daily").Do()
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range list.Items {
		if it.RecurringEventId == series.Id {
			t.Fatalf("a refused patch stored an exception: %+v", it)
		}
	}
}
