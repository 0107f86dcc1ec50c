package classifier

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"github.com/james-bowman/nlp"
	"github.com/james-bowman/sparse"
	"gonum.org/v1/gonum/mat"
)

// vocabulary is an nlp.Vectoriser that fits an nlp.CountVectoriser's
// vocabulary with pruning, which nlp lacks: terms in fewer than minDF
// documents go, then all but the maxFeatures most frequent, then any bigram
// whose words did not both survive (the compiled scorer finds bigrams
// through their words). Indices follow the sorted terms, so a fit depends on
// the set of documents, not their order.
type vocabulary struct {
	counter     *nlp.CountVectoriser
	minDF       int
	maxFeatures int
}

var _ nlp.Vectoriser = (*vocabulary)(nil)

func newVocabulary(tok *Tokeniser, minDF, maxFeatures int) *vocabulary {
	c := nlp.NewCountVectoriser()
	c.Tokeniser = tok
	return &vocabulary{counter: c, minDF: minDF, maxFeatures: maxFeatures}
}

// Fit learns the pruned vocabulary of docs.
func (v *vocabulary) Fit(docs ...string) nlp.Vectoriser {
	df := make(map[string]int)
	seen := make(map[string]struct{})
	for _, doc := range docs {
		clear(seen)
		v.counter.Tokeniser.ForEachIn(doc, func(term string) {
			if _, ok := seen[term]; !ok {
				seen[term] = struct{}{}
				df[term]++
			}
		})
	}
	type entry struct {
		term string
		df   int
	}
	kept := make([]entry, 0, len(df))
	for term, n := range df {
		if n >= v.minDF {
			kept = append(kept, entry{term, n})
		}
	}
	if v.maxFeatures > 0 && len(kept) > v.maxFeatures {
		slices.SortFunc(kept, func(a, b entry) int {
			return cmp.Or(cmp.Compare(b.df, a.df), strings.Compare(a.term, b.term))
		})
		kept = kept[:v.maxFeatures]
	}
	words := make(map[string]struct{}, len(kept))
	for _, e := range kept {
		if !strings.Contains(e.term, " ") {
			words[e.term] = struct{}{}
		}
	}
	terms := make([]string, 0, len(kept))
	for _, e := range kept {
		if first, second, isBigram := strings.Cut(e.term, " "); isBigram {
			_, ok1 := words[first]
			_, ok2 := words[second]
			if !ok1 || !ok2 {
				continue
			}
		}
		terms = append(terms, e.term)
	}
	slices.Sort(terms)
	v.counter.Vocabulary = make(map[string]int, len(terms))
	for i, term := range terms {
		v.counter.Vocabulary[term] = i
	}
	return v
}

// Transform returns the term-by-document count matrix of docs.
func (v *vocabulary) Transform(docs ...string) (mat.Matrix, error) {
	return v.counter.Transform(docs...)
}

// FitTransform fits the vocabulary of docs and returns their counts.
func (v *vocabulary) FitTransform(docs ...string) (mat.Matrix, error) {
	return v.Fit(docs...).Transform(docs...)
}

// terms returns the vocabulary in index order.
func (v *vocabulary) terms() []string {
	out := make([]string, len(v.counter.Vocabulary))
	for term, i := range v.counter.Vocabulary {
		out[i] = term
	}
	return out
}

// sublinearTF is an nlp.Transformer that replaces each raw count tf by
// 1 + ln(tf), so a word repeated twenty times in a long article does not
// outweigh twenty different topical words. It learns nothing in Fit.
type sublinearTF struct{}

var _ nlp.Transformer = sublinearTF{}

func (sublinearTF) Fit(mat.Matrix) nlp.Transformer { return sublinearTF{} }

func (sublinearTF) Transform(m mat.Matrix) (mat.Matrix, error) {
	out := toCSR(m)
	raw := out.RawMatrix()
	for k, v := range raw.Data {
		if v > 0 {
			raw.Data[k] = 1 + math.Log(v)
		}
	}
	return out, nil
}

func (t sublinearTF) FitTransform(m mat.Matrix) (mat.Matrix, error) { return t.Transform(m) }

// l2Normaliser is an nlp.Transformer that scales each document (column) to
// unit Euclidean length, so long and short articles score on one scale.
type l2Normaliser struct{}

var _ nlp.Transformer = l2Normaliser{}

func (l2Normaliser) Fit(mat.Matrix) nlp.Transformer { return l2Normaliser{} }

func (l2Normaliser) Transform(m mat.Matrix) (mat.Matrix, error) {
	out := toCSR(m)
	raw := out.RawMatrix()
	norms := make([]float64, raw.J)
	for k, j := range raw.Ind {
		norms[j] += raw.Data[k] * raw.Data[k]
	}
	for j, n := range norms {
		norms[j] = math.Sqrt(n)
	}
	for k, j := range raw.Ind {
		if norms[j] > 0 {
			raw.Data[k] /= norms[j]
		}
	}
	return out, nil
}

