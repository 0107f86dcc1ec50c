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
}

// Labels returns the assigned labels, highest confidence first. It is
// empty when the article fits no topic.
func (r Result) Labels() []string {
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
	// label, and LabelCounts the positives per label.
	Samples     int            `json:"samples"`
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
}

type scratch struct {
	buf    []byte
	ids    []int32 // distinct term ids in order of first appearance
	counts []int32 // term id → occurrences; zero again after each call
	tf     []termCount
	acc    []float64
	tops   []Term
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
	m.scratch.New = func() any { return &scratch{acc: make([]float64, L), counts: make([]int32, n)} }
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// maxPooledScratch bounds the scratch memory a pooled buffer may keep after
// an unusually large article, so one 1 MiB request does not pin memory.
const maxPooledScratch = 1 << 16

// Classify scores an article against every label. It runs in one pass over
// the text, and its work and allocations do not depend on the vocabulary
// size: it allocates the result's two slices and nothing else.
func (m *Model) Classify(title, text string) Result {
	sc := m.scratch.Get().(*scratch)
	defer func() {
		if cap(sc.ids) <= maxPooledScratch && cap(sc.buf) <= maxTokenBytes*4 {
			m.scratch.Put(sc)
		}
	}()
	norm := m.score(sc, title, text)
	L := len(m.meta.Labels)
	acc := sc.acc
	topics := make([]Topic, L)
	assigned := 0
	for l := range L {
		s := m.bias[l]
		if norm > 0 {
			s += acc[l] / norm
		}
		p, ok := m.cal[l].decide(s)
		topics[l] = Topic{Label: m.meta.Labels[l], Confidence: p, Assigned: ok}
		if topics[l].Assigned {
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
	return Result{Topics: topics}
}

// score fills sc.tf with the article's distinct terms and their sublinear
// term frequencies and sc.acc with each label's weighted sum before
// normalisation, and returns the norm of the article's TF-IDF vector. The
// label's raw score is bias + acc/norm (bias alone for a zero vector).
func (m *Model) score(sc *scratch, title, text string) (norm float64) {
	sc.ids = m.termIDs(sc, title, sc.ids[:0])
	sc.ids = m.termIDs(sc, text, sc.ids)

	L := len(m.meta.Labels)
	acc := sc.acc[:L]
	clear(acc)
	sc.tf = sc.tf[:0]
	var norm2 float64
	for _, id := range sc.ids {
		tf := m.sublinearTF(sc.counts[id])
		sc.counts[id] = 0
		v := tf * m.idf[id]
		norm2 += v * v
		row := m.table[int(id)*L : int(id)*L+L]
		for l, w := range row {
			acc[l] += tf * w
		}
		sc.tf = append(sc.tf, termCount{id, tf})
	}
	return math.Sqrt(norm2)
}

// sublinearTF returns 1 + ln(n), from a table for small n.
func (m *Model) sublinearTF(n int32) float64 {
	if int(n) < len(m.logTF) {
		return m.logTF[n]
	}
	return 1 + math.Log(float64(n))
}

// termIDs counts the terms of text, unigrams and bigrams, in sc.counts and
// appends each term's id to ids when first seen.
func (m *Model) termIDs(sc *scratch, text string, ids []int32) []int32 {
	prev := int32(-1)
	see := func(id int32) {
		if sc.counts[id] == 0 {
			ids = append(ids, id)
		}
		sc.counts[id]++
	}
	m.tok.scan(text, &sc.buf, func(tok []byte, key tokenKey, joined bool) {
		if !joined {
			prev = -1
		}
		id, ok := m.words.lookup(tok, key)
		switch {
		case !ok:
			prev = -1
			return
		case id == stopWord:
			return
		}
		see(id)
		if prev >= 0 && m.starts[prev] { // starts is all false without bigrams
			if bid, ok := m.pairs.lookup(pairKey(prev, id)); ok {
				see(bid)
			}
		}
		prev = id
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
