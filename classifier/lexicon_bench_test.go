package classifier

import (
	"strings"
	"testing"
)

// BenchmarkLexiconVsMap looks up every word of the 4.5 KB seed article in
// the default model's vocabulary three ways, to decide whether the
// hand-written lexicon still earns its keep against Go's built-in map
// (Swiss tables since Go 1.24):
//
//   - lexicon: the scorer's table, with the token key the tokeniser
//     computes while it scans (so its cost is already paid);
//   - lexicon+key: the same, computing the key here;
//   - map: map[string]int32 indexed with string(tok), which the compiler
//     does without allocating.
func BenchmarkLexiconVsMap(b *testing.B) {
	m, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	seed := secondSeed(b)
	var toks [][]byte
	var keys []tokenKey
	m.tok.ForEachIn(strings.ToLower(seed.Title+" "+seed.Text), func(tok string) {
		if !strings.Contains(tok, " ") { // unigrams: what the lexicon holds
			toks = append(toks, []byte(tok))
			keys = append(keys, keyOf(tok))
		}
	})
	words := make(map[string]int32, len(m.terms)+len(m.tok.StopWords))
	for id, t := range m.terms {
		if !strings.Contains(t, " ") {
			words[t] = int32(id)
		}
	}
	for w := range m.tok.StopWords {
		words[w] = stopWord
	}
	// Both must agree, or the comparison means nothing.
	for i, tok := range toks {
		id, ok := m.words.lookup(tok, keys[i])
		mid, mok := words[string(tok)]
		if ok != mok || (ok && id != mid) {
			b.Fatalf("%q: lexicon %d %t, map %d %t", tok, id, ok, mid, mok)
		}
	}
	var sink int32
	b.Run("lexicon", func(b *testing.B) {
		for b.Loop() {
			for i, tok := range toks {
				id, _ := m.words.lookup(tok, keys[i])
				sink += id
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(toks)), "ns/lookup")
	})
	b.Run("lexicon+key", func(b *testing.B) {
		for b.Loop() {
			for _, tok := range toks {
				id, _ := m.words.lookup(tok, keyOf(string(tok)))
				sink += id
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(toks)), "ns/lookup")
	})
	b.Run("map", func(b *testing.B) {
		for b.Loop() {
			for _, tok := range toks {
				sink += words[string(tok)]
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(toks)), "ns/lookup")
	})
	_ = sink
}
