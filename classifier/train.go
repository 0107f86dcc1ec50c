package classifier

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/james-bowman/sparse"
	"golang.org/x/sync/errgroup"
)

// Algorithm names accepted in TrainOptions.Algorithm.
const (
	// AlgorithmAuto cross-validates every algorithm and ships the one with
	// the best macro-F1.
	AlgorithmAuto = "auto"
	// AlgorithmLogReg is one-vs-rest L2-regularised logistic regression.
	AlgorithmLogReg = "logreg"
	// AlgorithmRocchio is a Rocchio centroid per label scored by cosine
	// similarity.
	AlgorithmRocchio = "rocchio"
)

// TrainOptions controls training. The zero value is not usable; start from
// DefaultTrainOptions.
type TrainOptions struct {
	// Algorithm is AlgorithmAuto, AlgorithmLogReg or AlgorithmRocchio.
	Algorithm string `json:"algorithm"`
	// MinDF drops terms found in fewer training articles.
	MinDF int `json:"min_df"`
	// MaxFeatures keeps at most this many terms, the most frequent; 0 keeps
	// all.
	MaxFeatures int `json:"max_features"`
	// Bigrams adds pairs of adjacent words as terms.
	Bigrams bool `json:"bigrams"`
	// L2 is the logistic regression's regularisation strength λ, applied to
	// the mean log loss: larger is smoother.
	L2 float64 `json:"l2"`
	// Folds is the number of cross-validation folds.
	Folds int `json:"folds"`
	// Seed fixes the fold assignment and the synthetic long samples.
	Seed uint64 `json:"seed"`
	// PassageWords is the length, in content words (stop words not
	// counted), of the passages a long article is also scored by: windows
	// of this many words every PassageWords/2, the best of which joins the
	// whole-text score in each label's calibrated decision, so that a topic
	// filling part of a long article counts. 0 scores the whole text only.
	PassageWords int `json:"passage_words,omitempty"`
	// SyntheticLong is how many synthetic long articles training adds per
	// sample, built from the samples themselves (see synthesizeLong): 0
	// adds none. It is off by default because it measured worse on every
	// measure (bench/lengtheval, 0.5 against 0): trained on train.jsonl,
	// dev macro-F1 0.913 against 0.937 and the long evaluation set 0.861
	// against 0.952; trained on the corpus, 0.853 against 0.885 and 0.947
	// against 0.993 — its topic blocks teach the model to count topics
	// that fill a quarter of a text, and long negatives pay in precision —
	// with training 3–5 times slower.
	SyntheticLong float64 `json:"synthetic_long,omitempty"`
	// Created is stamped into the model as its creation time; zero means
	// now. It is the one input that changes the file but not the model.
	Created time.Time `json:"-"`
}

// DefaultTrainOptions returns the options the default model is trained with.
func DefaultTrainOptions() TrainOptions {
	return TrainOptions{
		Algorithm:   AlgorithmAuto,
		MinDF:       2,
		MaxFeatures: 50000,
		Bigrams:     true,
		L2:          1e-5,
		Folds:       5,
		Seed:        1,

		PassageWords: DefaultPassageWords,
	}
}

// DefaultPassageWords is the passage length DefaultTrainOptions uses:
// 100 content words, some 170–200 words of news prose.
const DefaultPassageWords = 100

// MaxPassageWords is the longest passage TrainOptions accepts.
const MaxPassageWords = 10000

