package quoted

import (
	"strings"
	"testing"
)

// The conversation the tests' replies quote.
const (
	first  = "Hi Alice,\n\nlet's kick off Project Phoenix next week. I'd suggest Tuesday 10:00.\nAgenda: scope, timeline, staffing.\n\nCheers,\nBob"
	second = "Tuesday works for me. Adding Carol.\n\nAlice"
)

func corpus(texts ...string) *Corpus {
	c := NewCorpus()
	for _, t := range texts {
		c.Add(t)
	}
	return c
}

func TestText(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
		earlier          []string
	}{
		{"gmail plain reply", "Tuesday works for me. Adding Carol.\n\nAlice\n\nOn Mon, 2 Mar 2026 at 09:12, Bob Builder <bob@example.com> wrote:\n> Hi Alice,\n>\n> let's kick off Project Phoenix next week. I'd suggest Tuesday\n> 10:00.\n> Agenda: scope, timeline, staffing.\n>\n> Cheers,\n> Bob\n",
			"Tuesday works for me. Adding Carol.\n\nAlice", []string{first}},
		{"gmail attribution wrapped on two lines", "Sounds good.\n\nOn Mon, 2 Mar 2026 at 09:12, Bob Builder <\nbob@example.com> wrote:\n\n> Hi Alice,\n> let's kick off Project Phoenix next week.\n",
			"Sounds good.", []string{first}},
		{"german gmail", "Passt.\n\nAm Mo., 2. März 2026 um 09:12 Uhr schrieb Bob Builder <bob@example.com>:\n> Hi Alice,\n> let's kick off Project Phoenix next week.\n",
			"Passt.", []string{first}},
		{"french", "D'accord.\n\nLe lun. 2 mars 2026 à 09:12, Bob Builder <bob@example.com> a écrit :\n> Agenda: scope, timeline, staffing.\n",
			"D'accord.", []string{first}},
		{"apple mail plain", "Count me in.\n\nCarol\n\n> On 2 Mar 2026, at 11:40, Alice <alice@example.com> wrote:\n> \n> Tuesday works for me. Adding Carol.\n> \n> Alice\n",
			"Count me in.\n\nCarol", []string{first, second}},
		{"thunderbird nested", "See you then.\n\nOn 02.03.26 11:40, Alice wrote:\n> Tuesday works for me. Adding Carol.\n>\n> On Mon, Bob Builder wrote:\n>> Hi Alice,\n>> let's kick off Project Phoenix next week. I'd suggest Tuesday 10:00.\n",
			"See you then.", []string{first, "Tuesday works for me. Adding Carol.\n\nAlice\n\nOn Mon, Bob Builder wrote:\n> Hi Alice,\n> let's kick off Project Phoenix next week. I'd suggest Tuesday 10:00.\n"}},
		{"outlook plain header block", "Works for me.\n\nDave\n\n________________________________\nFrom: Bob Builder <bob@example.com>\nSent: Monday, March 2, 2026 9:12 AM\nTo: Alice <alice@example.com>\nSubject: Project Phoenix kickoff\n\nHi Alice,\n\nlet's kick off Project Phoenix next week. I'd suggest Tuesday 10:00.\nAgenda: scope, timeline, staffing.\n\nCheers,\nBob\n",
			"Works for me.\n\nDave", []string{first}},
		{"outlook original message, german fields", "Ja.\n\n-----Ursprüngliche Nachricht-----\nVon: Bob Builder <bob@example.com>\nGesendet: Montag, 2. März 2026 09:12\nAn: Alice <alice@example.com>\nBetreff: Project Phoenix kickoff\n\nHi Alice,\nlet's kick off Project Phoenix next week.\n",
			"Ja.", []string{first}},
		{"inline answers kept", "On Mon, Bob Builder wrote:\n> let's kick off Project Phoenix next week. I'd suggest Tuesday 10:00.\nTuesday is fine.\n> Agenda: scope, timeline, staffing.\nAdd budget, please.\n\nAlice",
			"Tuesday is fine.\n> […]\nAdd budget, please.\n\nAlice", []string{first}},
		{"a quote the earlier messages lack is kept", "Look at this:\n\nOn Sun, Eve wrote:\n> The venue is booked for Thursday.",
			"Look at this:\n\nOn Sun, Eve wrote:\n> The venue is booked for Thursday.", []string{first}},
		{"an edited quote keeps the edited line", "Fixed the time:\n\nOn Mon, Bob Builder wrote:\n> let's kick off Project Phoenix next week. I'd suggest Tuesday 10:00.\n> Agenda: scope, timeline, staffing, budget and risks.\n",
			"Fixed the time:\n\nOn Mon, Bob Builder wrote:\n> Agenda: scope, timeline, staffing, budget and risks.", []string{first}},
		{"a forward is never cut", "FYI\n\n---------- Forwarded message ---------\nFrom: Bob Builder <bob@example.com>\nDate: Mon, 2 Mar 2026\nSubject: Project Phoenix kickoff\nTo: Alice <alice@example.com>\n\nHi Alice,\nlet's kick off Project Phoenix next week.",
			"FYI\n\n---------- Forwarded message ---------\nFrom: Bob Builder <bob@example.com>\nDate: Mon, 2 Mar 2026\nSubject: Project Phoenix kickoff\nTo: Alice <alice@example.com>\n\nHi Alice,\nlet's kick off Project Phoenix next week.", []string{first}},
		{"header block over new text is kept", "See below.\n\nFrom: Eve\nSent: Sunday\nTo: Alice\nSubject: Venue\n\nThe venue is booked for Thursday.",
			"See below.\n\nFrom: Eve\nSent: Sunday\nTo: Alice\nSubject: Venue\n\nThe venue is booked for Thursday.", []string{first}},
		{"first message: nothing earlier", first, first, nil},
		{"a line starting with > that is not a quote", "x > y\n5 > 3 is true", "x > y\n5 > 3 is true", []string{first}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, n := Text(tc.body, corpus(tc.earlier...))
			if got != tc.want {
				t.Fatalf("got\n%q\nwant\n%q", got, tc.want)
			}
			if tc.body == tc.want && n != 0 {
				t.Fatalf("removed %d characters of an unchanged body", n)
			}
			if tc.body != tc.want && (n <= 0 || n > len([]rune(tc.body))) {
				t.Fatalf("removed %d characters", n)
			}
		})
	}
}

