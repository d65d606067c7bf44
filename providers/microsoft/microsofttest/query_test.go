package microsofttest

import (
	"slices"
	"strings"
	"testing"
)

// subjects lists the subjects of a collection answer.
func subjects(a answer) []string {
	var out []string
	for _, v := range a.values() {
		out = append(out, str(v["subject"]))
	}
	return out
}

// all follows @odata.nextLink to the end and returns every item and the
// number of pages.
func (m *mailTest) all(first string, headers ...string) ([]map[string]any, int) {
	m.t.Helper()
	var items []map[string]any
	pages := 0
	for next := first; next != ""; pages++ {
		a := m.get(next, headers...)
		if a.status != 200 || pages > 100 {
			m.t.Fatalf("page %d: %d %s", pages, a.status, a.raw)
		}
		items = append(items, a.values()...)
		next = str(a.body["@odata.nextLink"])
	}
	return items, pages
}

func TestPaging(t *testing.T) {
	m := newMailTest(t)
	a := m.get("/me/messages")
	if len(a.values()) != 10 || !strings.Contains(str(a.body["@odata.nextLink"]), "%24skip=10") || a.body["@odata.count"] != nil ||
		!strings.HasSuffix(str(a.body["@odata.context"]), "/messages") {
		t.Fatalf("default page: %d items, %v", len(a.values()), a.body["@odata.nextLink"])
	}
	// Every message once, newest first, the query kept in the links.
	items, pages := m.all("/me/messages" + q("$top", "7", "$select", "subject,receivedDateTime"))
	if len(items) != 34 || pages != 5 {
		t.Fatalf("%d items in %d pages", len(items), pages)
	}
	seen := map[string]bool{}
	for i, it := range items {
		if seen[str(it["id"])] || it["body"] != nil || i > 0 && str(it["receivedDateTime"]) > str(items[i-1]["receivedDateTime"]) {
			t.Fatalf("item %d: %v", i, it)
		}
		seen[str(it["id"])] = true
	}
	a = m.get("/me/mailFolders/inbox/messages" + q("$count", "true", "$top", "2", "$skip", "2"))
	if a.body["@odata.count"] != 27.0 || len(a.values()) != 2 || !strings.Contains(str(a.body["@odata.nextLink"]), "%24skip=4") {
		t.Fatalf("$count %v, %d items, %v", a.body["@odata.count"], len(a.values()), a.body["@odata.nextLink"])
	}
	if a := m.get("/me/messages" + q("$skip", "1000")); a.status != 200 || len(a.values()) != 0 || a.body["@odata.nextLink"] != nil {
		t.Fatalf("past the end: %s", a.raw)
	}
	for _, c := range []struct{ query, code string }{
		{q("$top", "0"), "ErrorInvalidUrlQuery"}, {q("$top", "1001"), "ErrorInvalidUrlQuery"}, {q("$top", "ten"), "BadRequest"},
		{q("$skip", "-1"), "BadRequest"}, {q("$count", "maybe"), "BadRequest"}, {q("$expand", "attachment"), "RequestBroker--ParseUri"},
		{q("$select", "subject,shoeSize"), "RequestBroker--ParseUri"}, {q("$frobnicate", "1"), "BadRequest"},
		{q("$orderby", "body desc"), "BadRequest"}, {q("$orderby", "shoeSize"), "RequestBroker--ParseUri"},
	} {
		wantError(t, m.get("/me/messages"+c.query), 400, c.code)
	}
	if a := m.get("/me/messages" + q("$top", "1000")); a.status != 200 || len(a.values()) != 34 {
		t.Fatalf("$top=1000: %d", a.status)
	}
}

