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
	"sync"
	"time"

	"github.com/james-bowman/sparse"
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
	// Seed fixes the fold assignment.
	Seed uint64 `json:"seed"`
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
		L2:          3e-5,
		Folds:       5,
		Seed:        1,
	}
}

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
	}
	return nil
}

// ErrTooLittleData is wrapped by Train's error when the samples cannot
// support a model: a label with too few positives or negatives to
// cross-validate, or no labels at all.
var ErrTooLittleData = errors.New("too little training data")

// dataset is the samples as training sees them.
type dataset struct {
	docs   []string
	labels []string
	truth  [][]bool // truth[i][l]
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
	d := &dataset{docs: make([]string, len(samples)), truth: make([][]bool, len(samples))}
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
	for i, s := range samples {
		d.docs[i] = docText(s.Title, s.Text)
		d.truth[i] = make([]bool, len(d.labels))
		for _, name := range s.Labels {
			d.truth[i][index[name]] = true
		}
	}
	return d, counts, nil
}

// linear is one label's topic model: score = w·x + b.
type linear struct {
	w []float64
	b float64
}

// calibrated is one label's fitted decision layer.
type calibrated struct {
	a, b      float64 // p = σ(a·score + b)
	threshold float64
}

// decide returns the calibrated probability of a raw score and whether it
// reaches the threshold.
func (c calibrated) decide(score float64) (p float64, assigned bool) {
	p = sigmoid(c.a*score + c.b)
	return p, p >= c.threshold
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
	algorithms := []string{opts.Algorithm}
	if opts.Algorithm == AlgorithmAuto {
		algorithms = []string{AlgorithmLogReg, AlgorithmRocchio}
	}

	oof, err := crossValidate(ctx, d, opts, algorithms)
	if err != nil {
		return nil, nil, fmt.Errorf("train: cross-validation: %w", err)
	}
	best, bestCal, bestReport := "", []calibrated(nil), Report{}
	candidates := make(map[string]float64, len(algorithms))
	for _, alg := range algorithms {
		cal := make([]calibrated, len(d.labels))
		for l := range d.labels {
			cal[l] = calibrate(column(oof[alg], l), column(d.truth, l))
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

	fp, X, err := fitFeatures(d.docs, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("train: features: %w", err)
	}
	models := fitAll(X, d.truth, best, opts)
	idf, err := fp.idf()
	if err != nil {
		return nil, nil, fmt.Errorf("train: idf: %w", err)
	}
	terms := fp.vocab.terms()
	L := len(d.labels)
	m := &Model{
		tok:   NewTokeniser(opts.Bigrams),
		terms: terms,
		idf:   idf,
		coef:  make([]float64, len(terms)*L),
		bias:  make([]float64, L),
		cal:   bestCal,
	}
	for l, lm := range models {
		for t, w := range lm.w {
			m.coef[t*L+l] = w
		}
		m.bias[l] = lm.b
	}
	created := opts.Created
	if created.IsZero() {
		created = time.Now()
	}
	m.meta = Metadata{
		Created:     created.UTC().Truncate(time.Second),
		Labels:      d.labels,
		Samples:     len(samples),
		LabelCounts: counts,
		Terms:       len(terms),
		Algorithm:   best,
		Options:     opts,
		CV:          bestReport,
		Candidates:  candidates,
	}
	m.meta.Negatives = countNegatives(d.truth)
	m.meta.Options.Created = time.Time{}
	m.compile()
	if err := m.stampVersion(); err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	return m, fp, nil
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

// reportOf scores out-of-fold raw scores after calibration.
func reportOf(d *dataset, scores [][]float64, cal []calibrated) Report {
	conf := make([][]float64, len(scores))
	assigned := make([][]bool, len(scores))
	for i, row := range scores {
		conf[i] = make([]float64, len(row))
		assigned[i] = make([]bool, len(row))
		for l, s := range row {
			conf[i][l], assigned[i][l] = cal[l].decide(s)
		}
	}
	return newReport(d.labels, d.truth, assigned, conf)
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

// crossValidate returns, per algorithm, every sample's raw scores from the
// models of the fold that held it out. Each fold fits its own vocabulary and
// IDF, so no held-out text leaks into its features.
func crossValidate(ctx context.Context, d *dataset, opts TrainOptions, algorithms []string) (map[string][][]float64, error) {
	fold := assignFolds(d.truth, opts.Folds, opts.Seed)
	out := make(map[string][][]float64, len(algorithms))
	for _, alg := range algorithms {
		out[alg] = make([][]float64, len(d.docs))
	}
	errs := make([]error, opts.Folds)
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for f := range opts.Folds {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := ctx.Err(); err != nil {
				errs[f] = err
				return
			}
			var trainIdx, testIdx []int
			for i, fi := range fold {
				if fi == f {
					testIdx = append(testIdx, i)
				} else {
					trainIdx = append(trainIdx, i)
				}
			}
			fp, X, err := fitFeatures(pick(d.docs, trainIdx), opts)
			if err != nil {
				errs[f] = err
				return
			}
			Xt, err := fp.transform(pick(d.docs, testIdx))
			if err != nil {
				errs[f] = err
				return
			}
			truth := pick(d.truth, trainIdx)
			for _, alg := range algorithms {
				if err := ctx.Err(); err != nil {
					errs[f] = err
					return
				}
				models := fitAll(X, truth, alg, opts)
				for k, i := range testIdx {
					row := make([]float64, len(models))
					for l, lm := range models {
						row[l] = lm.score(Xt, k)
					}
					out[alg][i] = row // each sample is in exactly one fold
				}
			}
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
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

// score returns the model's raw score for row k of X.
func (lm linear) score(X *sparse.CSR, k int) float64 {
	s := lm.b
	X.DoRowNonZero(k, func(_, j int, v float64) { s += lm.w[j] * v })
	return s
}

// sanitize replaces non-finite values, which a degenerate fit could leave,
// so no model file ever holds NaN or Inf.
func sanitize(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}