func (t l2Normaliser) FitTransform(m mat.Matrix) (mat.Matrix, error) { return t.Transform(m) }

// toCSR returns a CSR copy of m that the caller may modify.
func toCSR(m mat.Matrix) *sparse.CSR {
	// CSR's own ToCSR returns the receiver, not a copy.
	if tc, ok := m.(sparse.TypeConverter); ok {
		if _, isCSR := m.(*sparse.CSR); !isCSR {
			return tc.ToCSR()
		}
	}
	var out sparse.CSR
	out.Clone(m)
	return &out
}

// featurePipeline is the fitted nlp pipeline that turns text into unit-length
// sublinear TF-IDF vectors: counts, 1+ln(tf), IDF, L2.
type featurePipeline struct {
	vocab    *vocabulary
	tfidf    *nlp.TfidfTransformer
	pipeline *nlp.Pipeline
}

// fitFeatures fits the pipeline on docs and returns it with their vectors as
// rows (documents by terms).
func fitFeatures(docs []string, opts TrainOptions) (*featurePipeline, *sparse.CSR, error) {
	fp := &featurePipeline{
		vocab: newVocabulary(NewTokeniser(opts.Bigrams), opts.MinDF, opts.MaxFeatures),
		tfidf: nlp.NewTfidfTransformer(),
	}
	fp.pipeline = nlp.NewPipeline(fp.vocab, sublinearTF{}, fp.tfidf, l2Normaliser{})
	m, err := fp.pipeline.FitTransform(docs...)
	if err != nil {
		return nil, nil, err
	}
	return fp, docRows(m), nil
}

// fitFeaturesOn fits the pipeline on fit only and returns it with the
// vectors of all as rows: synthetic articles repeat their parts' words, and
// would otherwise lift rare words over the minimum document frequency and
// skew the IDF.
func fitFeaturesOn(fit, all []string, opts TrainOptions) (*featurePipeline, *sparse.CSR, error) {
	if len(fit) == len(all) {
		return fitFeatures(all, opts)
	}
	fp, _, err := fitFeatures(fit, opts)
	if err != nil {
		return nil, nil, err
	}
	X, err := fp.transform(all)
	if err != nil {
		return nil, nil, err
	}
	return fp, X, nil
}

// transform returns the vectors of docs as rows.
func (fp *featurePipeline) transform(docs []string) (*sparse.CSR, error) {
	m, err := fp.pipeline.Transform(docs...)
	if err != nil {
		return nil, err
	}
	return docRows(m), nil
}

// docRows turns nlp's term-by-document matrix into documents by terms,
// with each row's terms in ascending order. The order matters: nlp's count
// matrix comes from a map, and summing a row's products in map order would
// make training results differ in their last bits from run to run.
func docRows(m mat.Matrix) *sparse.CSR {
	// It only reads m: the pipeline's last step already returns a CSR,
	// which needs no copy.
	csr, ok := m.(*sparse.CSR)
	if !ok {
		csr = toCSR(m)
	}
	raw := csr.RawMatrix()
	terms, docs := raw.I, raw.J
	indptr := make([]int, docs+1)
	for _, j := range raw.Ind {
		indptr[j+1]++
	}
	for j := range docs {
		indptr[j+1] += indptr[j]
	}
	ind := make([]int, len(raw.Ind))
	data := make([]float64, len(raw.Data))
	next := slices.Clone(indptr[:docs])
	for t := range terms {
		for k := raw.Indptr[t]; k < raw.Indptr[t+1]; k++ {
			j := raw.Ind[k]
			ind[next[j]], data[next[j]] = t, raw.Data[k]
			next[j]++
		}
	}
	return sparse.NewCSR(docs, terms, indptr, ind, data)
}

// idf reads the fitted IDF weights through nlp's public API: transforming
// the identity leaves each term's weight on the diagonal. The identity is
// built as CSR, not DIA: sparse's DIA×DIA product multiplies the left
// operand's diagonal by itself and would return the squared weights.
func (fp *featurePipeline) idf() ([]float64, error) {
	n := len(fp.vocab.counter.Vocabulary)
	ones := make([]float64, n)
	indptr := make([]int, n+1)
	ind := make([]int, n)
	for i := range ones {
		ones[i], ind[i], indptr[i+1] = 1, i, i+1
	}
	w, err := fp.tfidf.Transform(sparse.NewCSR(n, n, indptr, ind, ones))
	if err != nil {
		return nil, err
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = w.At(i, i)
	}
	return out, nil
}

// docText joins an article's title and body the way training saw them.
func docText(title, text string) string {
	if title == "" {
		return text
	}
	return title + "\n" + text
}
