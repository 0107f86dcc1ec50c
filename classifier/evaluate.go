package classifier

import (
	"fmt"
	"math"
	"slices"
)

// Report holds a model's quality on a labelled set.
type Report struct {
	// N is the number of articles scored.
	N int `json:"n"`
	// MicroF1 pools every (article, label) decision; MacroF1 averages the
	// per-label F1, so rare labels count as much as common ones.
	MicroF1 float64 `json:"micro_f1"`
	MacroF1 float64 `json:"macro_f1"`
	// ExactMatch is the share of articles whose assigned label set is
	// exactly right; HammingLoss the share of wrong (article, label)
	// decisions.
	ExactMatch  float64 `json:"exact_match"`
	HammingLoss float64 `json:"hamming_loss"`
	// ECE is the expected calibration error over all (article, label)
	// pairs with 10 equal-width confidence bins:
	// Σ_b (n_b/N)·|mean(y in b) − mean(confidence in b)|.
	ECE float64 `json:"ece"`
	// PerLabel holds one entry per label, in the model's label order.
	PerLabel []LabelMetrics `json:"per_label"`
	// Reliability holds the ECE's bins, lowest confidence first: the data
	// of a reliability diagram.
	Reliability []ReliabilityBin `json:"reliability,omitempty"`
	// Confusion says which labels the articles of each label got. Score
	// and Evaluate fill it; a cross-validation report has none.
	Confusion *Confusion `json:"confusion,omitempty"`
}

// Confusion is a confusion matrix for multi-label verdicts. Rows are the
// labels articles carry, then "none" for articles with no label; columns
// are the labels assigned, then "none" for articles assigned nothing. An
// article counts in the row of each label it carries; in that row it adds
// to the diagonal when the label was assigned, to each assigned column it
// does not carry, and to "none" when nothing was assigned. The diagonal is
// the recall, and the rest says which topic a miss turned into, which a
// table of per-label counts cannot.
type Confusion struct {
	// Names are the labels, then "none".
	Names []string `json:"names"`
	// Counts[row][col] counts articles; Rows[row] is the number of
	// articles in the row.
	Counts [][]int `json:"counts"`
	Rows   []int   `json:"rows"`
}

// Share returns a cell as a share of its row's articles, 0 for an empty
// row.
func (c *Confusion) Share(row, col int) float64 {
	return ratio(c.Counts[row][col], c.Rows[row])
}

// newConfusion builds the matrix of truth and assigned, indexed as in
// newReport.
func newConfusion(labels []string, truth, assigned [][]bool) *Confusion {
	L := len(labels)
	c := &Confusion{Names: append(slices.Clone(labels), "none"), Counts: make([][]int, L+1), Rows: make([]int, L+1)}
	for r := range c.Counts {
		c.Counts[r] = make([]int, L+1)
	}
	for i := range truth {
		anyAssigned := slices.Contains(assigned[i], true)
		row := func(r int) {
			c.Rows[r]++
			if !anyAssigned {
				c.Counts[r][L]++
			}
			for col := range L {
				if assigned[i][col] && (col == r || !truth[i][col]) {
					c.Counts[r][col]++
				}
			}
		}
		carries := false
		for l := range L {
			if truth[i][l] {
				carries = true
				row(l)
			}
		}
		if !carries {
			row(L)
		}
	}
	return c
}

// ReliabilityBin is one equal-width confidence bin over all (article,
// label) pairs.
type ReliabilityBin struct {
	// Lower and Upper bound the confidences in the bin: [Lower, Upper), the
	// last bin closed.
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
	// N is the number of pairs in the bin, Confidence their mean confidence
	// and Positives the share of them that carry the label (0 when empty).
	N          int     `json:"n"`
	Confidence float64 `json:"confidence"`
	Positives  float64 `json:"positives"`
}

// LabelMetrics is one label's precision, recall and F1 at its threshold,
// and its support (the number of articles that carry it).
type LabelMetrics struct {
	Label     string  `json:"label"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"`
}

// eceBins is the number of equal-width confidence bins ECE uses.
const eceBins = 10

