// Package quoted removes from a message of a conversation the history it
// quotes of the earlier messages: "> " lines and their "On … wrote:"
// attribution (in the common languages and clients), Outlook's
// "From: … Sent: … To: … Subject:" header blocks with their
// "-----Original Message-----" or "______" separators, and in HTML bodies
// Gmail's gmail_quote, Apple Mail's and Thunderbird's
// <blockquote type="cite">, Outlook's divRplyFwdMsg and appendonsend.
//
// It never removes text the earlier messages do not contain: every line of
// what it would remove is looked up in a Corpus of the earlier messages'
// texts, so a reply that answers between quotes keeps its answers, and a
// forwarded message or a quote of mail outside the conversation stays.
package quoted

import (
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Marker stands in for a quote removed between two parts of a reply that
// answers inline.
const Marker = "> […]"

// attribution matches the line a client writes above a quote ("On Mon,
// 1 Jan 2024 at 10:00, Bob <bob@example.com> wrote:"), wrapped lines
// joined: English, German, French, Spanish, Italian, Dutch, Portuguese,
// Scandinavian, Polish, Russian, Japanese and Chinese forms, and any line
// that ends with the sender's <address> and a colon.
var attribution = regexp.MustCompile(`(?i)^\s*(?:` +
	`(?:on|am|le|el|il|op|em|den|dnia|w dniu)\s.{2,300}?(?:wrote|schrieb|a écrit|escribió|ha scritto|schreef|escreveu|skrev|napisał\(a\)|napisała|napisał)\b[^:：]{0,200}` +
	`|.{2,300}?(?:wrote|schrieb|a écrit|escribió|ha scritto|schreef|escreveu|skrev|napisał\(a\)|napisała|napisał|пишет|написал\(а\)|написала|написал|写道|のメッセージ|さんは書きました)` +
	// Gmail in Russian, Japanese and others: a date, then the sender's
	// address and a colon.
	`|.{2,300}?<[^<>@\s]+@[^<>\s]+>` +
	`)\s*[:：]\s*$`)

// separator is the line above an Outlook header block.
var separator = regexp.MustCompile(`(?i)^\s*(?:-{3,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original|messaggio originale|oorspronkelijk bericht|mensagem original|originalmeddelande|oprindelig meddelelse|opprinnelig melding|wiadomość oryginalna)\s*-{3,}|_{20,})\s*$`)

// forwarded is the line above a forwarded message's headers: what follows
// is new to the conversation, never a quote of it.
var forwarded = regexp.MustCompile(`(?i)^\s*-{3,}\s*(?:forwarded message|weitergeleitete nachricht|message transféré|mensaje reenviado|messaggio inoltrato|doorgestuurd bericht|mensagem encaminhada)\s*-{3,}\s*$|^\s*begin forwarded message:\s*$`)

// fromField and headerField are the fields of a header block, Outlook's
// bold "*From:*" included.
var (
	fromField   = regexp.MustCompile(`(?i)^\s*\*?(?:from|von|de|van|da|från|fra|od|от)\s*\*?\s*:\s*\*?\s*\S`)
	headerField = regexp.MustCompile(`(?i)^\s*\*?(?:from|sent|date|to|cc|bcc|subject|von|gesendet|datum|an|betreff|de|envoyé|date|à|objet|enviado|fecha|para|asunto|inviato|data|a|oggetto|van|verzonden|aan|onderwerp|från|skickat|till|ämne|fra|sendt|til|emne|od|wysłano|do|temat|от|отправлено|кому|тема)\s*\*?\s*:`)
	subjectLike = regexp.MustCompile(`(?i)^\s*\*?(?:subject|betreff|objet|asunto|oggetto|onderwerp|ämne|emne|temat|тема)\s*\*?\s*:`)
)

// Text removes the quoted history of the earlier messages from a
// plain-text body, and says how many characters it removed.
func Text(body string, earlier *Corpus) (string, int) {
	orig := strings.Split(body, "\n")
	lines := cutHeaderBlock(orig, earlier)
	lines = cutQuoteBlocks(lines, earlier)
	if slices.Equal(lines, orig) {
		return body, 0
	}
	out := tidy(lines)
	return out, max(0, utf8.RuneCountInString(body)-utf8.RuneCountInString(out))
}

// cutHeaderBlock removes an Outlook-style quote: a header block (From, Sent
// or Date, To, Subject), with the separator line above it, and everything
// after it, when all of that is in the earlier messages.
func cutHeaderBlock(lines []string, earlier *Corpus) []string {
	for i := 0; i < len(lines); i++ {
		if !fromField.MatchString(lines[i]) {
			continue
		}
		end, ok := headerEnd(lines, i)
		if !ok {
			continue
		}
		start := i
		if p := prevNonBlank(lines, i); p >= 0 {
			if forwarded.MatchString(lines[p]) {
				continue
			}
			if separator.MatchString(lines[p]) {
				start = p
			}
		}
		rest := lines[end:]
		if !hasWords(rest) || !allContained(rest, earlier) {
			continue
		}
		return lines[:start]
	}
	return lines
}

// headerEnd finds the end of a header block starting at i: at least three
// fields within ten lines, one of them the subject; the block ends at the
// first line that is not a field (or a wrapped field's continuation).
func headerEnd(lines []string, i int) (int, bool) {
	fields, subject := 1, false
	j := i + 1
	for ; j < len(lines) && j < i+12; j++ {
		l := lines[j]
		switch {
		case headerField.MatchString(l):
			fields++
			subject = subject || subjectLike.MatchString(l)
		case strings.TrimSpace(l) == "":
			return j, fields >= 3 && subject
		case j > i && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")):
			// a folded field
		default:
			return j, fields >= 3 && subject
		}
	}
	return j, fields >= 3 && subject
}

// cutQuoteBlocks removes the "> " lines that the earlier messages contain.
// A block removed whole takes its attribution line with it; a block removed
// between two parts of an inline answer leaves Marker.
func cutQuoteBlocks(lines []string, earlier *Corpus) []string {
	out := make([]string, 0, len(lines))
	for i := 0; i < len(lines); {
		if !isQuote(lines[i]) {
			out = append(out, lines[i])
			i++
			continue
		}
		j := i
		for j < len(lines) && (isQuote(lines[j]) || strings.TrimSpace(lines[j]) == "" && j+1 < len(lines) && isQuote(lines[j+1])) {
			j++
		}
		var kept []string
		whole := true
		for _, l := range lines[i:j] {
			t := strings.TrimLeft(l, "> \t")
			switch {
			case len(words(t)) == 0:
				kept = append(kept, l) // goes only with the whole quote
			case !earlier.Contains(t):
				kept = append(kept, l)
				// An attribution inside the quote (Apple Mail's "> On …
				// wrote:") goes with it.
				whole = whole && attribution.MatchString(t)
			}
		}
		switch {
		case !hasWords(lines[i:j]):
			// Nothing but quote markers: kept as it is.
			out = append(out, lines[i:j]...)
		case !whole:
			// The lines the earlier messages lack stay.
			out = append(out, kept...)
		default:
			out = dropAttribution(out)
			if hasWords(lines[j:]) && hasWords(out) {
				out = append(out, Marker)
			}
		}
		i = j
	}
	return out
}

func isQuote(l string) bool { return strings.HasPrefix(strings.TrimLeft(l, " \t"), ">") }

// dropAttribution removes the attribution line (one, or two when wrapped)
// above a removed quote, and the blank lines between.
func dropAttribution(out []string) []string {
	p := prevNonBlank(out, len(out))
	if p < 0 {
		return out
	}
	if p > 0 && strings.TrimSpace(out[p-1]) != "" && attribution.MatchString(strings.TrimSpace(out[p-1])+" "+strings.TrimSpace(out[p])) {
		return out[:p-1]
	}
	if attribution.MatchString(out[p]) {
		return out[:p]
	}
	return out
}

func prevNonBlank(lines []string, i int) int {
	for p := i - 1; p >= 0; p-- {
		if strings.TrimSpace(lines[p]) != "" {
			return p
		}
	}
	return -1
}

func hasWords(lines []string) bool {
	for _, l := range lines {
		if len(words(l)) > 0 {
			return true
		}
	}
	return false
}

// allContained: every line of a quote (its own headers and attribution
// lines aside) is in the earlier messages.
func allContained(lines []string, earlier *Corpus) bool {
	for _, l := range lines {
		t := strings.TrimLeft(l, "> \t")
		if headerField.MatchString(t) || separator.MatchString(t) || attribution.MatchString(t) {
			continue
		}
		if !earlier.Contains(t) {
			return false
		}
	}
	return true
}

// tidy joins lines, at most two blank lines in a row, trailing blanks and
// spaces trimmed.
func tidy(lines []string) string {
	var b strings.Builder
	blank := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " \t\r")
		if l == "" {
			blank++
			if blank > 2 {
				continue
			}
		} else {
			blank = 0
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return strings.TrimRight(b.String(), "\n \t")
}
