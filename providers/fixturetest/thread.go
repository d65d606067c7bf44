package fixturetest

import (
	"html"
	"image/color"
	"time"
)

// The "offsite" conversation: four messages, read and filed in the inbox
// (or sent), older than the rest of the mailbox, each reply quoting the
// history the way a different mail client does: Gmail (plain text with
// "On … wrote:" and an HTML gmail_quote), Outlook on the web (a
// "From: … Sent: …" header block in text, divRplyFwdMsg in HTML) and Apple
// Mail answering inline between quotes (blockquote type="cite"). The first
// message carries a CSV (windows-1252), a PDF and a PNG.
const (
	offsiteFirst  = "Hi Alice, hi Bob,\n\nI found three venues for the team offsite in June.\nThe lake house has room for 40 people and a big garden.\nThe city loft is cheaper but has no parking.\nThe old mill is the most beautiful but far from the station.\n\nDetails and prices are in the attached sheet, the floor plan is in the PDF.\n\nEve"
	offsiteSecond = "Thanks Eve! The lake house sounds best to me.\nCan we get a quote for two nights?\n\nAlice"
	offsiteThird  = "Agreed on the lake house. I asked them for a quote: 4,200 EUR for two nights, breakfast included.\n\nBob"
)

// OffsiteCSV, OffsitePDFText and OffsitePNG are the first message's
// attachments' content (the CSV as its text, windows-1252 on the wire).
const (
	OffsiteCSV     = "venue;seats;price per night\nLake house;40;2 100 €\nCity loft;30;1 400 €\nOld mill;35;1 900 €\n"
	OffsitePDFText = "Floor plan: main hall 120 m2, garden terrace"
)

// OffsitePNG is the photo attached to the first message.
var OffsitePNG = PNG(40, 30, color.RGBA{34, 139, 34, 255})