// newReport scores decisions: truth[i][l] whether article i carries label l,
// conf[i][l] the confidence given and assigned[i][l] the decision.
func newReport(labels []string, truth, assigned [][]bool, conf [][]float64) Report {
	L := len(labels)
	r := Report{N: len(truth), PerLabel: make([]LabelMetrics, L)}
	var tpAll, fpAll, fnAll, wrong, exact int
	var binN [eceBins]int
	var binY, binC [eceBins]float64
	tp, fp, fn := make([]int, L), make([]int, L), make([]int, L)
	for i := range truth {
		allRight := true
		for l := range L {
			y, a := truth[i][l], assigned[i][l]
			switch {
			case y && a:
				tp[l]++
			case !y && a:
				fp[l]++
			case y && !a:
				fn[l]++
			}
			if y != a {
				wrong++
				allRight = false
			}
			b := min(int(conf[i][l]*eceBins), eceBins-1)
			binN[b]++
			binC[b] += conf[i][l]
			if y {
				binY[b]++
			}
		}
		if allRight {
			exact++
		}
	}
	for l := range L {
		m := LabelMetrics{Label: labels[l], Support: tp[l] + fn[l]}
		m.Precision = ratio(tp[l], tp[l]+fp[l])
		m.Recall = ratio(tp[l], tp[l]+fn[l])
		m.F1 = f1(tp[l], fp[l], fn[l])
		r.PerLabel[l] = m
		r.MacroF1 += m.F1 / float64(L)
		tpAll += tp[l]
		fpAll += fp[l]
		fnAll += fn[l]
	}
	r.MicroF1 = f1(tpAll, fpAll, fnAll)
	pairs := len(truth) * L
	if len(truth) > 0 {
		r.ExactMatch = float64(exact) / float64(len(truth))
	}
	if pairs > 0 {
		r.HammingLoss = float64(wrong) / float64(pairs)
	}
	r.Reliability = make([]ReliabilityBin, eceBins)
	for b := range eceBins {
		rb := ReliabilityBin{Lower: float64(b) / eceBins, Upper: float64(b+1) / eceBins, N: binN[b]}
		if binN[b] > 0 {
			n := float64(binN[b])
			rb.Confidence, rb.Positives = binC[b]/n, binY[b]/n
			r.ECE += n / float64(pairs) * math.Abs(rb.Positives-rb.Confidence)
		}
		r.Reliability[b] = rb
	}
	return r
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// f1 is 0 when a label is neither present nor predicted, as in
// scikit-learn, so an absent label lowers the macro average.
func f1(tp, fp, fn int) float64 { return ratio(2*tp, 2*tp+fp+fn) }

// Evaluate classifies every sample with m and scores the result against the
// samples' labels (see Score).
func Evaluate(m *Model, samples []Sample) Report {
	return Score(m.meta.Labels, samples, classifyAll(m, samples))
}

// classifyAll returns m's verdict on each sample.
func classifyAll(m *Model, samples []Sample) []Result {
	results := make([]Result, len(samples))
	for i, s := range samples {
		results[i] = m.Classify(s.Title, s.Text)
	}
	return results
}

// Score scores results[i], a model's verdict on samples[i], against the
// samples' labels over the label set labels: the way to evaluate a model
// that is not in this process. Labels outside the set are ignored, and a
// label missing from a result counts as not assigned with confidence 0.
func Score(labels []string, samples []Sample, results []Result) Report {
	index := make(map[string]int, len(labels))
	for l, name := range labels {
		index[name] = l
	}
	truth := make([][]bool, len(samples))
	assigned := make([][]bool, len(samples))
	conf := make([][]float64, len(samples))
	for i, s := range samples {
		truth[i] = make([]bool, len(labels))
		for _, name := range s.Labels {
			if l, ok := index[name]; ok {
				truth[i][l] = true
			}
		}
		assigned[i] = make([]bool, len(labels))
		conf[i] = make([]float64, len(labels))
		if i >= len(results) {
			continue
		}
		for _, t := range results[i].Topics {
			if l, ok := index[t.Label]; ok {
				assigned[i][l] = t.Assigned
				conf[i][l] = t.Confidence
			}
		}
	}
	r := newReport(labels, truth, assigned, conf)
	r.Confusion = newConfusion(labels, truth, assigned)
	return r
}

// ScoreByLength scores results[i], the verdict on samples[i], as Score
// does, over all samples and over the short and the long ones apart: an
// article of minWords words (WordCount) or more is long.
func ScoreByLength(labels []string, samples []Sample, results []Result, minWords int) LengthReport {
	var shortS, longS []Sample
	var shortR, longR []Result
	for i, s := range samples {
		if WordCount(s.Title, s.Text) >= minWords {
			longS, longR = append(longS, s), append(longR, results[i])
		} else {
			shortS, shortR = append(shortS, s), append(shortR, results[i])
		}
	}
	return LengthReport{
		MinWords: minWords,
		All:      Score(labels, samples, results),
		Short:    Score(labels, shortS, shortR),
		Long:     Score(labels, longS, longR),
	}
}

// MaxMacroF1Drop is how far a new model's cross-validated macro-F1 may fall
// below the model it replaces before a quality gate refuses it: the
// server's Train and the CLI's train --out apply the same gate.
const MaxMacroF1Drop = 0.02

// QualityError is a quality gate's refusal of a model.
type QualityError struct {
	// MacroF1 is the new model's cross-validated macro-F1, Baseline the
	// model it was compared with.
	MacroF1  float64
	Baseline Metadata
}

// Error names both figures and the baseline's version.
func (e *QualityError) Error() string {
	return fmt.Sprintf("the new model's cross-validated macro-F1 %.4f is more than %.2f below the baseline's %.4f (version %s)",
		e.MacroF1, MaxMacroF1Drop, e.Baseline.CV.MacroF1, e.Baseline.Version)
}

// CheckQuality returns a *QualityError when candidate's cross-validated
// macro-F1 is more than MaxMacroF1Drop below baseline's.
func CheckQuality(candidate, baseline Metadata) error {
	if candidate.CV.MacroF1 < baseline.CV.MacroF1-MaxMacroF1Drop {
		return &QualityError{MacroF1: candidate.CV.MacroF1, Baseline: baseline}
	}
	return nil
}
