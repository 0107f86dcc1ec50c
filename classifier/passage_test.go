package classifier

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// referencePassages computes the best of the whole-text and passage scores
// the slow way, from the tokeniser's terms through the vocabulary, the IDF
// and the stored coefficients: every window of m.window content words
// starting at a multiple of m.stride, and the last window ending at the
// last word.
func referencePassages(m *Model, title, text string) []float64 {
	index := make(map[string]int, len(m.terms))
	for id, t := range m.terms {
		index[t] = id
	}
	type posTerm struct{ pos, id int }
	var terms []posTerm
	pos := -1
	m.tok.ForEachIn(docText(title, text), func(term string) {
		if !strings.Contains(term, " ") {
			pos++ // a content word; a bigram follows the word that ends it
		}
		if id, ok := index[term]; ok {
			terms = append(terms, posTerm{pos, id})
		}
	})
	n := pos + 1
	L := len(m.meta.Labels)
	scoreOf := func(from, to int) []float64 {
		counts := map[int]int{}
		for _, pt := range terms {
			if pt.pos >= from && pt.pos < to {
				counts[pt.id]++
			}
		}
		var norm2 float64
		for id, c := range counts {
			v := (1 + math.Log(float64(c))) * m.idf[id]
			norm2 += v * v
		}
		out := slices.Clone(m.bias)
		for id, c := range counts {
			v := (1 + math.Log(float64(c))) * m.idf[id] / math.Sqrt(norm2)
			for l := range L {
				out[l] += v * m.coef[id*L+l]
			}
		}
		return out
	}
	best := scoreOf(0, n)
	if n <= m.window {
		return best
	}
	starts := []int{n - m.window}
	for from := 0; from+m.window <= n; from += m.stride {
		starts = append(starts, from)
	}
	for _, from := range starts {
		for l, s := range scoreOf(from, from+m.window) {
			best[l] = max(best[l], s)
		}
	}
	return best
}

// TestPassageScoresMatchReference checks the one-pass passage scorer
// against referencePassages on long texts built from the corpus, at
// several window lengths, and on short ones.
func TestPassageScoresMatchReference(t *testing.T) {
	t.Parallel()
	tr := mustCorpusModel(t)
	var texts []string
	for k := 0; k+12 < len(tr.samples); k += 97 {
		var b strings.Builder
		for _, s := range tr.samples[k : k+1+k%12] {
			b.WriteString(s.Text)
			b.WriteString("\n\n")
		}
		texts = append(texts, b.String())
	}
	data, err := tr.model.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, window := range []int{2, 7, 40, 60, 500} {
		m, err := Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		m.meta.Options.PassageWords = window
		m.compile()
		for i, text := range texts {
			got := m.rawScores("A title", text).best
			want := referencePassages(m, "A title", text)
			for l := range got {
				if math.Abs(got[l]-want[l]) > 1e-9 {
					t.Fatalf("window %d, text %d (%d bytes), label %s: best score %v, reference %v",
						window, i, len(text), m.meta.Labels[l], got[l], want[l])
				}
			}
		}
	}
}

// TestPassageFindsTopicInLongText checks that a topic filling one part of a
// long text raises that label's best score above its whole-text score, and
// that a long text on none of the topics does not.
func TestPassageFindsTopicInLongText(t *testing.T) {
	t.Parallel()
	opts := smallOptions()
	opts.PassageWords = 12
	m, err := Train(context.Background(), smallSamples(), opts)
	if err != nil {
		t.Fatal(err)
	}
	filler := strings.Repeat("The chef opened a restaurant downtown and the band announced a tour. Shares rose as the bank reported profit. ", 8)
	war := "Troops shelled the town as the army advanced. Missile strike hits army base. Soldiers killed in rebel attack. "
	tests := []struct {
		name      string
		text      string
		wantAbove bool
	}{
		{"topic among filler", filler + war + filler, true},
		{"filler only", filler + filler, false},
	}
	l := slices.Index(m.meta.Labels, "war")
	for _, tc := range tests {
		s := m.rawScores("", tc.text)
		if above := s.best[l] > s.whole[l]+0.5; above != tc.wantAbove {
			t.Errorf("%s: best passage score %.2f, whole %.2f; want best clearly above whole: %v", tc.name, s.best[l], s.whole[l], tc.wantAbove)
		}
	}
}