func TestFilter(t *testing.T) {
	m := newMailTest(t)
	count := func(filter string) int {
		t.Helper()
		items, _ := m.all("/me/messages" + q("$filter", filter, "$top", "100"))
		return len(items)
	}
	for filter, want := range map[string]int{
		"isRead eq false":                                  11,
		"isRead eq false and importance eq 'high'":         2,
		"not isRead":                                       11,
		"hasAttachments eq true":                           6,
		"categories/any(c:c eq 'Work')":                    2,
		"categories/any(c:c eq 'work')":                    2,
		"from/emailAddress/address eq 'carol@example.com'": 3,
		"toRecipients/any(r:r/emailAddress/address eq 'carol@example.com')":                     1,
		"receivedDateTime ge 2026-03-26T10:00:00Z":                                              8,
		"receivedDateTime ge 2026-03-20T00:00:00Z and receivedDateTime lt 2026-03-25T00:00:00Z": 8,
		"startswith(subject,'Re:')":                                                             7,
		"contains(subject,'phoenix')":                                                           3,
		"flag/flagStatus eq 'flagged'":                                                          1,
		"inferenceClassification eq 'other' or isRead eq false":                                 18,
		"(importance eq 'high')":                                                                3,
		"conversationId eq '" + m.fx.Conversations["lunch"] + "'":                               2,
		"conversationId eq '" + m.fx.Conversations["offsite"] + "'":                             4,
		"subject eq 'let''s meet'":                                                              0,
	} {
		if got := count(filter); got != want {
			t.Errorf("$filter=%s: %d messages, want %d", filter, got, want)
		}
	}
	for filter, code := range map[string]string{
		"isRead eq":                           "BadRequest",
		"isRead eq 'false'":                   "BadRequest",
		"receivedDateTime ge '2026-03-26'":    "BadRequest",
		"shoeSize eq 42":                      "RequestBroker--ParseUri",
		"endswith(subject,'draft')":           "ErrorInvalidUrlQueryFilter",
		"contains(body/content,'x')":          "ErrorInvalidUrlQueryFilter",
		"categories/all(c:c eq 'Work')":       "ErrorInvalidUrlQueryFilter",
		"subject eq 'unterminated":            "BadRequest",
		"toRecipients eq 'carol@example.com'": "BadRequest",
	} {
		wantError(t, m.get("/me/messages"+q("$filter", filter)), 400, code)
	}
	// With $orderby the properties sorted on come first in $filter, in the
	// same order (user-list-messages).
	ok := m.get("/me/messages" + q("$filter", "receivedDateTime ge 2026-03-01T00:00:00Z and isRead eq false", "$orderby", "receivedDateTime desc"))
	if ok.status != 200 || len(ok.values()) != 10 {
		t.Fatalf("filter and orderby: %d %s", ok.status, ok.raw)
	}
	for _, c := range [][2]string{
		{"isRead eq false", "receivedDateTime desc"},
		{"isRead eq false and receivedDateTime ge 2026-03-01T00:00:00Z", "receivedDateTime desc"},
		{"receivedDateTime ge 2026-03-01T00:00:00Z and subject eq 'x'", "subject,receivedDateTime"},
	} {
		wantError(t, m.get("/me/messages"+q("$filter", c[0], "$orderby", c[1])), 400, "InefficientFilter")
	}
	a := m.get("/me/messages" + q("$orderby", "subject", "$top", "3", "$select", "subject"))
	if got := subjects(a); len(got) != 3 || got[0] != "[go-nuts] generics question: type sets and methods" {
		t.Fatalf("$orderby subject: %v", got)
	}
}

func TestSearch(t *testing.T) {
	m := newMailTest(t)
	search := func(kql string) []string {
		t.Helper()
		items, _ := m.all("/me/messages" + q("$search", kql, "$top", "5", "$select", "subject,sentDateTime"))
		var out []string
		for i, it := range items {
			if i > 0 && str(it["sentDateTime"]) > str(items[i-1]["sentDateTime"]) {
				t.Fatalf("search results not newest first: %v", items)
			}
			out = append(out, str(it["subject"]))
		}
		return out
	}
	for kql, want := range map[string][]string{
		`"from:dave"`:                                {"Q3 report draft"},
		`"subject:phoenix from:carol"`:               {"Re: Project Phoenix kickoff"},
		`"phoenix"`:                                  {"Re: Project Phoenix kickoff", "Re: Project Phoenix kickoff", "Project Phoenix kickoff"},
		`"attachment:beach"`:                         {"Photos from the weekend"},
		`"\"staffing plan\""`:                        {"Re: Project Phoenix kickoff"},
		`"lunch OR logo"`:                            {"Re: Lunch on Friday?", "Lunch on Friday?", "New logo proposal"},
		`"received>=2026-03-27 hasAttachments:true"`: {"Q3 report draft"},
		`"cc:carol NOT lunch"`:                       {"Re: Project Phoenix kickoff", "Team offsite logistics"},
		`"to:carol"`:                                 {"Re: Lunch on Friday?"},
		`"participants:jane@example.com"`:            {"Team offsite logistics"},
		`"xylophone"`:                                nil,
	} {
		if got := search(kql); !slices.Equal(got, want) {
			t.Errorf("$search=%s: %q, want %q", kql, got, want)
		}
	}
	// Paging a search: opaque $skiptoken links, bound to their query.
	items, pages := m.all("/me/messages" + q("$search", `"alice"`, "$top", "4"))
	if len(items) < 5 || pages < 2 {
		t.Fatalf("search paging: %d items in %d pages", len(items), pages)
	}
	first := m.get("/me/messages" + q("$search", `"alice"`, "$top", "4"))
	next := str(first.body["@odata.nextLink"])
	if !strings.Contains(next, "%24skiptoken=") || strings.Contains(next, "%24skip=") {
		t.Fatalf("nextLink %s", next)
	}
	token := next[strings.Index(next, "%24skiptoken=")+len("%24skiptoken="):]
	wantError(t, m.get("/me/messages"+q("$search", `"bob"`, "$skiptoken", token)), 400, "BadRequest")
	wantError(t, m.get("/me/messages"+q("$search", `"alice"`, "$skiptoken", "Zm9yZ2Vk")), 400, "BadRequest")
	wantError(t, m.get("/me/messages"+q("$search", `"alice"`, "$orderby", "receivedDateTime desc")), 400, "SearchWithOrderBy")
	wantError(t, m.get("/me/messages"+q("$search", `"alice"`, "$filter", "isRead eq false")), 400, "SearchWithFilter")
	wantError(t, m.get("/me/calendars"+q("$search", `"x"`)), 400, "BadRequest")
}