func offsiteThread(me string) []Message {
	const (
		eve = "Eve Adams <eve@example.com>"
		bob = "Bob Builder <" + Bob + ">"
	)
	d := 24 * time.Hour
	first := Message{Key: "offsite-1", Ago: 50 * d, From: eve, To: "{me}, " + bob, Subject: "Offsite venue options", MessageID: "<offsite-1.EVE@mail.example.com>",
		Folder: Inbox, Category: Personal,
		Root: Multi("mixed",
			Multi("alternative", Plain(offsiteFirst),
				HTML(`<div dir="ltr"><p>Hi Alice, hi Bob,</p><p>I found three venues for the team offsite in June.<br>The lake house has room for 40 people and a big garden.<br>The city loft is cheaper but has no parking.<br>The old mill is the most beautiful but far from the station.</p><p>Details and prices are in the attached sheet, the floor plan is in the PDF.</p><p>Eve</p></div>`)),
			Part{ContentType: `text/csv; charset="windows-1252"; name="venues.csv"`, Encoding: "base64", Disposition: `attachment; filename="venues.csv"`,
				Body: []byte("venue;seats;price per night\r\nLake house;40;2 100 \x80\r\nCity loft;30;1 400 \x80\r\nOld mill;35;1 900 \x80\r\n")},
			Attachment("application/pdf", "floor-plan.pdf", PDF(OffsitePDFText)),
			Attachment("image/png", "lake-house.png", OffsitePNG))}
	second := Message{Key: "offsite-2", Ago: 50*d - 3*time.Hour, From: me, To: eve, Cc: bob, Subject: "Re: Offsite venue options", MessageID: "<offsite-2.ALICE@mail.gmail.com>",
		InReplyTo: "<offsite-1.EVE@mail.example.com>", References: "<offsite-1.EVE@mail.example.com>", Folder: Sent,
		Root: Multi("alternative",
			Plain(offsiteSecond+"\n\nOn Mon, 12 Oct 2026 at 09:14, Eve Adams <eve@example.com> wrote:\n\n> Hi Alice, hi Bob,\n>\n> I found three venues for the team offsite in June.\n> The lake house has room for 40 people and a big garden.\n> The city loft is cheaper but has no parking.\n> The old mill is the most beautiful but far from the station.\n>\n> Details and prices are in the attached sheet, the floor plan is in the\n> PDF.\n>\n> Eve\n"),
			HTML(`<div dir="ltr">Thanks Eve! The lake house sounds best to me.<div>Can we get a quote for two nights?</div><div><br></div><div>Alice</div></div><br><div class="gmail_quote gmail_quote_container"><div dir="ltr" class="gmail_attr">On Mon, 12 Oct 2026 at 09:14, Eve Adams &lt;<a href="mailto:eve@example.com">eve@example.com</a>&gt; wrote:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex"><div dir="ltr"><p>Hi Alice, hi Bob,</p><p>I found three venues for the team offsite in June.<br>The lake house has room for 40 people and a big garden.<br>The city loft is cheaper but has no parking.<br>The old mill is the most beautiful but far from the station.</p><p>Details and prices are in the attached sheet, the floor plan is in the PDF.</p><p>Eve</p></div></blockquote></div>`))}
	third := Message{Key: "offsite-3", Ago: 50*d - 5*time.Hour, From: bob, To: "{me}, " + eve, Subject: "RE: Offsite venue options", MessageID: "<offsite-3.BOB@outlook.example.com>",
		InReplyTo: "<offsite-2.ALICE@mail.gmail.com>", References: "<offsite-1.EVE@mail.example.com> <offsite-2.ALICE@mail.gmail.com>", Folder: Inbox, Category: Personal,
		Root: Multi("alternative",
			Plain(offsiteThird+"\n\n________________________________\nFrom: "+me+"\nSent: Monday, October 12, 2026 12:20 PM\nTo: Eve Adams <eve@example.com>\nCc: Bob Builder <bob@example.com>\nSubject: Re: Offsite venue options\n\n"+offsiteSecond+"\n"),
			HTML(`<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body><div style="font-family:Aptos,sans-serif">Agreed on the lake house. I asked them for a quote: 4,200 EUR for two nights, breakfast included.</div><div><br></div><div>Bob</div><div id="appendonsend"></div><hr style="display:inline-block;width:98%" tabindex="-1"><div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt"><b>From:</b> `+html.EscapeString(me)+`<br><b>Sent:</b> Monday, October 12, 2026 12:20 PM<br><b>To:</b> Eve Adams &lt;eve@example.com&gt;<br><b>Cc:</b> Bob Builder &lt;bob@example.com&gt;<br><b>Subject:</b> Re: Offsite venue options</font><div>&nbsp;</div></div><div dir="ltr">Thanks Eve! The lake house sounds best to me.<div>Can we get a quote for two nights?</div><div><br></div><div>Alice</div></div></body></html>`))}
	fourth := Message{Key: "offsite-4", Ago: 50*d - 7*time.Hour, From: eve, To: "{me}, " + bob, Subject: "Re: Offsite venue options", MessageID: "<offsite-4.EVE@icloud.example.com>",
		InReplyTo: "<offsite-3.BOB@outlook.example.com>", References: "<offsite-1.EVE@mail.example.com> <offsite-2.ALICE@mail.gmail.com> <offsite-3.BOB@outlook.example.com>",
		Folder: Inbox, Category: Personal,
		Root: Multi("alternative",
			Plain("On 12 Oct 2026, at 14:05, Bob Builder <bob@example.com> wrote:\n\n> Agreed on the lake house. I asked them for a quote: 4,200 EUR for two nights, breakfast included.\n\nGreat, that fits the budget. I'll book it today.\n\n> Bob\n\nI'll send the invitation next week.\n\nEve"),
			HTML(`<html><body dir="auto"><blockquote type="cite">Agreed on the lake house. I asked them for a quote: 4,200 EUR for two nights, breakfast included.</blockquote><div>Great, that fits the budget. I'll book it today.</div><blockquote type="cite">Bob</blockquote><div>I'll send the invitation next week.</div><div><br></div><div>Eve</div></body></html>`))}
	return []Message{first, second, third, fourth}
}

// OffsiteReplies are the offsite replies' own texts, what a reader of the
// conversation should see of them once their quotes are removed.
var OffsiteReplies = []string{offsiteSecond, offsiteThird, "Great, that fits the budget. I'll book it today.", "I'll send the invitation next week."}
