//go:build unix

package e2e

// Triage end to end, the same calls for a Google and a Microsoft account
// through the binary: list_labels, labels shown and taken by name,
// modify_messages with each action (the changes seen through
// list_messages), unknown ids reported without failing the rest, the
// limit of 1000 ids, contradictions and unknown labels refused, the
// upstream requests a change costs, and the audit record.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mailcal/mailcal/providers/google/googletest"
	"github.com/mailcal/mailcal/providers/microsoft/microsofttest"
)

const triageScopes = "mail.read,mail.modify"

// triageAccount is alice's account at one provider for the triage suite.
type triageAccount struct {
	*harness
	name      string
	s         *httpServer
	key       string // tenant a's API key
	c         *mcpclient.Client
	msgs      map[string]string // fixture key → message id
	foreign   string            // a message id of bob's mailbox: unknown in alice's
	badIDs    func(n int) []string
	roundTrip func() int // upstream HTTP requests so far
	// receipts is the name list_labels gives the fixtures' Receipts label
	// or folder; archive the label listing archived mail.
	receipts, archive, trash string
	audit                    string // the audit log's path
	after                    func(t *testing.T)
}

func triageGoogle(t *testing.T) *triageAccount {
	audit := filepath.Join(t.TempDir(), "audit.log")
	fx := newGoogleFixture(t, googletest.Options{}, "MAILCAL_AUDIT_LOG="+audit)
	f := fx.fg.LoadFixtures(alice)
	bf := fx.fg.LoadFixtures(bob)
	key, s, c := fx.connectAlice(t, triageScopes)
	return &triageAccount{
		harness: fx.harness, name: "google", s: s, key: key, c: c, msgs: f.Messages, foreign: bf.Messages["report"],
		badIDs: func(n int) []string {
			out := make([]string, n)
			for i := range out {
				out[i] = fmt.Sprintf("%016x", 0xf00000000000+i)
			}
			return out
		},
		roundTrip: func() int { return fx.fg.HTTPRequests("/") },
		receipts:  "Receipts", archive: "", trash: "TRASH", audit: audit,
	}
}

func triageMicrosoft(t *testing.T) *triageAccount {
	audit := filepath.Join(t.TempDir(), "audit.log")
	fx := newMicrosoftFixture(t, microsofttest.Options{}, "MAILCAL_AUDIT_LOG="+audit)
	f := fx.fm.LoadFixtures(alice)
	bf := fx.fm.LoadFixtures(bob)
	msgs := map[string]string{}
	for k, id := range f.Messages {
		msgs[k] = microsofttest.ImmutableID(id)
	}
	key := fx.addTenant(t, "a")
	s := fx.startHTTP(t)
	fx.connectHTTP(t, s, key, alice, triageScopes)
	c := mcpgoHTTP(t, s, "/mcp", "Authorization", "Bearer "+key, false)
	return &triageAccount{
		harness: fx.harness, name: "microsoft", s: s, key: key, c: c, msgs: msgs, foreign: microsofttest.ImmutableID(bf.Messages["report"]),
		badIDs: func(n int) []string {
			out := make([]string, n)
			for i := range out {
				out[i] = fmt.Sprintf("AAMkAGI2TG93AAA%08d", i)
			}
			return out
		},
		roundTrip: func() int { return fx.fm.HTTPRequests("/") },
		receipts:  "Inbox/Receipts", archive: "archive", trash: "deleteditems", audit: audit,
		after: func(t *testing.T) {
			// Batches run four requests at a time: Outlook's limit per
			// mailbox was never passed.
			if n, th := fx.fm.MaxConcurrentMailbox(alice), fx.fm.Throttled(alice); n > 4 || th != 0 {
				t.Errorf("up to %d requests at once for alice's mailbox, %d throttled; want at most 4 and none", n, th)
			}
		},
	}
}

