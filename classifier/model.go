package classifier

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"gonum.org/v1/gonum/floats"
)

// Term is one vocabulary term and how much it raised a label's score.
type Term struct {
	Term   string  `json:"term"`
	Weight float64 `json:"weight"`
}

// Topic is one label's verdict on an article.
type Topic struct {
	Label string `json:"label"`
	// Confidence is the calibrated probability that the label applies.
	Confidence float64 `json:"confidence"`
	// Assigned reports whether Confidence reached the label's threshold.
	Assigned bool `json:"assigned"`
	// Terms are the terms that contributed most to an assigned label, most
	// first; empty for labels not assigned.
	Terms []Term `json:"terms,omitempty"`
}

// Result is a model's verdict on one article.
type Result struct {
	// Topics holds every label of the model, by confidence, highest first
	// (ties by label).
	Topics []Topic `json:"topics"`
	// Coverage says how much of the text the model's vocabulary knows.
	Coverage Coverage `json:"coverage"`
	// Warning is set when the model cannot judge the text; no label is
	// assigned then.
	Warning Warning `json:"warning,omitempty"`

	// labels holds the assigned labels once Filter may have dropped some
	// of their topics.
	labels   []string
	filtered bool
}

// Labels returns the assigned labels, highest confidence first. It is
// empty when the article fits no topic.
func (r Result) Labels() []string {
	if r.filtered {
		return r.labels
	}
	var out []string
	for _, t := range r.Topics {
		if t.Assigned {
			out = append(out, t.Label)
		}
	}
	return out
}

// ExplainTerms is how many contributing terms Classify reports per assigned
// label.
const ExplainTerms = 5

// Metadata describes a trained model.
type Metadata struct {
	// Version is a content hash of the model: two models with the same
	// version score every article the same.
	Version string    `json:"version"`
	Created time.Time `json:"created"`
	// Labels is the model's label set, sorted.
	Labels []string `json:"labels"`
	// Samples is the number of training samples, Negatives those with no
	// label, and LabelCounts the positives per label. Synthetic is the
	// number of synthetic long articles training added (not counted in
	// Samples).
	Samples     int            `json:"samples"`
	Synthetic   int            `json:"synthetic,omitempty"`
	Negatives   int            `json:"negatives"`
	LabelCounts map[string]int `json:"label_counts"`
	// Terms is the vocabulary size.
	Terms int `json:"terms"`
	// Algorithm is the topic model that won cross-validation.
	Algorithm string `json:"algorithm"`
	// Options are the options the model was trained with.
	Options TrainOptions `json:"options"`
	// CV is the cross-validated report of the shipped algorithm, and
	// Candidates the cross-validated macro-F1 of each algorithm compared.
	CV         Report             `json:"cv"`
	Candidates map[string]float64 `json:"candidates"`
}

// Model is a trained, immutable classifier: one calibrated linear topic
// model per label over shared sublinear TF-IDF features, compiled for
// serving. It is safe for concurrent use.
type Model struct {
	meta Metadata
	tok  *Tokeniser

	// The compiled scorer: vocabulary lookups, then one term-major table in
	// which each term's IDF is already folded into its label weights.
	words   *lexicon     // unigram → term id, or stopWord
	pairs   *pairTable   // word id pair → bigram term id
	logTF   [64]float64  // 1 + ln(n) for the counts most terms have
	starts  []bool       // term id → whether some bigram starts with it
	terms   []string     // term id → term
	idf     []float64    // term id → IDF
	table   []float64    // table[t*L+l] = idf[t] · coef[l][t]
	coef    []float64    // term-major raw coefficients, as stored
	bias    []float64    // per label
	cal     []calibrated // per label
	scratch sync.Pool    // *scratch

	// Passages: windows of window content tokens, every stride tokens; 0
	// scores the whole text only.
	window, stride int
}