func TestHTML(t *testing.T) {
	for _, tc := range []struct {
		name, body  string
		want, gone  []string
		earlier     []string
		wantRemoved bool
	}{
		{"gmail", `<div dir="ltr">Tuesday works for me. Adding Carol.<div><br></div><div>Alice</div></div><br><div class="gmail_quote gmail_quote_container"><div dir="ltr" class="gmail_attr">On Mon, 2 Mar 2026 at 09:12, Bob Builder &lt;<a href="mailto:bob@example.com">bob@example.com</a>&gt; wrote:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex"><div dir="ltr">Hi Alice,<br><br>let's kick off Project Phoenix next week. I'd suggest Tuesday 10:00.<br>Agenda: scope, timeline, staffing.<br><br>Cheers,<br>Bob</div></blockquote></div>`,
			[]string{"Tuesday works for me", "Alice"}, []string{"kick off", "wrote", "Cheers"}, []string{first}, true},
		{"outlook web", `<html><body><div style="font-family:Aptos">Works for me.</div><div>Dave</div><div id="appendonsend"></div><hr style="display:inline-block;width:98%" tabindex="-1"><div id="divRplyFwdMsg" dir="ltr"><font face="Calibri"><b>From:</b> Bob Builder &lt;bob@example.com&gt;<br><b>Sent:</b> Monday, March 2, 2026 9:12 AM<br><b>To:</b> Alice &lt;alice@example.com&gt;<br><b>Subject:</b> Project Phoenix kickoff</font><div>&nbsp;</div></div><div>Hi Alice,<br><br>let's kick off Project Phoenix next week. I'd suggest Tuesday 10:00.<br>Agenda: scope, timeline, staffing.<br><br>Cheers,<br>Bob</div></body></html>`,
			[]string{"Works for me.", "Dave"}, []string{"From:", "kick off", "Cheers"}, []string{first}, true},
		{"outlook desktop (no marker)", `<div class="WordSection1"><p class="MsoNormal">Works for me.</p><div><div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class="MsoNormal"><b>From:</b> Bob Builder &lt;bob@example.com&gt;<br><b>Sent:</b> Monday, March 2, 2026 9:12 AM<br><b>To:</b> Alice<br><b>Subject:</b> Project Phoenix kickoff</p></div></div><p class="MsoNormal">Hi Alice,</p><p class="MsoNormal">let's kick off Project Phoenix next week. I'd suggest Tuesday 10:00.</p></div>`,
			[]string{"Works for me."}, []string{"From:", "kick off"}, []string{first}, true},
		{"apple mail", `<html><body dir="auto">Count me in.<div><br></div><div>Carol<br><div dir="ltr"><br><blockquote type="cite">On 2 Mar 2026, at 11:40, Alice &lt;alice@example.com&gt; wrote:<br><br></blockquote></div><blockquote type="cite"><div dir="ltr">Tuesday works for me. Adding Carol.<br><br>Alice</div></blockquote></div></body></html>`,
			[]string{"Count me in.", "Carol"}, []string{"Tuesday works", "wrote"}, []string{first, second}, true},
		{"thunderbird", `<html><body><p>See you then.</p><div class="moz-cite-prefix">On 02.03.26 11:40, Alice wrote:<br></div><blockquote type="cite" cite="mid:phoenix-2@example.com">Tuesday works for me. Adding Carol.<br><br>Alice</blockquote></body></html>`,
			[]string{"See you then."}, []string{"Tuesday works", "wrote"}, []string{first, second}, true},
		{"apple mail inline answers", `<html><body dir="auto"><blockquote type="cite">let's kick off Project Phoenix next week.</blockquote><div>Tuesday is fine.</div><blockquote type="cite">Agenda: scope, timeline, staffing.</blockquote><div>Add budget, please.</div></body></html>`,
			[]string{"Tuesday is fine.\n" + Marker + "\nAdd budget, please."}, []string{"kick off", "Agenda"}, []string{first}, true},
		{"inline answer inside the blockquote is kept", `<p>Answers inline.</p><blockquote type="cite">let's kick off Project Phoenix next week.<br><b>ALICE: Tuesday is fine.</b><br>Agenda: scope, timeline, staffing.</blockquote>`,
			[]string{"Answers inline.", "ALICE: Tuesday is fine."}, []string{"kick off", "Agenda"}, []string{first}, true},
		{"quote of a message outside the conversation", `<p>Look:</p><div class="gmail_quote">On Sun, Eve wrote:<blockquote class="gmail_quote">The venue is booked for Thursday.</blockquote></div>`,
			[]string{"Look:", "venue is booked"}, nil, []string{first}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, n := HTML(tc.body, corpus(tc.earlier...))
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q missing from\n%s", w, got)
				}
			}
			for _, g := range tc.gone {
				if strings.Contains(got, g) {
					t.Errorf("%q left in\n%s", g, got)
				}
			}
			if (n > 0) != tc.wantRemoved {
				t.Errorf("removed %d characters", n)
			}
		})
	}
}

