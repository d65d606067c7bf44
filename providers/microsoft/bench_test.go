package microsoft

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mailcal/mailcal/providers"
)

// BenchmarkListMessages20 lists 20 messages while the fake Graph adds 50 ms
// to every request. It reports the wall time of one List over that latency
// (one request a page once the account's folders are known: target ≤ 1.3)
// and the bytes per message of the line list_messages renders for it
// (id | date | sender | subject | flags | snippet, as tools/mail.go cuts
// them: target ≤ 250).
//
//	go test -run '^$' -bench BenchmarkListMessages20 -benchtime 20x ./providers/microsoft/
func BenchmarkListMessages20(b *testing.B) {
	f := newFake(b)
	serveFolders(f)
	f.on("GET /me/messages", func(w http.ResponseWriter, r *http.Request) {
		var v []any
		for i := range 20 {
			m := graphMessage(i, idInbox, i%3 == 0)
			m["subject"] = fmt.Sprintf("Re: Quarterly numbers for the planning meeting, draft %d", i)
			m["bodyPreview"] = "Hi Alice, attached are the figures we discussed on Tuesday; could you have a look before Friday's review and tell me what you think?"
			v = append(v, m)
		}
		writeJSON(w, 200, map[string]any{"value": v, "@odata.nextLink": f.base() + "/me/messages?%24skip=20"})
	})
	mb := mustMail(b, newAPI(b, f))
	ctx := context.Background()
	if _, err := mb.List(ctx, providers.MessageQuery{MaxResults: 20}); err != nil { // the account's folders
		b.Fatal(err)
	}
	const latency = 50 * time.Millisecond
	f.mu.Lock()
	f.latency = latency
	f.mu.Unlock()
	var textBytes, rows int
	b.ResetTimer()
	start := time.Now()
	n := 0
	for b.Loop() {
		page, err := mb.List(ctx, providers.MessageQuery{MaxResults: 20})
		if err != nil || len(page.Messages) != 20 {
			b.Fatal(err, len(page.Messages))
		}
		for _, m := range page.Messages {
			textBytes += len(listLine(m)) + 1
			rows++
		}
		n++
	}
	b.ReportMetric(float64(time.Since(start))/float64(n)/float64(latency), "latency-multiples")
	b.ReportMetric(float64(textBytes)/float64(rows), "text-bytes/message")
}

// listLine is the line tools renders for a listed message (its
// messagesText), for the benchmark's byte count.
func listLine(m providers.MessageSummary) string {
	var flags []string
	if m.Unread {
		flags = append(flags, "unread")
	}
	if m.HasAttachments {
		flags = append(flags, "att")
	}
	from := m.From
	if i := strings.Index(from, " <"); i > 0 && strings.HasSuffix(from, ">") {
		from = strings.Trim(from[:i], `"`)
	}
	return fmt.Sprintf("%s | %s | %s | %s | %s | %s", m.ID, m.Date.Format("2006-01-02 15:04"), cut(from, 32), cut(m.Subject, 70), strings.Join(flags, ","), cut(m.Snippet, 60))
}

func cut(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return strings.TrimSpace(string(r[:n-1])) + "…"
	}
	return s
}