type scratch struct {
	buf    []byte
	ids    []int32 // distinct term ids in order of first appearance
	counts []int32 // term id → occurrences; zero again after each call
	tf     []termCount
	acc    []float64
	whole  []float64 // per label, the whole text's raw score

	// Coverage: content tokens (not stop words) read, and those the
	// vocabulary knows.
	tokens, known int

	// Passages: the term ids of the current windows with the content-token
	// position they end at, oldest first from ring[head].
	ring       []posID
	head       int
	wcounts    []int32 // term id → occurrences in the window; zero between windows
	wids       []int32 // distinct term ids of the window
	wacc       []float64
	pass       []float64 // per label, the best passage's raw score
	windows    int       // passages scored
	nextWindow int       // the token count at which the next window is full
}

// posID is a term id and the content-token position of the word that ends
// it.
type posID struct {
	pos, id int32
}

type termCount struct {
	id int32
	tf float64 // 1 + ln(count)
}

// Metadata returns the model's metadata. Its maps and slices are copies.
func (m *Model) Metadata() Metadata {
	md := m.meta
	md.Labels = slices.Clone(md.Labels)
	md.LabelCounts = maps.Clone(md.LabelCounts)
	md.Candidates = maps.Clone(md.Candidates)
	md.CV.PerLabel = slices.Clone(md.CV.PerLabel)
	md.CV.Reliability = slices.Clone(md.CV.Reliability)
	return md
}

// Version returns the model's content-hash version.
func (m *Model) Version() string { return m.meta.Version }

// Labels returns the model's labels, sorted.
func (m *Model) Labels() []string { return slices.Clone(m.meta.Labels) }

// stopWord marks stop words in Model.words, so the scorer spends one map
// lookup per token whether or not it is a stop word.
const stopWord = -2