func TestE2ETriage(t *testing.T) {
	t.Parallel()
	bothProviders(t, triageGoogle, triageMicrosoft, func(t *testing.T, a *triageAccount) {
		t.Run("labels", a.testLabels)
		t.Run("clients", a.testTriageClients)
		t.Run("modify", a.testModify)
		t.Run("limits", a.testModifyLimits)
		t.Run("audit", a.testModifyAudit)
		if a.after != nil {
			t.Run("after", a.after)
		}
	})
}

type ttLabel struct {
	Name   string `json:"name"`
	ID     string `json:"id"`
	Type   string `json:"type"`
	Unread *int   `json:"unread"`
	Total  *int   `json:"total"`
}

type ttModify struct {
	Changed     int      `json:"changed"`
	Asked       int      `json:"asked"`
	Unconfirmed bool     `json:"unconfirmed"`
	Actions     []string `json:"actions"`
	Failed      []struct {
		Reason string   `json:"reason"`
		IDs    []string `json:"ids"`
	} `json:"failed"`
}

func (r ttModify) failedIDs() []string {
	var out []string
	for _, f := range r.Failed {
		out = append(out, f.IDs...)
	}
	return out
}

var labelIDRE = regexp.MustCompile(`^Label_\d+$`)

func (a *triageAccount) labels(t *testing.T) map[string]ttLabel {
	t.Helper()
	var res struct {
		Labels []ttLabel `json:"labels"`
	}
	r := a.callOK(t, a.c, "list_labels", nil, &res)
	out := map[string]ttLabel{}
	for _, l := range res.Labels {
		out[strings.ToLower(l.Name)] = l
	}
	if !strings.Contains(r.text(), "Work") {
		t.Errorf("list_labels text lacks the Work label: %s", r.text())
	}
	return out
}

func (a *triageAccount) list(t *testing.T, args map[string]any) ttList {
	t.Helper()
	var l ttList
	if args == nil {
		args = map[string]any{}
	}
	args["max_results"] = 100
	a.callOK(t, a.c, "list_messages", args, &l)
	return l
}

func (a *triageAccount) modify(t *testing.T, args map[string]any) ttModify {
	t.Helper()
	var m ttModify
	a.callOK(t, a.c, "modify_messages", args, &m)
	return m
}

// testLabels: the mailbox's labels with types and counts, and labels shown
// by name, never by id, in listings and messages.
func (a *triageAccount) testLabels(t *testing.T) {
	ls := a.labels(t)
	work, receipts, inbox := ls["work"], ls[strings.ToLower(a.receipts)], ls["inbox"]
	wantWork, wantReceipts := map[string]string{"google": "user", "microsoft": "category"}[a.name], map[string]string{"google": "user", "microsoft": "folder"}[a.name]
	if work.Type != wantWork || receipts.Type != wantReceipts || inbox.ID == "" {
		t.Fatalf("list_labels: Work %+v, %s %+v, Inbox %+v; want Work a %s, %s a %s", work, a.receipts, receipts, inbox, wantWork, a.receipts, wantReceipts)
	}
	if inbox.Total == nil || inbox.Unread == nil || *inbox.Total == 0 || *inbox.Unread == 0 || *inbox.Unread > *inbox.Total {
		t.Errorf("inbox counts: %+v", inbox)
	}
	unread := a.list(t, map[string]any{"label": "inbox", "unread_only": true})
	if *inbox.Unread != len(unread.Messages) {
		t.Errorf("list_labels says %d unread in the inbox, list_messages lists %d", *inbox.Unread, len(unread.Messages))
	}
	for name, l := range ls {
		if labelIDRE.MatchString(l.Name) {
			t.Errorf("label %q shown by its id", name)
		}
	}
	// list_messages takes the name in any case and shows names.
	l := a.list(t, map[string]any{"label": "WORK"})
	if !slices.Contains(l.ids(), a.msgs["report"]) {
		t.Fatalf("label WORK does not list the report: %v", l.ids())
	}
	for _, m := range l.Messages {
		if !slices.Contains(m.Labels, "Work") || slices.ContainsFunc(m.Labels, labelIDRE.MatchString) {
			t.Errorf("row %s labels %v: want Work by name and no label id", m.ID, m.Labels)
		}
	}
	var msg struct {
		Labels []string `json:"labels"`
	}
	a.callOK(t, a.c, "get_message", map[string]any{"id": a.msgs["report"]}, &msg)
	if !slices.Contains(msg.Labels, "Work") || slices.ContainsFunc(msg.Labels, labelIDRE.MatchString) {
		t.Errorf("get_message labels %v: want Work by name", msg.Labels)
	}
	a.callFails(t, a.c, "list_messages", map[string]any{"label": "No such label"}, "No such label")
}