// Validate reports whether the options are usable.
func (o TrainOptions) Validate() error {
	switch {
	case o.Algorithm != AlgorithmAuto && o.Algorithm != AlgorithmLogReg && o.Algorithm != AlgorithmRocchio:
		return fmt.Errorf("algorithm %q is not one of auto, logreg, rocchio", o.Algorithm)
	case o.MinDF < 1 || o.MinDF > 1000:
		return fmt.Errorf("min_df %d is not in [1, 1000]", o.MinDF)
	case o.MaxFeatures < 0 || o.MaxFeatures > 5_000_000:
		return fmt.Errorf("max_features %d is not in [0, 5000000]", o.MaxFeatures)
	case !(o.L2 > 0 && o.L2 <= 100):
		return fmt.Errorf("l2 %v is not in (0, 100]", o.L2)
	case o.Folds < 2 || o.Folds > 20:
		return fmt.Errorf("folds %d is not in [2, 20]", o.Folds)
	case o.PassageWords != 0 && (o.PassageWords < 2 || o.PassageWords > MaxPassageWords):
		return fmt.Errorf("passage_words %d is neither 0 nor in [2, %d]", o.PassageWords, MaxPassageWords)
	case !(o.SyntheticLong >= 0 && o.SyntheticLong <= MaxSyntheticLong):
		return fmt.Errorf("synthetic_long %v is not in [0, %v]", o.SyntheticLong, float64(MaxSyntheticLong))
	}
	return nil
}

// ErrTooLittleData is wrapped by Train's error when the samples cannot
// support a model: a label with too few positives or negatives to
// cross-validate, or no labels at all.
var ErrTooLittleData = errors.New("too little training data")

// dataset is the samples as training sees them: the real ones first, then
// any synthetic ones.
type dataset struct {
	titles, texts []string
	docs          []string // docText of each
	labels        []string
	truth         [][]bool // truth[i][l]
	real          int      // samples [0, real) are the caller's
}

func newDataset(samples []Sample, folds int) (*dataset, map[string]int, error) {
	counts := make(map[string]int)
	for i, s := range samples {
		if err := s.Validate(); err != nil {
			return nil, nil, &SampleError{Index: i, Err: err}
		}
		for _, l := range s.Labels {
			counts[l]++
		}
	}
	if len(counts) == 0 {
		return nil, nil, fmt.Errorf("%w: no sample carries a label", ErrTooLittleData)
	}
	d := &dataset{real: len(samples)}
	for l := range counts {
		d.labels = append(d.labels, l)
	}
	slices.Sort(d.labels)
	for _, l := range d.labels {
		if counts[l] < folds || len(samples)-counts[l] < folds {
			return nil, nil, fmt.Errorf("%w: label %q has %d positive and %d negative samples; %d-fold cross-validation needs at least %d of each",
				ErrTooLittleData, l, counts[l], len(samples)-counts[l], folds, folds)
		}
	}
	index := make(map[string]int, len(d.labels))
	for l, name := range d.labels {
		index[name] = l
	}
	for _, s := range samples {
		truth := make([]bool, len(d.labels))
		for _, name := range s.Labels {
			truth[index[name]] = true
		}
		d.add(s.Title, s.Text, truth)
	}
	return d, counts, nil
}

func (d *dataset) add(title, text string, truth []bool) {
	d.titles = append(d.titles, title)
	d.texts = append(d.texts, text)
	d.docs = append(d.docs, docText(title, text))
	d.truth = append(d.truth, truth)
}

// linear is one label's topic model: score = w·x + b.
type linear struct {
	w []float64
	b float64
}

// calibrated is one label's fitted decision layer: Platt scaling over two
// raw scores, the whole text's and the best of it and its passages.
type calibrated struct {
	a, c, b   float64 // p = σ(a·whole + c·best + b)
	threshold float64
}

// decide returns the calibrated probability of the raw scores and whether
// it reaches the threshold.
func (c calibrated) decide(whole, best float64) (p float64, assigned bool) {
	p = sigmoid(c.a*whole + c.c*best + c.b)
	return p, p >= c.threshold
}

// scores is a sample's raw scores per label: the whole text's, and the
// best of that and of its passages'.
type scores struct {
	whole, best []float64
}

// Train fits a model to samples: features, cross-validation of each
// algorithm, calibration and thresholds on the out-of-fold scores, and the
// final fit on every sample. It is deterministic: the same samples and
// options yield the same model. It stops early with ctx's error.
func Train(ctx context.Context, samples []Sample, opts TrainOptions) (*Model, error) {
	m, _, err := train(ctx, samples, opts)
	return m, err
}

