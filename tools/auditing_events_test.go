package tools

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mailcal/mailcal/tools/audit"
)

// The event changes' audit records: the event's id, the people told, the
// title; never the description or a comment.
func TestAuditEventChanges(t *testing.T) {
	prov := &fakeProvider{refuse: map[string]bool{}}
	addEventFixture(prov)
	call, log := newAuditEnv(t, prov)
	call("update_event", map[string]any{"event_id": "series1_20261124", "scope": "series", "description": "SECRET AGENDA", "add_attendees": []any{"eve@evil.example"}})
	call("update_event", map[string]any{"event_id": "series1", "summary": "Standup v2", "description": "SECRET AGENDA"})
	call("respond_to_event", map[string]any{"event_id": "invite1", "response": "declined", "comment": "SECRET REASON"})
	call("delete_event", map[string]any{"event_id": "series1"})
	if len(log.recs) != 4 {
		t.Fatalf("%d records, want 4: %+v", len(log.recs), log.recs)
	}
	refused, upd, resp, del := log.recs[0], log.recs[1], log.recs[2], log.recs[3]
	if refused.Tool != "update_event" || refused.Outcome != audit.OutcomeRefused || !strings.Contains(refused.Error, "eve@evil.example") ||
		strings.Join(refused.IDs, ",") != "series1" || !strings.Contains(strings.Join(refused.Recipients, ","), "eve@evil.example") {
		t.Errorf("refused update: %+v", refused)
	}
	if upd.Outcome != audit.OutcomeOK || upd.Subject != "Standup v2" || strings.Join(upd.Recipients, ",") != "bob@example.com" || strings.Join(upd.IDs, ",") != "series1" {
		t.Errorf("update: %+v", upd)
	}
	if resp.Tool != "respond_to_event" || resp.Outcome != audit.OutcomeOK || strings.Join(resp.Recipients, ",") != "bob@example.com" || resp.Subject != "Bob's review" || strings.Join(resp.IDs, ",") != "invite1" {
		t.Errorf("response: %+v", resp)
	}
	if del.Tool != "delete_event" || del.Outcome != audit.OutcomeOK || strings.Join(del.Recipients, ",") != "bob@example.com" || strings.Join(del.IDs, ",") != "series1" {
		t.Errorf("deletion: %+v", del)
	}
	all, _ := json.Marshal(log.recs)
	for _, secret := range []string{"SECRET AGENDA", "SECRET REASON"} {
		if strings.Contains(string(all), secret) {
			t.Errorf("the audit records hold %q: %s", secret, all)
		}
	}
}
