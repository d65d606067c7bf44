package quoted

import (
	"hash/maphash"
	"regexp"
	"strings"
	"unicode"
)

// Corpus is what the earlier messages of a conversation say, as word
// sequences: a line of a later message is "contained" in it when every run
// of three words of the line (two or one for shorter lines) occurs in the
// earlier messages. Word runs survive what mail clients do to quoted text:
// re-wrapping, "> " markers, nesting, HTML turned into text. The zero value
// is empty and usable.
type Corpus struct {
	grams map[uint64]struct{}
	seed  maphash.Seed
}

// NewCorpus returns an empty corpus.
func NewCorpus() *Corpus { return &Corpus{} }

// Add adds an earlier message's text (its whole text, quoted history
// included: a reply may quote that too).
func (c *Corpus) Add(text string) {
	if c.grams == nil {
		c.grams = map[uint64]struct{}{}
		c.seed = maphash.MakeSeed()
	}
	// Runs span line breaks: a client re-wraps quoted text.
	c.addWords(words(text))
}

func (c *Corpus) addWords(w []string) {
	for n := 1; n <= 3; n++ {
		for i := 0; i+n <= len(w); i++ {
			c.grams[c.hash(w[i:i+n])] = struct{}{}
		}
	}
}

func (c *Corpus) hash(w []string) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	for _, s := range w {
		h.WriteString(s)
		h.WriteByte(0)
	}
	return h.Sum64()
}

// Contains reports whether a line's words all occur, in order, in the
// earlier messages (runs of three words; a line of one or two words must
// occur as it is). A line without words (blank, punctuation, "> >") is
// contained.
func (c *Corpus) Contains(line string) bool {
	w := words(line)
	if len(w) == 0 {
		return true
	}
	if c.grams == nil {
		return false
	}
	n := min(3, len(w))
	for i := 0; i+n <= len(w); i++ {
		if _, ok := c.grams[c.hash(w[i:i+n])]; !ok {
			return false
		}
	}
	return true
}

// linkMarker is htmltext's "[n]" marker of a link: its number differs
// between a message and a quote of it.
var linkMarker = regexp.MustCompile(`\[\d{1,4}\]`)

// words are a text's words: runs of letters and digits, lower case.
func words(s string) []string {
	s = linkMarker.ReplaceAllString(s, " ")
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}
