package classifier

import (
	"slices"
	"strings"
	"testing"
)

func TestTokeniser(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		text    string
		bigrams bool
		want    []string
	}{
		{"empty", "", false, nil},
		{"only punctuation", "... !!! -- ?", false, nil},
		{"lower-cases", "NATO Troops", false, []string{"nato", "troops"}},
		{"keeps digits and years", "In 2024, 3 jets", false, []string{"2024", "jets"}},
		{"keeps hyphenated weapons", "F-35 and S-400 buys", false, []string{"f-35", "s-400", "buys"}},
		{"keeps alphanumerics", "COP27 in Egypt", false, []string{"cop27", "egypt"}},
		{"drops stop words and single letters", "the army of a state", false, []string{"army", "state"}},
		{"hyphen at the edge is not part of a word", "-cease- fire", false, []string{"cease", "fire"}},
		{"unicode letters", "Ελλάδα İstanbul Zürich", false, []string{"ελλάδα", "istanbul", "zürich"}},
		{"combining marks stay in the word", "Cafe\u0301 talk", false, []string{"cafe\u0301", "talk"}},
		{"cjk runs", "東京 選挙", false, []string{"東京", "選挙"}},
		{"possessive is split off", "Iran's nuclear", false, []string{"iran", "nuclear"}},
		{"bigrams within a sentence", "West Bank settlers", true, []string{"west", "bank", "west bank", "settlers", "bank settlers"}},
		{"bigrams skip stop words", "minister of defence", true, []string{"minister", "defence", "minister defence"}},
		{"no bigram across a sentence", "polling station. Voters", true, []string{"polling", "station", "polling station", "voters"}},
		{"no bigram across a dropped token", "gaza x city", true, []string{"gaza", "city"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := NewTokeniser(tc.bigrams).Tokenise(tc.text)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Tokenise(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
}

func TestTokeniserHugeWord(t *testing.T) {
	t.Parallel()
	text := strings.Repeat("a", 1<<20) + " troops"
	tok := NewTokeniser(true)
	got := tok.Tokenise(text)
	if !slices.Equal(got, []string{"troops"}) {
		t.Errorf("Tokenise(1 MB word + troops) = %d tokens %.40q, want [troops]", len(got), got)
	}
	var buf []byte
	tok.scan(text, &buf, func([]byte, tokenKey, bool) {})
	if cap(buf) > 4*maxTokenBytes {
		t.Errorf("scratch grew to %d bytes for one huge word; want at most %d", cap(buf), 4*maxTokenBytes)
	}
}

// TestScanKey checks that the key scan computes while it reads a token is
// the key the lexicon was built with for the token it emits.
func TestScanKey(t *testing.T) {
	t.Parallel()
	text := "F-35 jets, COP27 Zürich İstanbul Ελλάδα 東京 re-elected MPs' vote 2024"
	var buf []byte
	n := 0
	NewTokeniser(true).scan(text, &buf, func(tok []byte, key tokenKey, _ bool) {
		n++
		if want := keyOf(string(tok)); key != want {
			t.Errorf("token %q: scan key %x, keyOf %x", tok, key, want)
		}
	})
	if n < 10 {
		t.Errorf("scan emitted %d tokens, want at least 10", n)
	}
}