func TestCorpusContains(t *testing.T) {
	c := corpus(first)
	for line, want := range map[string]bool{
		"> let's kick off Project":          true,
		"PROJECT PHOENIX next week.":        true, // case and punctuation aside
		"next week. I'd suggest":            true, // across a line break of the original
		"Phoenix next month":                false,
		"Bob":                               true,
		"Carol":                             false,
		"> >":                               true,
		"staffing. Cheers, Bob":             true,
		"kick off Project Phoenix [3] next": true, // link markers aside
	} {
		if got := c.Contains(line); got != want {
			t.Errorf("Contains(%q) = %v", line, got)
		}
	}
	if NewCorpus().Contains("anything") || !NewCorpus().Contains("  ") {
		t.Error("an empty corpus contains nothing but lines without words")
	}
}

func TestAttributions(t *testing.T) {
	for _, line := range []string{
		"On Mon, 2 Mar 2026 at 09:12, Bob Builder <bob@example.com> wrote:",
		"On 02.03.26 11:40, Alice wrote:",
		"On 2 Mar 2026, at 11:40, Alice <alice@example.com> wrote:",
		"Am Mo., 2. März 2026 um 09:12 Uhr schrieb Bob Builder <bob@example.com>:",
		"Le lun. 2 mars 2026 à 09:12, Bob Builder <bob@example.com> a écrit :",
		"El lun, 2 mar 2026 a las 9:12, Bob Builder (<bob@example.com>) escribió:",
		"Il giorno lun 2 mar 2026 alle ore 09:12 Bob Builder <bob@example.com> ha scritto:",
		"Op ma 2 mrt 2026 om 09:12 schreef Bob Builder <bob@example.com>:",
		"Em seg., 2 de mar. de 2026 às 09:12, Bob Builder <bob@example.com> escreveu:",
		"Den mån 2 mars 2026 kl 09:12 skrev Bob Builder <bob@example.com>:",
		"pon., 2 mar 2026 o 09:12 Bob Builder <bob@example.com> napisał(a):",
		"пн, 2 мар. 2026 г. в 09:12, Bob Builder <bob@example.com>:",
		"2026年3月2日(月) 9:12 Bob Builder <bob@example.com>:",
		"Bob Builder <bob@example.com> 于2026年3月2日周一 09:12写道：",
	} {
		body := "Fine.\n\n" + line + "\n> Hi Alice,\n> let's kick off Project Phoenix next week.\n"
		got, _ := Text(body, corpus(first))
		if got != "Fine." {
			t.Errorf("%q: left %q", line, got)
		}
	}
	for _, line := range []string{"Note: see below", "Remember what Bob wrote about it", "Subject: the plan"} {
		body := "Fine.\n\n" + line + "\n> Hi Alice,\n"
		if got, _ := Text(body, corpus(first)); !strings.Contains(got, line) {
			t.Errorf("%q was taken for an attribution: %q", line, got)
		}
	}
}