// testModify: each action, seen through list_messages; an unknown id
// reported without failing the rest; the upstream requests.
func (a *triageAccount) testModify(t *testing.T) {
	unread := a.list(t, map[string]any{"label": "inbox", "unread_only": true}).ids()
	if len(unread) < 5 {
		t.Fatalf("only %d unread messages in the inbox", len(unread))
	}
	before := a.roundTrip()
	m := a.modify(t, map[string]any{"ids": append(slices.Clone(unread), a.foreign, unread[0]), "mark_read": true})
	trips := a.roundTrip() - before
	switch a.name {
	case "google": // one batchModify, which passes over the unknown id without a word
		if m.Changed != len(unread)+1 || m.Asked != len(unread)+1 || !m.Unconfirmed || len(m.Failed) != 0 {
			t.Fatalf("mark_read of %d unread + one unknown id + a repeat: %+v", len(unread), m)
		}
	default:
		if m.Changed != len(unread) || m.Asked != len(unread)+1 || m.Unconfirmed || !slices.Equal(m.failedIDs(), []string{a.foreign}) || len(m.Failed) != 1 {
			t.Fatalf("mark_read of %d unread + one unknown id + a repeat: %+v", len(unread), m)
		}
	}
	t.Logf("%s: mark_read of %d ids (one unknown): %d upstream round trips", a.name, len(unread)+1, trips)
	if max := map[string]int{"google": 1, "microsoft": 2}[a.name]; trips > max {
		t.Errorf("mark_read of %d ids made %d upstream round trips, want at most %d", len(unread)+1, trips, max)
	}
	if left := a.list(t, map[string]any{"label": "inbox", "unread_only": true}); len(left.Messages) != 0 {
		t.Errorf("after mark_read, still unread: %v", left.ids())
	}
	some := unread[:3]
	if m := a.modify(t, map[string]any{"ids": some, "mark_unread": true}); m.Changed != 3 || len(m.Failed) != 0 {
		t.Errorf("mark_unread: %+v", m)
	}
	if got := a.list(t, map[string]any{"label": "inbox", "unread_only": true}).ids(); !sameSet(got, some) {
		t.Errorf("after mark_unread of %v, unread: %v", some, got)
	}
	// Labels by name, any case.
	if m := a.modify(t, map[string]any{"ids": some, "add_labels": []string{"work"}}); m.Changed != 3 {
		t.Errorf("add_labels: %+v", m)
	}
	if got := a.list(t, map[string]any{"label": "Work"}).ids(); !containsAll(got, some) {
		t.Errorf("after add_labels Work on %v, label Work lists %v", some, got)
	}
	if m := a.modify(t, map[string]any{"ids": some, "remove_labels": []string{"Work"}}); m.Changed != 3 {
		t.Errorf("remove_labels: %+v", m)
	}
	if got := a.list(t, map[string]any{"label": "Work"}).ids(); slices.ContainsFunc(some, func(id string) bool { return slices.Contains(got, id) }) {
		t.Errorf("after remove_labels Work on %v, label Work lists %v", some, got)
	}
	// Archive: out of the inbox, still in the mailbox.
	if m := a.modify(t, map[string]any{"ids": some[:2], "archive": true}); m.Changed != 2 {
		t.Errorf("archive: %+v", m)
	}
	inbox := a.list(t, map[string]any{"label": "inbox"}).ids()
	all := a.list(t, nil).ids()
	if slices.Contains(inbox, some[0]) || slices.Contains(inbox, some[1]) || !containsAll(all, some[:2]) {
		t.Errorf("after archive of %v: inbox %v, all mail %v", some[:2], inbox, all)
	}
	if a.archive != "" && !containsAll(a.list(t, map[string]any{"label": a.archive}).ids(), some[:2]) {
		t.Errorf("archived messages not in %s", a.archive)
	}
	// move_to the Receipts label or folder, by its (child) name.
	if m := a.modify(t, map[string]any{"ids": []string{some[2]}, "move_to": "receipts"}); m.Changed != 1 {
		t.Errorf("move_to: %+v", m)
	}
	if got := a.list(t, map[string]any{"label": a.receipts}).ids(); !slices.Contains(got, some[2]) {
		t.Errorf("after move_to receipts, %s lists %v", a.receipts, got)
	}
	if slices.Contains(a.list(t, map[string]any{"label": "inbox"}).ids(), some[2]) {
		t.Errorf("moved message still in the inbox")
	}
	// Trash: gone from the listing, in the trash; the id stays valid.
	if m := a.modify(t, map[string]any{"ids": []string{some[0]}, "trash": true}); m.Changed != 1 {
		t.Errorf("trash: %+v", m)
	}
	if slices.Contains(a.list(t, nil).ids(), some[0]) || !slices.Contains(a.list(t, map[string]any{"label": a.trash}).ids(), some[0]) {
		t.Errorf("trashed message %s: still listed, or not in %s", some[0], a.trash)
	}
	a.callOK(t, a.c, "get_message", map[string]any{"id": some[0]}, nil)
	// Several actions at once.
	if m := a.modify(t, map[string]any{"ids": []string{some[1]}, "mark_read": true, "add_labels": []string{"Work"}, "move_to": "INBOX"}); m.Changed != 1 {
		t.Errorf("mark_read + add_labels + move_to inbox: %+v", m)
	}
	back := a.list(t, map[string]any{"label": "Work"})
	if i := slices.Index(back.ids(), some[1]); i < 0 || back.Messages[i].Unread || !slices.Contains(a.list(t, map[string]any{"label": "inbox"}).ids(), some[1]) {
		t.Errorf("after mark_read + add_labels Work + move_to inbox, %s: %+v", some[1], back.Messages)
	}
}

