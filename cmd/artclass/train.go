package main

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/artclass/artclass/classifier"
	"github.com/spf13/cobra"
)

func newTrainCmd(stdout, stderr io.Writer) *cobra.Command {
	opts := classifier.DefaultTrainOptions()
	var data []string
	var out, created string
	cmd := &cobra.Command{
		Use:   "train --data FILE.jsonl [--data FILE2.jsonl]... --out MODEL",
		Short: "Train a model from labelled samples and write it",
		Long: `Train reads labelled samples, cross-validates each algorithm, ships the one with
the best macro-F1, calibrates its confidences on out-of-fold scores, prints the
cross-validated report and writes the model file atomically.`,
		Example: `  artclass train --data testdata/corpus/defence.jsonl --data testdata/corpus/negatives-general.jsonl --out my.model
  artclass train --data samples.jsonl --out my.model --algorithm logreg --l2 1e-4`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(data) == 0 {
				return usageError{fmt.Errorf("train: --data is required")}
			}
			if out == "" {
				return usageError{fmt.Errorf("train: --out is required")}
			}
			if created != "" {
				t, err := time.Parse(time.RFC3339, created)
				if err != nil {
					return usageError{fmt.Errorf("train: --created: %w", err)}
				}
				opts.Created = t
			}
			samples, err := readAll(data)
			if err != nil {
				return err
			}
			fmt.Fprintf(stderr, "training on %d samples from %d file(s)…\n", len(samples), len(data))
			start := time.Now()
			m, err := classifier.Train(cmd.Context(), samples, opts)
			if err != nil {
				return err
			}
			if err := m.WriteFile(out); err != nil {
				return err
			}
			md := m.Metadata()
			fmt.Fprintf(stdout, "model %s (%s, %d terms, %d labels) written to %s in %s\n",
				md.Version, md.Algorithm, md.Terms, len(md.Labels), out, time.Since(start).Round(time.Millisecond))
			for _, alg := range sortedKeys(md.Candidates) {
				fmt.Fprintf(stdout, "  cross-validated macro-F1 of %s: %.4f\n", alg, md.Candidates[alg])
			}
			fmt.Fprintf(stdout, "%d-fold cross-validation of %s:\n", md.Options.Folds, md.Algorithm)
			return writeReportTable(stdout, md.CV)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&data, "data", nil, "JSONL file of labelled samples (repeatable)")
	f.StringVar(&out, "out", "", "path of the model file to write")
	f.StringVar(&opts.Algorithm, "algorithm", opts.Algorithm, "auto, logreg or rocchio")
	f.IntVar(&opts.MinDF, "min-df", opts.MinDF, "drop terms found in fewer articles")
	f.IntVar(&opts.MaxFeatures, "max-features", opts.MaxFeatures, "keep at most this many terms (0: all)")
	f.BoolVar(&opts.Bigrams, "bigrams", opts.Bigrams, "add pairs of adjacent words as terms")
	f.Float64Var(&opts.L2, "l2", opts.L2, "logistic regression's L2 regularisation strength")
	f.IntVar(&opts.Folds, "folds", opts.Folds, "cross-validation folds")
	f.Uint64Var(&opts.Seed, "seed", opts.Seed, "seed of the fold assignment")
	f.StringVar(&created, "created", "", "creation time to stamp (RFC 3339; default now), for reproducible files")
	return cmd
}

// readAll reads every sample of the given JSONL files.
func readAll(paths []string) ([]classifier.Sample, error) {
	var all []classifier.Sample
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		err = classifier.ReadSamples(f, p, func(s classifier.Sample) error {
			all = append(all, s)
			return nil
		})
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return all, nil
}

func writeReportTable(w io.Writer, r classifier.Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "label\tprecision\trecall\tF1\tsupport\t")
	for _, l := range r.PerLabel {
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%d\t\n", l.Label, l.Precision, l.Recall, l.F1, l.Support)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "n=%d  micro-F1=%.4f  macro-F1=%.4f  exact-match=%.4f  hamming-loss=%.4f  ECE=%.4f\n",
		r.N, r.MicroF1, r.MacroF1, r.ExactMatch, r.HammingLoss, r.ECE)
	return err
}
