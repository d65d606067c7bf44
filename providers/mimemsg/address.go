package mimemsg

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/mailcal/mailcal/providers"
)

// MaxAddressBytes is the longest email address accepted (RFC 5321's limit
// on a forward path, less its angle brackets).
const MaxAddressBytes = 254

// ParseAddress parses one mailbox: "Name <local@domain>", "<local@domain>"
// or "local@domain", with net/mail's grammar (RFC 5322, RFC 6532 UTF-8;
// RFC 2047 encoded-words in the name are decoded). It is strict: no line
// breaks or other control characters anywhere (before or after decoding),
// exactly one address (no lists, no groups), a non-empty local part and
// domain, at most MaxAddressBytes. Domains are taken as given ("a@b" and
// IDN domains are accepted, as net/mail accepts them).
//
// The result renders back with FormatAddress to a string that parses to
// the same Address.
func ParseAddress(s string) (providers.Address, error) {
	if s == "" {
		return providers.Address{}, notAddress(s, "it is empty")
	}
	if why := badText(s, false); why != "" {
		return providers.Address{}, notAddress(s, why)
	}
	if strings.TrimSpace(s) == "" {
		return providers.Address{}, notAddress(s, "it is empty")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		why := strings.ReplaceAll(err.Error(), "mail: ", "")
		switch {
		case strings.HasPrefix(strings.ToLower(strings.TrimSpace(s)), "mailto:"):
			why = "leave out the mailto: prefix"
		case strings.HasPrefix(why, "expected single address") || strings.Contains(why, "group") || why == "expected comma":
			why = "give exactly one address per entry"
		case !strings.Contains(s, "@"):
			why = "it has no @"
		case why == "missing '@' or angle-addr" || why == "no angle-addr":
			why = "expected local@domain or Name <local@domain>"
		}
		return providers.Address{}, notAddress(s, why)
	}
	out := providers.Address{Name: a.Name, Email: a.Address}
	if err := checkAddress(out); err != nil {
		return providers.Address{}, notAddress(s, err.Error())
	}
	// Only what renders back faithfully is accepted, so that the address a
	// caller validated is the address that is sent.
	back, err := mail.ParseAddress(formatAddress(out))
	if err != nil || back.Name != out.Name || back.Address != out.Email {
		return providers.Address{}, notAddress(s, "it cannot be rendered back faithfully")
	}
	return out, nil
}

// ParseAddressList parses each entry of in with ParseAddress. Errors name
// the field and the index: `to[2]: "x" is not an email address: ...`.
func ParseAddressList(field string, in []string) ([]providers.Address, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]providers.Address, 0, len(in))
	for i, s := range in {
		a, err := ParseAddress(s)
		if err != nil {
			return nil, &FieldError{Field: fmt.Sprintf("%s[%d]", field, i), Msg: err.Error()}
		}
		out = append(out, a)
	}
	return out, nil
}

// FormatAddress renders a validated address as it appears in a header,
// unfolded: `"Name" <local@domain>`, `=?utf-8?q?...?= <local@domain>` for
// names that are not printable ASCII, or `local@domain` without a name.
func FormatAddress(a providers.Address) (string, error) {
	if err := checkAddress(a); err != nil {
		return "", err
	}
	return formatAddress(a), nil
}

func formatAddress(a providers.Address) string {
	return strings.Join(addressTokens(a), " ")
}

// checkAddress validates a providers.Address: the name has no control
// characters, the email is a bare addr-spec in net/mail's form (the one
// ParseAddress returns) that round-trips.
func checkAddress(a providers.Address) error {
	if why := badText(a.Name, false); why != "" {
		return fmt.Errorf("the display name %s", strings.TrimPrefix(why, "it "))
	}
	e := a.Email
	if e == "" {
		return errors.New("the email address is empty")
	}
	if why := badText(e, false); why != "" {
		return fmt.Errorf("the email address %s", strings.TrimPrefix(why, "it "))
	}
	if len(e) > MaxAddressBytes {
		return fmt.Errorf("the email address is %d bytes long; at most %d are allowed", len(e), MaxAddressBytes)
	}
	at := strings.LastIndexByte(e, '@')
	if at <= 0 || at == len(e)-1 {
		return fmt.Errorf("%s is not an email address (local@domain)", quoteShort(e))
	}
	spec := addrSpec(e)
	p, err := mail.ParseAddress(spec)
	if err != nil || p.Name != "" || p.Address != e {
		return fmt.Errorf("%s is not an email address (local@domain)", quoteShort(e))
	}
	return nil
}

// addrSpec renders an email address (net/mail's Address.Address form) as
// an addr-spec, quoting the local part when it needs it.
func addrSpec(e string) string {
	s := (&mail.Address{Address: e}).String() // "<local@domain>"
	return s[1 : len(s)-1]
}

// addressTokens renders an address as header tokens (joined by single
// spaces, folded only between tokens).
func addressTokens(a providers.Address) []string {
	spec := addrSpec(a.Email)
	if a.Name == "" {
		return []string{spec}
	}
	return append(phraseTokens(a.Name), "<"+spec+">")
}

// phraseTokens renders a display name: a quoted-string when it is short
// printable ASCII, else RFC 2047 encoded-words (restricted to the
// characters allowed in a phrase).
func phraseTokens(name string) []string {
	if printableASCII(name) && !strings.Contains(name, "=?") {
		var b strings.Builder
		b.WriteByte('"')
		for i := 0; i < len(name); i++ {
			if name[i] == '"' || name[i] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(name[i])
		}
		b.WriteByte('"')
		// A quoted-string is not folded inside, so it must fit a line.
		if b.Len() <= maxLine-len("From: ")-4 {
			return []string{b.String()}
		}
	}
	return encodedWords(name)
}

func notAddress(s, why string) error {
	if why == "" {
		return fmt.Errorf("%s is not an email address", quoteShort(s))
	}
	return fmt.Errorf("%s is not an email address: %s", quoteShort(s), why)
}

// quoteShort quotes s for an error message, cut to a readable length.
func quoteShort(s string) string {
	const max = 100
	if len(s) <= max {
		return fmt.Sprintf("%q", s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q…", s[:cut])
}

// badText says what is wrong with s as header text, or "". Line breaks,
// NUL and other C0 controls and DEL are refused (a tab too unless
// allowTab), and so is invalid UTF-8.
func badText(s string, allowTab bool) string {
	if !utf8.ValidString(s) {
		return "it is not valid UTF-8"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\r' || c == '\n':
			return "it contains a line break (CR or LF)"
		case c == 0:
			return "it contains a NUL character"
		case c == '\t' && allowTab:
		case c < 0x20 || c == 0x7f:
			return fmt.Sprintf("it contains a control character (%U)", rune(c))
		}
	}
	return ""
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
