package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/artclass/artclass/classifier"
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
		Long: fmt.Sprintf(`Eval classifies every sample and prints per-label precision, recall, F1 and
support, micro- and macro-F1, exact match, hamming loss and the expected
calibration error, over all samples and over the short and the long ones
apart (long: %d words or more). It scores the embedded model unless --model
or --addr (or ARTCLASS_ADDR) says otherwise. -o json adds the model version,
the data files and each confusion matrix; --report DIR writes report.md with
a confusion matrix and a reliability diagram.`, classifier.LongArticleWords),
		Example: `  artclass eval --data examples/samples.jsonl
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
			be, err := mf.open(cmd.Flags(), stderr)
			if err != nil {
				return err
			}
			defer be.close()
			samples, err := readSamples(data, stderr)
			if err != nil {
				return err
			}
			ev, err := evaluate(cmd.Context(), be, samples)
			if err != nil {
				return err
			}
			ev.Model, ev.Data = be.where(), data
			if reportDir != "" {
				if err := writeReport(reportDir, ev); err != nil {
					return err
				}
				fmt.Fprintf(stderr, "report written to %s\n", reportDir)
			}
			if format == "json" {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(ev)
			}
			return writeEvaluation(stdout, ev)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&data, "data", nil, "JSONL file of labelled samples (repeatable)")
	mf.register(f, false)
	f.StringVarP(&format, "output", "o", "table", "output format: table or json")
	f.StringVar(&reportDir, "report", "", "write report.md and its PNG plots into `DIR`")
	return cmd
}

// evaluation is what eval prints: the reports of a model on labelled
// samples, overall and by length, with what was evaluated.
type evaluation struct {
	ModelVersion string `json:"model_version"`
	// Model names the model file or the server.
	Model string `json:"model"`
	// Data are the sample files.
	Data []string `json:"data"`
	classifier.LengthReport
}

// evalBatch is how many samples go in one call (fewer when they pass
// maxBatchBytes); evalJobs calls run at once.
const (
	evalBatch = 200
	evalJobs  = 4
)

// evaluate classifies every sample with be and scores the verdicts with
// classifier.ScoreByLength: the metrics an in-process classifier.Evaluate
// computes.
func evaluate(ctx context.Context, be backend, samples []classifier.Sample) (*evaluation, error) {
	md, err := be.model(ctx)
	if err != nil {
		return nil, err
	}
	ev := &evaluation{ModelVersion: md.Version}
	results := make([]classifier.Result, len(samples))
	each := func(_ context.Context, yield func(item) error) error {
		for i, s := range samples {
			a := classifier.Article{Title: s.Title, Text: s.Text}
			if err := yield(item{source: strconv.Itoa(i), Article: a}); err != nil {
				return err
			}
		}
		return nil
	}
	i := 0
	err = classifyEach(ctx, be, each, classifier.Filter{}, evalJobs, evalBatch, func(_ item, v verdict) error {
		if v.err != nil {
			return fmt.Errorf("sample %d (%.40q): %w", i, samples[i].Text, v.err)
		}
		results[i] = v.Result
		i++
		return nil
	})
	if err != nil {
		return nil, err
	}
	ev.LengthReport = classifier.ScoreByLength(md.Labels, samples, results, classifier.LongArticleWords)
	return ev, nil
}

// writeEvaluation prints the table of every sample, then of the short and
// the long ones.
func writeEvaluation(w io.Writer, ev *evaluation) error {
	parts := []struct {
		name string
		r    classifier.Report
	}{
		{"", ev.All},
		{fmt.Sprintf("short samples (under %d words)", ev.MinWords), ev.Short},
		{fmt.Sprintf("long samples (%d words or more)", ev.MinWords), ev.Long},
	}
	fmt.Fprintf(w, "model %s on %d samples:\n", ev.ModelVersion, ev.All.N)
	for i, p := range parts {
		if i > 0 {
			fmt.Fprintf(w, "\n%s: %d\n", p.name, p.r.N)
			if p.r.N == 0 {
				continue
			}
		}
		if err := writeReportTable(w, p.r); err != nil {
			return err
		}
	}
	return nil
}
