package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/client"
)

func newEvalCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		data      []string
		mf        modelFlags
		format    string
		reportDir string
	)
	cmd := &cobra.Command{
		Use:   "eval --data FILE.jsonl [--addr ADDR | --model MODEL] [--report DIR]",
		Short: "Score a model against labelled samples",
		Long: `Eval classifies every sample and prints per-label precision, recall, F1 and
support, micro- and macro-F1, exact-match accuracy, hamming loss and the
expected calibration error (10 equal-width bins over all article-label pairs).

It scores the embedded model unless --model names a model file or --addr a
server (eval asks a server only when --addr is given).

--report DIR writes DIR/report.md with the metrics table, a confusion matrix
(DIR/confusion.png) and a reliability diagram (DIR/reliability.png).`,
		Example: `  artclass eval --data ../shared/data/news/dev.jsonl
  artclass eval --data dev.jsonl --model my.model -o json
  artclass eval --data dev.jsonl --addr localhost:50051 --report eval-report/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(data) == 0 {
				return usagef("eval: --data is required")
			}
			if format != "table" && format != "json" {
				return usagef("eval: -o must be table or json, not %q", format)
			}
			be, err := mf.open(cmd.Flags())
			if err != nil {
				return err
			}
			defer be.close()
			samples, err := readAll(data)
			if err != nil {
				return err
			}
			ev, err := evaluate(cmd.Context(), be, samples)
			if err != nil {
				return err
			}
			r := ev.report()
			if reportDir != "" {
				if err := writeReport(reportDir, ev, r, be.where(), data); err != nil {
					return err
				}
				fmt.Fprintf(stderr, "report written to %s\n", reportDir)
			}
			if format == "json" {
				return json.NewEncoder(stdout).Encode(evalJSON(r))
			}
			fmt.Fprintf(stdout, "model %s on %d samples:\n", ev.version, r.N)
			return writeReportTable(stdout, r)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&data, "data", nil, "JSONL file of labelled samples (repeatable)")
	mf.register(f, false)
	f.StringVarP(&format, "output", "o", "table", "output format: table or json")
	f.StringVar(&reportDir, "report", "", "write report.md and its PNG plots into `DIR`")
	return cmd
}

// evaluation holds a model's verdicts on labelled samples: results[i] is
// the verdict on samples[i].
type evaluation struct {
	labels  []string
	version string
	samples []classifier.Sample
	results []classifier.Result
}

// evalBatch is how many samples go in one call (fewer when they pass
// maxBatchBytes); evalJobs calls run at once.
const (
	evalBatch = 200
	evalJobs  = 4
)

// evaluate classifies every sample with be.
func evaluate(ctx context.Context, be backend, samples []classifier.Sample) (*evaluation, error) {
	labels, err := be.labels(ctx)
	if err != nil {
		return nil, err
	}
	ev := &evaluation{
		labels:  labels,
		samples: samples,
		results: make([]classifier.Result, len(samples)),
	}
	each := func(_ context.Context, yield func(item) error) error {
		for i, s := range samples {
			if err := yield(item{source: strconv.Itoa(i), title: s.Title, text: s.Text}); err != nil {
				return err
			}
		}
		return nil
	}
	i := 0
	err = classifyEach(ctx, be, each, client.Filter{}, evalJobs, evalBatch, func(_ item, r client.ItemResult) error {
		if r.Err != nil {
			return fmt.Errorf("sample %d (%.40q): %w", i, samples[i].Text, r.Err)
		}
		if ev.version == "" {
			ev.version = r.ModelVersion
		}
		ev.results[i] = classifier.Result{Topics: r.Topics}
		i++
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ev, nil
}

// report scores the decisions with classifier.Score, the metrics an
// in-process classifier.Evaluate computes.
func (ev *evaluation) report() classifier.Report {
	return classifier.Score(ev.labels, ev.samples, ev.results)
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