// train is Train that also returns the fitted feature pipeline, which tests
// compare the compiled scorer against.
func train(ctx context.Context, samples []Sample, opts TrainOptions) (*Model, *featurePipeline, error) {
	if err := opts.Validate(); err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	d, counts, err := newDataset(samples, opts.Folds)
	if err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	fold := assignFolds(d.truth, opts.Folds, opts.Seed)
	if opts.SyntheticLong > 0 {
		fold = synthesizeLong(d, fold, opts)
	}
	algorithms := []string{opts.Algorithm}
	if opts.Algorithm == AlgorithmAuto {
		algorithms = []string{AlgorithmLogReg, AlgorithmRocchio}
	}

	oof, err := crossValidate(ctx, d, fold, opts, algorithms)
	if err != nil {
		return nil, nil, fmt.Errorf("train: cross-validation: %w", err)
	}
	best, bestCal, bestReport := "", []calibrated(nil), Report{}
	candidates := make(map[string]float64, len(algorithms))
	for _, alg := range algorithms {
		cal := make([]calibrated, len(d.labels))
		for l := range d.labels {
			cal[l] = calibrate(column(oof[alg].whole, l), column(oof[alg].best, l), column(d.truth, l), opts.PassageWords > 0)
		}
		rep := reportOf(d, oof[alg], cal)
		candidates[alg] = rep.MacroF1
		if best == "" || rep.MacroF1 > bestReport.MacroF1 {
			best, bestCal, bestReport = alg, cal, rep
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}

	fp, X, err := fitFeaturesOn(d.docs[:d.real], d.docs, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("train: features: %w", err)
	}
	m, err := newModel(d.labels, fp, fitAll(X, d.truth, best, opts), opts)
	if err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	m.cal = bestCal
	created := opts.Created
	if created.IsZero() {
		created = time.Now()
	}
	m.meta.Created = created.UTC().Truncate(time.Second)
	m.meta.Samples = len(samples)
	m.meta.Synthetic = len(d.docs) - d.real
	m.meta.LabelCounts = counts
	m.meta.Algorithm = best
	m.meta.CV = bestReport
	m.meta.Candidates = candidates
	m.meta.Negatives = countNegatives(d.truth[:d.real])
	if err := m.stampVersion(); err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	return m, fp, nil
}

// newModel compiles a scorer from a fitted pipeline and one linear model
// per label, with uncalibrated decisions (p = σ(whole score), threshold ½)
// until the caller sets m.cal.
func newModel(labels []string, fp *featurePipeline, models []linear, opts TrainOptions) (*Model, error) {
	idf, err := fp.idf()
	if err != nil {
		return nil, fmt.Errorf("idf: %w", err)
	}
	terms := fp.vocab.terms()
	L := len(labels)
	m := &Model{
		tok:   NewTokeniser(opts.Bigrams),
		terms: terms,
		idf:   idf,
		coef:  make([]float64, len(terms)*L),
		bias:  make([]float64, L),
		cal:   make([]calibrated, L),
	}
	for l, lm := range models {
		for t, w := range lm.w {
			m.coef[t*L+l] = w
		}
		m.bias[l] = lm.b
		m.cal[l] = calibrated{a: 1, threshold: 0.5}
	}
	m.meta = Metadata{Labels: labels, Terms: len(terms), Options: opts}
	m.meta.Options.Created = time.Time{}
	m.compile()
	return m, nil
}

// rawScores returns the raw scores of an article, as the calibration sees
// them.
func (m *Model) rawScores(title, text string) scores {
	sc := m.scratch.Get().(*scratch)
	defer m.scratch.Put(sc)
	m.score(sc, title, text)
	return scores{whole: slices.Clone(sc.whole), best: slices.Clone(sc.pass)}
}

func countNegatives(truth [][]bool) int {
	n := 0
	for _, row := range truth {
		if !slices.Contains(row, true) {
			n++
		}
	}
	return n
}

// column returns rows[i][l] for every i.
func column[T any](rows [][]T, l int) []T {
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i] = r[l]
	}
	return out
}