// TestSynthesizeLong checks that synthetic long articles are built from one
// fold each and join it, carry the label set of their topic block, and are
// the same for the same seed.
func TestSynthesizeLong(t *testing.T) {
	t.Parallel()
	samples := smallSamples()
	opts := smallOptions()
	opts.SyntheticLong = 1
	build := func() (*dataset, []int) {
		d, _, err := newDataset(samples, opts.Folds)
		if err != nil {
			t.Fatal(err)
		}
		return d, synthesizeLong(d, assignFolds(d.truth, opts.Folds, opts.Seed), opts)
	}
	d, fold := build()
	if got, want := len(d.docs)-d.real, len(samples); got != want || len(fold) != len(d.docs) {
		t.Fatalf("%d synthetic articles and %d folds for %d documents, want %d and one fold each", got, len(fold), len(d.docs), want)
	}
	byText := map[string]int{}
	for i := range d.real {
		byText[d.texts[i]] = i
	}
	positives := 0
	for i := d.real; i < len(d.docs); i++ {
		var block []bool
		for _, part := range strings.Split(d.texts[i], "\n\n") {
			j, ok := byText[part]
			if !ok {
				t.Fatalf("synthetic %d holds text from no sample: %q", i, part)
			}
			if fold[j] != fold[i] {
				t.Errorf("synthetic %d in fold %d holds sample %d of fold %d", i, fold[i], j, fold[j])
			}
			if slices.Contains(d.truth[j], true) {
				if block != nil && !slices.Equal(block, d.truth[j]) {
					t.Errorf("synthetic %d mixes label sets %v and %v", i, block, d.truth[j])
				}
				block = d.truth[j]
			}
		}
		if block == nil {
			block = make([]bool, len(d.labels))
		} else {
			positives++
		}
		if !slices.Equal(d.truth[i], block) {
			t.Errorf("synthetic %d labelled %v, its topic block %v", i, d.truth[i], block)
		}
		if w := WordCount("", d.texts[i]); w < syntheticMinWords {
			t.Errorf("synthetic %d has %d words, want at least %d", i, w, syntheticMinWords)
		}
	}
	if positives == 0 || positives == len(d.docs)-d.real {
		t.Errorf("%d of %d synthetic articles carry a topic, want some but not all", positives, len(d.docs)-d.real)
	}
	again, _ := build()
	if !slices.Equal(d.docs, again.docs) {
		t.Error("two syntheses with the same seed differ")
	}
}

// TestDecodeReadsFormat1 checks that a model file written by the previous
// format (testdata/format1.model, written by the build before passages)
// still loads, scores the whole text only, and can be written again in the
// current format.
func TestDecodeReadsFormat1(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("testdata", "format1.model"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(data)
	if err != nil {
		t.Fatalf("Decode(format 1): %v", err)
	}
	if m.window != 0 || slices.ContainsFunc(m.cal, func(c calibrated) bool { return c.c != 0 }) {
		t.Errorf("format 1 model has passages: window %d, calibration %+v", m.window, m.cal)
	}
	cur := mustTrainSmall(t)
	cur.meta.Options.PassageWords = 0
	for _, text := range []string{"Army troops attack", "Voters at the polls", "Band tour"} {
		if got, want := m.Classify("", text).Labels(), cur.Classify("", text).Labels(); !slices.Equal(got, want) {
			t.Errorf("%q: format 1 model says %v, today's training %v", text, got, want)
		}
	}
	again, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Decode(again)
	if err != nil {
		t.Fatalf("Decode of a format 1 model written again: %v", err)
	}
	if bytes.Equal(again[8:12], data[8:12]) || m2.Version() != m.Version() {
		t.Errorf("rewritten file: format bytes %v, version %s; want format %d and the version %s", again[8:12], m2.Version(), FormatVersion, m.Version())
	}
}
