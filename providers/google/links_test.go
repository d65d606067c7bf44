package google

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

// urlish matches what a reader would count as URL text in a body: full
// URLs, [n] markers and shortened hosts.
var urlish = regexp.MustCompile(`(?:https?://|mailto:)\S+|\[\d+\]|\S+/…`)

func urlShare(s string) float64 {
	n := 0
	for _, m := range urlish.FindAllString(s, -1) {
		n += len(m)
	}
	return float64(n) / float64(len(s))
}

// TestNewsletterLinks reads a realistic newsletter through the Gmail API,
// as HTML and as plain text: the body keeps every link's text, spends
// little on URLs, and the message lists every link with its full URL.
func TestNewsletterLinks(t *testing.T) {
	s := fake(t)
	mb := mustMail(t, provider(t, s), connect(t, s, alice, allScopes...), alice)
	for _, c := range []struct{ file, contentType string }{
		{"../htmltext/testdata/newsletter.html", "text/html; charset=utf-8"},
		{"../htmltext/testdata/newsletter.txt", "text/plain; charset=utf-8"},
	} {
		body, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		id := s.AddMessage(alice, rawMsg(map[string]string{"From": "news@example.com", "To": alice, "Subject": "News",
			"Date": date(1), "MIME-Version": "1.0", "Content-Type": c.contentType}, string(body)))
		m, err := mb.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		share := urlShare(m.BodyText)
		t.Logf("%s: body %d bytes, %.1f%% URLs, %d links", c.file, len(m.BodyText), 100*share, len(m.Links))
		if share > 0.15 {
			t.Errorf("%s: URLs are %.0f%% of the body text, want at most 15%%", c.file, 100*share)
		}
		if len(m.Links) < 10 {
			t.Fatalf("%s: %d links listed", c.file, len(m.Links))
		}
		for _, l := range m.Links {
			if !strings.HasPrefix(l.URL, "http") && !strings.HasPrefix(l.URL, "mailto:") {
				t.Errorf("link %d: %q is not a full URL", l.N, l.URL)
			}
			if l.Text != "" && !strings.Contains(m.BodyText, l.Text) {
				t.Errorf("link %d's text %q is not in the body", l.N, l.Text)
			}
		}
	}
}
