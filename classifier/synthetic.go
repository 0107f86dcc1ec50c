package classifier

import (
	"math/rand/v2"
	"slices"
	"strings"
)

// MaxSyntheticLong is the most synthetic long articles per sample
// TrainOptions accepts.
const MaxSyntheticLong = 4

// Synthetic long articles: word counts drawn uniformly from this range,
// about what callers send.
const (
	syntheticMinWords = 300
	syntheticMaxWords = 1200
)

// synthesizeLong adds synthetic long articles to d, built from its real
// samples, and returns the folds extended to them. Most are a topic block —
// positives with the same label set, together a quarter to a half of the
// words — placed among negatives' texts and labelled with that set, so a
// model trained on short items learns that a topic filling part of a long
// article counts; the rest are negatives strung together, so length alone
// does not. Each is built from samples of one fold and joins that fold, so
// cross-validation never scores an article whose parts it trained on. It
// is deterministic for a seed.
func synthesizeLong(d *dataset, fold []int, opts TrainOptions) []int {
	rng := rand.New(rand.NewPCG(opts.Seed^0x5eed1a7e, opts.Seed+0x10f6))
	type group struct {
		negatives []int
		positives map[string][]int // by label-set key
		keys      []string         // sorted, for determinism
	}
	groups := make([]group, opts.Folds)
	for f := range groups {
		groups[f].positives = make(map[string][]int)
	}
	words := make([]int, d.real)
	for i := range d.real {
		words[i] = len(strings.Fields(d.texts[i]))
		g := &groups[fold[i]]
		key := labelKey(d.truth[i])
		if !strings.Contains(key, "1") {
			g.negatives = append(g.negatives, i)
			continue
		}
		if _, ok := g.positives[key]; !ok {
			g.keys = append(g.keys, key)
		}
		g.positives[key] = append(g.positives[key], i)
	}
	for f := range groups {
		slices.Sort(groups[f].keys)
	}
	n := int(opts.SyntheticLong*float64(d.real) + 0.5)
	var b strings.Builder
	for k := range n {
		f := k % opts.Folds
		g := &groups[f]
		if len(g.negatives) == 0 {
			continue
		}
		target := syntheticMinWords + rng.IntN(syntheticMaxWords-syntheticMinWords+1)
		var block []int
		truth := make([]bool, len(d.labels))
		if len(g.keys) > 0 && rng.IntN(3) < 2 {
			key := g.keys[rng.IntN(len(g.keys))]
			pos := g.positives[key]
			share := target * (25 + rng.IntN(26)) / 100
			for w := 0; w < share && len(block) < len(pos); {
				i := pos[rng.IntN(len(pos))]
				block = append(block, i)
				w += words[i]
			}
			copy(truth, d.truth[block[0]])
		}
		var filler []int
		w := 0
		for _, i := range block {
			w += words[i]
		}
		for w < target { // every text has a word, so this ends
			i := g.negatives[rng.IntN(len(g.negatives))]
			filler = append(filler, i)
			w += words[i]
		}
		// The block goes in one place among the filler, as a topic's
		// paragraphs sit together in an article.
		at := rng.IntN(len(filler) + 1)
		parts := slices.Concat(filler[:at], block, filler[at:])
		b.Reset()
		for j, i := range parts {
			if j > 0 {
				b.WriteString("\n\n")
			}
			b.WriteString(d.texts[i])
		}
		title := d.titles[parts[0]]
		if len(block) > 0 && rng.IntN(2) == 0 {
			title = d.titles[block[0]]
		}
		d.add(title, b.String(), truth)
		fold = append(fold, f)
	}
	return fold
}

// labelKey spells a label set as a string of 0s and 1s.
func labelKey(truth []bool) string {
	b := make([]byte, len(truth))
	for l, y := range truth {
		b[l] = '0'
		if y {
			b[l] = '1'
		}
	}
	return string(b)
}