// compile builds the serving tables from the stored ones.
func (m *Model) compile() {
	L := len(m.meta.Labels)
	unigrams := make(map[string]int32, len(m.terms))
	for id, term := range m.terms {
		if !strings.Contains(term, " ") {
			unigrams[term] = int32(id)
		}
	}
	m.words = newLexicon(len(unigrams)+len(m.tok.StopWords), func(add func(string, int32)) {
		for w := range m.tok.StopWords {
			if _, ok := unigrams[w]; !ok {
				add(w, stopWord)
			}
		}
		for w, id := range unigrams {
			add(w, id)
		}
	})
	pairs := make(map[uint64]int32)
	m.starts = make([]bool, len(m.terms))
	for id, term := range m.terms {
		if a, b, ok := strings.Cut(term, " "); ok {
			pairs[pairKey(unigrams[a], unigrams[b])] = int32(id)
			m.starts[unigrams[a]] = true
		}
	}
	m.pairs = newPairTable(pairs)
	for n := 1; n < len(m.logTF); n++ {
		m.logTF[n] = 1 + math.Log(float64(n))
	}
	m.table = make([]float64, len(m.coef))
	for t := range m.terms {
		floats.ScaleTo(m.table[t*L:(t+1)*L], m.idf[t], m.coef[t*L:(t+1)*L])
	}
	n := len(m.terms)
	m.window, m.stride = m.meta.Options.PassageWords, max(m.meta.Options.PassageWords/2, 1)
	m.scratch.New = func() any {
		sc := &scratch{acc: make([]float64, L), whole: make([]float64, L), counts: make([]int32, n), pass: make([]float64, L)}
		if m.window > 0 {
			sc.wcounts, sc.wacc = make([]int32, n), make([]float64, L)
		}
		return sc
	}
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// maxPooledScratch bounds the scratch memory a pooled buffer may keep after
// an unusually large article, so one 1 MiB request does not pin memory.
const maxPooledScratch = 1 << 16

// Classify scores an article against every label. It runs in one pass over
// the text, scoring the whole text and, when the model was trained with
// passages, each window of it, and its work and allocations do not depend
// on the vocabulary size: it allocates the result's two slices and nothing
// else once its pooled scratch has grown to the article.
func (m *Model) Classify(title, text string) Result {
	sc := m.scratch.Get().(*scratch)
	defer func() {
		if cap(sc.ids) <= maxPooledScratch && cap(sc.buf) <= maxTokenBytes*4 && cap(sc.ring) <= maxPooledScratch {
			m.scratch.Put(sc)
		}
	}()
	norm := m.score(sc, title, text)
	L := len(m.meta.Labels)
	topics := make([]Topic, L)
	res := Result{Coverage: Coverage{Tokens: sc.tokens, Known: sc.known}}
	if res.Coverage.Low() {
		res.Warning = WarningLowCoverage
	}
	assigned := 0
	for l := range L {
		p, ok := m.cal[l].decide(sc.whole[l], sc.pass[l])
		ok = ok && res.Warning == NoWarning // no label on no evidence
		topics[l] = Topic{Label: m.meta.Labels[l], Confidence: p, Assigned: ok}
		if ok {
			assigned++
		}
	}
	if assigned > 0 && norm > 0 {
		terms := make([]Term, 0, assigned*ExplainTerms)
		for l := range topics {
			if topics[l].Assigned {
				start := len(terms)
				terms = m.topTerms(terms, sc.tf, l, norm)
				topics[l].Terms = terms[start:len(terms):len(terms)]
			}
		}
	}
	slices.SortFunc(topics, func(a, b Topic) int {
		return cmp.Or(cmp.Compare(b.Confidence, a.Confidence), strings.Compare(a.Label, b.Label))
	})
	res.Topics = topics
	return res
}

// score fills sc.tf with the article's distinct terms and their sublinear
// term frequencies, sc.acc with each label's weighted sum before
// normalisation, sc.whole with each label's raw whole-text score (raw) and
// sc.pass with each label's best passage score, and returns the norm of the
// article's TF-IDF vector. An article no longer than one window is its own
// only passage.
func (m *Model) score(sc *scratch, title, text string) (norm float64) {
	sc.tokens, sc.known, sc.windows = 0, 0, 0
	sc.nextWindow = -1 // never, without passages
	if m.window > 0 {
		sc.nextWindow = m.window
	}
	sc.ring, sc.head = sc.ring[:0], 0
	L := len(m.meta.Labels)
	for l := range L {
		sc.pass[l] = math.Inf(-1)
	}
	sc.ids = m.termIDs(sc, title, sc.ids[:0])
	sc.ids = m.termIDs(sc, text, sc.ids)
	if m.window > 0 && sc.tokens > m.window && (sc.tokens-m.window)%m.stride != 0 {
		m.scorePassage(sc, int32(sc.tokens-m.window)) // the last window, aligned to the end
	}

	acc := sc.acc[:L]
	clear(acc)
	sc.tf = sc.tf[:0]
	norm = math.Sqrt(m.weigh(sc.ids, sc.counts, acc, &sc.tf))
	for l := range L {
		whole := m.raw(l, acc[l], norm)
		sc.whole[l] = whole
		// A short article's one window, if scored, was the whole text.
		if sc.windows <= 1 || whole > sc.pass[l] {
			sc.pass[l] = whole
		}
	}
	return norm
}

// raw returns label l's raw score of a text whose weighted sum before
// normalisation is sum and whose TF-IDF norm is norm: bias + sum/norm, the
// bias alone for a zero vector.
func (m *Model) raw(l int, sum, norm float64) float64 {
	if norm > 0 {
		return m.bias[l] + sum/norm
	}
	return m.bias[l]
}

// scorePassage scores the window of content tokens [from, from+window) and
// raises sc.pass to its scores, then drops from the ring what no later
// window needs.
func (m *Model) scorePassage(sc *scratch, from int32) {
	L := len(m.meta.Labels)
	wacc := sc.wacc[:L]
	clear(wacc)
	sc.wids = sc.wids[:0]
	for _, e := range sc.ring[sc.head:] {
		if e.pos < from {
			continue
		}
		if sc.wcounts[e.id] == 0 {
			sc.wids = append(sc.wids, e.id)
		}
		sc.wcounts[e.id]++
	}
	norm := math.Sqrt(m.weigh(sc.wids, sc.wcounts, wacc, nil))
	for l := range L {
		sc.pass[l] = max(sc.pass[l], m.raw(l, wacc[l], norm))
	}
	sc.windows++
	// The next window starts at from+stride, but the last one, aligned to
	// the end, may start anywhere after from.
	for sc.head < len(sc.ring) && sc.ring[sc.head].pos <= from {
		sc.head++
	}
	if sc.head > len(sc.ring)/2 {
		n := copy(sc.ring, sc.ring[sc.head:])
		sc.ring, sc.head = sc.ring[:n], 0
	}
}

// weigh adds the label scores of the terms ids, counted in counts, to acc:
// each term's sublinear TF times its IDF-weighted coefficients. It zeroes
// the counts it reads, so counts is ready for the next text, appends each
// term's TF to tfs when tfs is not nil (Classify's explanations need
// them), and returns the squared norm of the TF-IDF vector. The whole text
// and every passage are weighed by it.
func (m *Model) weigh(ids, counts []int32, acc []float64, tfs *[]termCount) (norm2 float64) {
	L := len(acc)
	for _, id := range ids {
		tf := m.sublinearTF(counts[id])
		counts[id] = 0
		v := tf * m.idf[id]
		norm2 += v * v
		row := m.table[int(id)*L : int(id)*L+L]
		for l, w := range row {
			acc[l] += tf * w
		}
		if tfs != nil {
			*tfs = append(*tfs, termCount{id, tf})
		}
	}
	return norm2
}

// sublinearTF returns 1 + ln(n), from a table for small n.
func (m *Model) sublinearTF(n int32) float64 {
	if int(n) < len(m.logTF) {
		return m.logTF[n]
	}
	return 1 + math.Log(float64(n))
}

// termIDs counts the terms of text, unigrams and bigrams, in sc.counts and
// appends each term's id to ids when first seen. It counts content tokens
// for coverage and, with passages on, keeps each term in the ring and
// scores each window as it fills.
func (m *Model) termIDs(sc *scratch, text string, ids []int32) []int32 {
	prev := int32(-1)
	see := func(id int32) {
		if sc.counts[id] == 0 {
			ids = append(ids, id)
		}
		sc.counts[id]++
		if m.window > 0 {
			sc.ring = append(sc.ring, posID{int32(sc.tokens), id})
		}
	}
	m.tok.scan(text, &sc.buf, func(tok []byte, key tokenKey, joined bool) {
		if !joined {
			prev = -1
		}
		id, ok := m.words.lookup(tok, key)
		if ok && id == stopWord {
			return
		}
		if ok {
			sc.known++
			see(id)
			if prev >= 0 && m.starts[prev] { // starts is all false without bigrams
				if bid, ok := m.pairs.lookup(pairKey(prev, id)); ok {
					see(bid)
				}
			}
			prev = id
		} else {
			prev = -1
		}
		sc.tokens++
		if sc.tokens == sc.nextWindow {
			m.scorePassage(sc, int32(sc.tokens-m.window))
			sc.nextWindow += m.stride
		}
	})
	return ids
}

// topTerms appends to dst the ExplainTerms terms with the largest positive
// contribution to label l's score.
func (m *Model) topTerms(dst []Term, tfs []termCount, l int, norm float64) []Term {
	L := len(m.meta.Labels)
	start := len(dst)
	for _, tc := range tfs {
		c := tc.tf * m.table[int(tc.id)*L+l] / norm
		if c <= 0 {
			continue
		}
		top := dst[start:]
		if len(top) == ExplainTerms && c <= top[len(top)-1].Weight {
			continue
		}
		// Insert in order; the list is at most ExplainTerms long.
		pos := len(top)
		for pos > 0 && top[pos-1].Weight < c {
			pos--
		}
		if len(top) < ExplainTerms {
			dst = append(dst, Term{})
			top = dst[start:]
		}
		copy(top[pos+1:], top[pos:len(top)-1])
		top[pos] = Term{Term: m.terms[tc.id], Weight: c}
	}
	return dst
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}
