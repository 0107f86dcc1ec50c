package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/evalreport"
)

func newEvalCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		data              []string
		mf                modelFlags
		format, reportDir string
	)
	cmd := &cobra.Command{
		Use:   "eval --data FILE.jsonl [--addr ADDR | --model MODEL] [--report DIR]",
		Short: "Score a model against labelled samples",
		Example: `  artclass eval --data dev.jsonl --model my.model -o json
  artclass eval --data dev.jsonl --addr localhost:50051 --report eval-report/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(data) == 0 {
				return usagef("eval: --data is required")
			}
			if err := checkFormat("eval", format, "table", "json"); err != nil {
				return err
			}
			be, err := mf.open(cmd.Flags(), stderr)
			if err != nil {
				return err
			}
			defer be.close()
			samples, err := classifier.SampleFiles(data).Read(warnRare(stderr))
			if err != nil {
				return err
			}
			ev, err := evaluate(cmd.Context(), be, samples)
			if err != nil {
				return err
			}
			ev.Model, ev.Data = be.where(), data
			if reportDir != "" {
				if err := evalreport.Write(reportDir, *ev); err != nil {
					return err
				}
				fmt.Fprintf(stderr, "report written to %s\n", reportDir)
			}
			return printAs(stdout, format, *ev, evalreport.WriteText)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&data, "data", nil, "JSONL file of labelled samples (repeatable)")
	mf.register(f, false)
	f.StringVarP(&format, "output", "o", "table", "output format: table or json")
	f.StringVar(&reportDir, "report", "", "write report.md and its PNG plots into `DIR`")
	return cmd
}

// evaluate classifies every sample with be and scores the verdicts with
// classifier.ScoreByLength: the metrics an in-process classifier.Evaluate
// computes.
func evaluate(ctx context.Context, be backend, samples []classifier.Sample) (*evalreport.Evaluation, error) {
	md, err := be.model(ctx)
	if err != nil {
		return nil, err
	}
	each := func(_ context.Context, yield func(classifier.ArticleRecord) error) error {
		for _, s := range samples {
			if err := yield(classifier.ArticleRecord{Article: classifier.Article{Title: s.Title, Text: s.Text}}); err != nil {
				return err
			}
		}
		return nil
	}
	results := make([]classifier.Result, 0, len(samples))
	// 4 calls of 200 samples (or maxBatchBytes) at a time.
	err = classifyEach(ctx, be, each, classifier.Filter{}, 4, 200, func(_ classifier.ArticleRecord, v verdict) error {
		if i := len(results); v.err != nil {
			return fmt.Errorf("sample %d (%.40q): %w", i, samples[i].Text, v.err)
		}
		results = append(results, v.Result)
		return nil
	})
	if err != nil {
		return nil, err
	}
	lr := classifier.ScoreByLength(md.Labels, samples, results, classifier.LongArticleWords)
	return &evalreport.Evaluation{ModelVersion: md.Version, LengthReport: lr}, nil
}