// testModifyLimits: 1000 ids taken, 1001 refused; contradictions and
// unknown labels refused naming them.
func (a *triageAccount) testModifyLimits(t *testing.T) {
	ids := append(a.badIDs(999), a.msgs["report"])
	before := a.roundTrip()
	m := a.modify(t, map[string]any{"ids": ids, "mark_unread": true})
	t.Logf("%s: mark_unread of 1000 ids (999 unknown): %d upstream round trips", a.name, a.roundTrip()-before)
	switch a.name {
	case "google": // one batchModify for the 1000: Gmail passes over the unknown ones
		if m.Asked != 1000 || m.Changed != 1000 || !m.Unconfirmed || len(m.failedIDs()) != 0 {
			t.Errorf("1000 ids (999 unknown): %+v", m)
		}
	default:
		if m.Asked != 1000 || m.Changed != 1 || len(m.failedIDs()) != 999 || slices.Contains(m.failedIDs(), a.msgs["report"]) {
			t.Errorf("1000 ids (999 unknown): asked %d, changed %d, %d failed", m.Asked, m.Changed, len(m.failedIDs()))
		}
	}
	for _, g := range m.Failed {
		t.Logf("%s: %d ids failed: %s", a.name, len(g.IDs), g.Reason)
	}
	a.callFails(t, a.c, "modify_messages", map[string]any{"ids": append(ids, "one-more"), "mark_read": true}, "ids", "1000")
	a.callFails(t, a.c, "modify_messages", map[string]any{"ids": []string{a.msgs["report"]}, "mark_read": true, "mark_unread": true}, "mark_read", "mark_unread")
	a.callFails(t, a.c, "modify_messages", map[string]any{"ids": []string{a.msgs["report"]}, "trash": true, "move_to": "Receipts"}, "trash", "move_to")
	a.callFails(t, a.c, "modify_messages", map[string]any{"ids": []string{a.msgs["report"]}}, "at least one")
	a.callFails(t, a.c, "modify_messages", map[string]any{"ids": []string{a.msgs["report"]}, "add_labels": []string{"Nope"}}, "add_labels[0]", "Nope", "list_labels")
	a.callFails(t, a.c, "modify_messages", map[string]any{"ids": []string{a.msgs["report"]}, "move_to": "Nowhere"}, "move_to", "Nowhere", "list_labels")
}

