package fixturetest

import (
	"fmt"
	"html"
	"strings"
	"time"
)

// Conversation is a conversation of n messages between the owner of email
// and Bob, Carol and Dave, a minute apart, ending at end: each reply
// answers the one before and quotes the whole history below its text as
// Gmail writes it (plain text with "On … wrote:" and "> " lines, HTML with
// gmail_quote), so that a reader that keeps the quotes reads the
// conversation again and again. For benchmarks and tests that need a long
// thread; the keys are "conv-1" to "conv-n".
func Conversation(n int, email string, end time.Time) []Message {
	people := []string{Address("Bob Builder", Bob), Address(Owner, email), Address("Carol Chen", Carol), Address("Dave Davis", Dave)}
	topics := []string{"the budget", "the timeline", "the venue", "the catering", "the agenda", "the speakers", "the invitations", "the travel", "the badges", "the follow-up"}
	var out []Message
	var plainHistory, htmlHistory, refs string
	for i := range n {
		from := people[i%len(people)]
		text := fmt.Sprintf("Thanks for the update. About %s: I checked with the team this morning and we can go ahead as planned, "+
			"provided we confirm the numbers by Thursday. Let me know if anything changes on your side.\n\n%s",
			topics[i%len(topics)], strings.SplitN(from, " ", 2)[0])
		m := Message{Key: fmt.Sprintf("conv-%d", i+1), Ago: time.Duration(n-i) * time.Minute, From: from,
			To: people[(i+1)%len(people)], Subject: "Planning the summit", Folder: Inbox,
			MessageID: fmt.Sprintf("<conv-%d.%d@mail.example.com>", i+1, end.Unix())}
		if i > 0 {
			m.Subject = "Re: Planning the summit"
			m.InReplyTo = fmt.Sprintf("<conv-%d.%d@mail.example.com>", i, end.Unix())
			refs = strings.TrimSpace(refs + " " + m.InReplyTo)
			m.References = refs
		}
		plain, htm := text, "<div dir=\"ltr\">"+strings.ReplaceAll(html.EscapeString(text), "\n", "<br>")+"</div>"
		if i > 0 {
			prev := out[i-1]
			attr := fmt.Sprintf("On %s, %s wrote:", end.Add(-prev.Ago).Format("Mon, 2 Jan 2006 at 15:04"), prev.From)
			plain += "\n\n" + attr + "\n" + quoteLines(plainHistory)
			htm += `<br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">` + html.EscapeString(attr) +
				`<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">` + htmlHistory + `</blockquote></div>`
		}
		m.Root = Multi("alternative", Plain(plain), HTML(htm))
		plainHistory, htmlHistory = plain, htm
		out = append(out, m)
	}
	return out
}

func quoteLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l == "" || strings.HasPrefix(l, ">") {
			lines[i] = ">" + l
		} else {
			lines[i] = "> " + l
		}
	}
	return strings.Join(lines, "\n")
}
