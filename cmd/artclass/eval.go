package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/artclass/artclass/classifier"
	"github.com/spf13/cobra"
)

func newEvalCmd(stdout io.Writer) *cobra.Command {
	var data []string
	var modelPath, format string
	cmd := &cobra.Command{
		Use:   "eval --data FILE.jsonl [--model MODEL] [-o table|json]",
		Short: "Score a model against labelled samples",
		Long: `Eval classifies every sample and prints per-label precision, recall, F1 and
support, micro- and macro-F1, exact-match accuracy, hamming loss and the
expected calibration error (10 equal-width bins over all article-label pairs).
Without --model it scores the embedded default model.`,
		Example: `  artclass eval --data ../shared/data/news/dev.jsonl
  artclass eval --data dev.jsonl --model my.model -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(data) == 0 {
				return usageError{fmt.Errorf("eval: --data is required")}
			}
			if format != "table" && format != "json" {
				return usageError{fmt.Errorf("eval: -o must be table or json, not %q", format)}
			}
			m, err := loadModel(modelPath)
			if err != nil {
				return err
			}
			samples, err := readAll(data)
			if err != nil {
				return err
			}
			r := classifier.Evaluate(m, samples)
			if format == "json" {
				return json.NewEncoder(stdout).Encode(evalJSON(r))
			}
			fmt.Fprintf(stdout, "model %s on %d samples:\n", m.Version(), r.N)
			return writeReportTable(stdout, r)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&data, "data", nil, "JSONL file of labelled samples (repeatable)")
	f.StringVar(&modelPath, "model", "", "model file (default: the embedded model)")
	f.StringVarP(&format, "output", "o", "table", "output format: table or json")
	return cmd
}

// evalReport is the JSON shape of eval -o json: per_label keyed by label.
type evalReport struct {
	N           int                         `json:"n"`
	MicroF1     float64                     `json:"micro_f1"`
	MacroF1     float64                     `json:"macro_f1"`
	ExactMatch  float64                     `json:"exact_match"`
	HammingLoss float64                     `json:"hamming_loss"`
	ECE         float64                     `json:"ece"`
	PerLabel    map[string]labelMetricsJSON `json:"per_label"`
}

type labelMetricsJSON struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"`
}

func evalJSON(r classifier.Report) evalReport {
	out := evalReport{N: r.N, MicroF1: r.MicroF1, MacroF1: r.MacroF1, ExactMatch: r.ExactMatch,
		HammingLoss: r.HammingLoss, ECE: r.ECE, PerLabel: make(map[string]labelMetricsJSON, len(r.PerLabel))}
	for _, l := range r.PerLabel {
		out.PerLabel[l.Label] = labelMetricsJSON{l.Precision, l.Recall, l.F1, l.Support}
	}
	return out
}

// loadModel loads the model file at path, or the embedded model if path is
// empty.
func loadModel(path string) (*classifier.Model, error) {
	if path == "" {
		return classifier.Default()
	}
	return classifier.LoadFile(path)
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