// reportOf scores the real samples' out-of-fold raw scores after
// calibration.
func reportOf(d *dataset, oof foldScores, cal []calibrated) Report {
	n := d.real
	conf := make([][]float64, n)
	assigned := make([][]bool, n)
	for i := range n {
		conf[i] = make([]float64, len(cal))
		assigned[i] = make([]bool, len(cal))
		for l := range cal {
			conf[i][l], assigned[i][l] = cal[l].decide(oof.whole[i][l], oof.best[i][l])
		}
	}
	return newReport(d.labels, d.truth[:n], assigned, conf)
}

// assignFolds deals samples into folds stratified by label set: samples are
// shuffled with the seed, grouped by their exact set of labels, and dealt
// round-robin, so every fold sees each combination in proportion.
func assignFolds(truth [][]bool, folds int, seed uint64) []int {
	n := len(truth)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	order := rng.Perm(n)
	key := func(i int) string {
		var b strings.Builder
		for _, y := range truth[i] {
			if y {
				b.WriteByte('1')
			} else {
				b.WriteByte('0')
			}
		}
		return b.String()
	}
	keys := make([]string, n)
	for i := range n {
		keys[i] = key(i)
	}
	// Stable: within a label set the shuffled order stands.
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	fold := make([]int, n)
	for pos, i := range order {
		fold[i] = pos % folds
	}
	return fold
}

// foldScores holds every sample's out-of-fold raw scores, whole[i][l] and
// best[i][l].
type foldScores struct {
	whole, best [][]float64
}

// crossValidate returns, per algorithm, every sample's raw scores from the
// models of the fold that held it out, as the compiled scorer computes
// them (passages included). Each fold fits its own vocabulary and IDF, so
// no held-out text leaks into its features.
func crossValidate(ctx context.Context, d *dataset, fold []int, opts TrainOptions, algorithms []string) (map[string]foldScores, error) {
	out := make(map[string]foldScores, len(algorithms))
	for _, alg := range algorithms {
		out[alg] = foldScores{whole: make([][]float64, len(d.docs)), best: make([][]float64, len(d.docs))}
	}
	// The folds run in parallel, a core each; the first that fails cancels
	// the others, and its error is the one returned.
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for f := range opts.Folds {
		g.Go(func() error { return validateFold(ctx, d, fold, f, opts, algorithms, out) })
	}
	return out, g.Wait()
}

// validateFold fits fold f's features and every algorithm on the other
// folds and scores fold f's samples into out, which it shares with the
// other folds: each sample is in exactly one fold, so they write apart.
func validateFold(ctx context.Context, d *dataset, fold []int, f int, opts TrainOptions, algorithms []string, out map[string]foldScores) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var trainIdx, testIdx, realIdx []int
	for i, fi := range fold {
		if fi == f {
			testIdx = append(testIdx, i)
			continue
		}
		trainIdx = append(trainIdx, i)
		if i < d.real {
			realIdx = append(realIdx, i)
		}
	}
	fp, X, err := fitFeaturesOn(pick(d.docs, realIdx), pick(d.docs, trainIdx), opts)
	if err != nil {
		return err
	}
	truth := pick(d.truth, trainIdx)
	for _, alg := range algorithms {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := newModel(d.labels, fp, fitAll(X, truth, alg, opts), opts)
		if err != nil {
			return err
		}
		for _, i := range testIdx {
			s := m.rawScores(d.titles[i], d.texts[i])
			out[alg].whole[i], out[alg].best[i] = s.whole, s.best
		}
	}
	return nil
}

func pick[T any](xs []T, idx []int) []T {
	out := make([]T, len(idx))
	for k, i := range idx {
		out[k] = xs[i]
	}
	return out
}

// fitAll fits one linear model per label.
func fitAll(X *sparse.CSR, truth [][]bool, alg string, opts TrainOptions) []linear {
	L := len(truth[0])
	out := make([]linear, L)
	for l := range L {
		y := column(truth, l)
		switch alg {
		case AlgorithmRocchio:
			out[l] = fitRocchio(X, y)
		default:
			out[l] = fitLogReg(X, y, opts.L2)
		}
	}
	return out
}

// sanitize replaces non-finite values, which a degenerate fit could leave,
// so no model file ever holds NaN or Inf.
func sanitize(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}