// testModifyAudit: one audit line per modify_messages call with the ids
// and the actions.
func (a *triageAccount) testModifyAudit(t *testing.T) {
	a.modify(t, map[string]any{"ids": []string{a.msgs["report"]}, "mark_read": true, "add_labels": []string{"Work"}})
	f, err := os.Open(a.audit)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var last map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r map[string]any
		if json.Unmarshal(sc.Bytes(), &r) == nil && r["tool"] == "modify_messages" {
			last = r
		}
	}
	raw, _ := json.Marshal(last)
	if last == nil || last["outcome"] != "ok" || !strings.Contains(string(raw), a.msgs["report"]) ||
		!strings.Contains(string(raw), `"mark_read"`) || !strings.Contains(string(raw), `"add_labels:Work"`) {
		t.Errorf("audit record of modify_messages: %s", raw)
	}
}

func sameSet(a, b []string) bool {
	return len(a) == len(b) && containsAll(a, b)
}

func containsAll(set, want []string) bool {
	for _, w := range want {
		if !slices.Contains(set, w) {
			return false
		}
	}
	return true
}

// testTriageClients: the official Go SDK's client and the Inspector get
// what mcp-go gets from list_labels, and the Go SDK's from modify_messages
// (repeated: the same state, the same answer).
func (a *triageAccount) testTriageClients(t *testing.T) {
	want := a.callOK(t, a.c, "list_labels", nil, nil)
	cs := sdkHTTP(t, a.s, "/mcp", "Authorization", "Bearer "+a.key)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	same := func(who string, got, want wireResult) {
		t.Helper()
		var x, y any
		json.Unmarshal(got.StructuredContent, &x)
		json.Unmarshal(want.StructuredContent, &y)
		if got.IsError || !reflect.DeepEqual(x, y) {
			t.Errorf("%s: %s, want %s", who, got.StructuredContent, want.StructuredContent)
		}
	}
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "list_labels"})
	if err != nil {
		t.Fatalf("go-sdk list_labels: %v", err)
	}
	same("go-sdk list_labels", asWire[wireResult](t, "go-sdk", res), want)
	args := map[string]any{"ids": []any{a.msgs["report"]}, "add_labels": []any{"Work"}}
	res, err = cs.CallTool(ctx, &sdk.CallToolParams{Name: "modify_messages", Arguments: args})
	if err != nil {
		t.Fatalf("go-sdk modify_messages: %v", err)
	}
	same("go-sdk modify_messages", asWire[wireResult](t, "go-sdk", res), a.callOK(t, a.c, "modify_messages", args, nil))
	n := needNPM(t)
	out, code := n.inspectorCLI(t, a.k, "--server-url", a.s.base+"/mcp", "--transport", "http", "--header", "Authorization: Bearer "+a.key,
		"--method", "tools/call", "--tool-name", "list_labels")
	a.leaks.record("inspector list_labels", string(out))
	if code != 0 {
		t.Fatalf("inspector tools/call exited %d", code)
	}
	same("inspector list_labels", asWire[wireResult](t, "inspector", inspectorResult(t, out)), want)
}
