package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/client"
)

func newTrainCmd(stdout, stderr io.Writer) *cobra.Command {
	opts := classifier.DefaultTrainOptions()
	var (
		data    []string
		out     string
		created string
		force   bool
		quiet   bool
		conn    connFlags
	)
	cmd := &cobra.Command{
		Use:   "train --data FILE.jsonl... (--out MODEL | [--addr ADDR] --token-file FILE [--force])",
		Short: "Train a model from labelled samples, in-process or on the server",
		Long: `Train reads labelled samples, cross-validates each algorithm, ships the one with
the best macro-F1, calibrates its confidences on out-of-fold scores, and prints
the cross-validated report.

With --out it trains in-process and writes the model file atomically.

Without --out it streams the samples to the server at --addr (default
localhost:50051, or $ARTCLASS_ADDR), which trains, writes and swaps in the new
model; it needs the server's admin token (--token-file, or
$ARTCLASS_TOKEN_FILE). The server refuses a model whose macro-F1 is more than
0.02 below the active model's unless --force is given. A token travels in
plaintext only to a server on this machine; use --tls or --ca-file otherwise.`,
		Example: `  artclass train --data testdata/corpus/defence.jsonl --data testdata/corpus/negatives-general.jsonl --out my.model
  artclass train --data samples.jsonl --out my.model --algorithm logreg --l2 1e-4
  artclass train --addr localhost:50051 --token-file token --data train.jsonl
  artclass train --addr artclass.internal:50051 --ca-file ca.pem --token-file token --data train.jsonl --force`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fs := cmd.Flags()
			if len(data) == 0 {
				return usagef("train: --data is required")
			}
			if out == "" {
				if fs.Changed("created") {
					return usagef("train: --created is for training in-process (--out); the server stamps its own time")
				}
				topts := client.TrainOptions{Force: force}
				if fs.Changed("algorithm") {
					topts.Algorithm = opts.Algorithm
				}
				if fs.Changed("min-df") {
					topts.MinDF = opts.MinDF
				}
				if fs.Changed("max-features") {
					topts.MaxFeatures = opts.MaxFeatures
				}
				if fs.Changed("bigrams") {
					topts.Bigrams = &opts.Bigrams
				}
				if fs.Changed("folds") {
					topts.Folds = opts.Folds
				}
				if fs.Changed("l2") {
					topts.L2 = &opts.L2
				}
				if fs.Changed("seed") {
					topts.Seed = &opts.Seed
				}
				return trainRemote(cmd.Context(), &conn, data, topts, quiet, stdout, stderr)
			}
			if fs.Changed("addr") || fs.Changed("token-file") || force {
				return usagef("train: --out trains in-process; --addr, --token-file and --force are for training on the server")
			}
			if created != "" {
				t, err := time.Parse(time.RFC3339, created)
				if err != nil {
					return usagef("train: --created: %w", err)
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
			for _, alg := range slices.Sorted(maps.Keys(md.Candidates)) {
				fmt.Fprintf(stdout, "  cross-validated macro-F1 of %s: %.4f\n", alg, md.Candidates[alg])
			}
			fmt.Fprintf(stdout, "%d-fold cross-validation of %s:\n", md.Options.Folds, md.Algorithm)
			return writeReportTable(stdout, md.CV)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&data, "data", nil, "JSONL file of labelled samples (repeatable)")
	f.StringVar(&out, "out", "", "train in-process and write the model file here")
	f.StringVar(&opts.Algorithm, "algorithm", opts.Algorithm, "auto, logreg or rocchio")
	f.IntVar(&opts.MinDF, "min-df", opts.MinDF, "drop terms found in fewer articles")
	f.IntVar(&opts.MaxFeatures, "max-features", opts.MaxFeatures, "keep at most this many terms (0: all)")
	f.BoolVar(&opts.Bigrams, "bigrams", opts.Bigrams, "add pairs of adjacent words as terms")
	f.Float64Var(&opts.L2, "l2", opts.L2, "logistic regression's L2 regularisation strength")
	f.IntVar(&opts.Folds, "folds", opts.Folds, "cross-validation folds")
	f.Uint64Var(&opts.Seed, "seed", opts.Seed, "seed of the fold assignment")
	f.StringVar(&created, "created", "", "creation time to stamp (RFC 3339; default now), for reproducible files (in-process only)")
	f.BoolVar(&force, "force", false, "make the server's new model active even if it is worse than the active one")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	conn.register(f, true)
	return cmd
}

// trainRemote streams the samples of paths to the server's Train.
func trainRemote(ctx context.Context, conn *connFlags, paths []string, opts client.TrainOptions, quiet bool, stdout, stderr io.Writer) error {
	if conn.tokenFile == "" {
		return usagef("train: training on the server needs its admin token: --token-file FILE (or ARTCLASS_TOKEN_FILE), or --out MODEL to train in-process")
	}
	c, err := conn.dial()
	if err != nil {
		return err
	}
	defer c.Close()

	var total int64
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return err
		}
		total += info.Size()
	}
	var bar *progressbar.ProgressBar
	if !quiet && isTerminal(stderr) {
		bar = newBar(stderr, total, "sending samples")
	}
	samples := func(yield func(classifier.Sample) error) error {
		for _, p := range paths {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			var r io.Reader = f
			if bar != nil {
				r = io.TeeReader(f, bar)
			}
			err = classifier.ReadSamples(r, p, yield)
			f.Close()
			if err != nil {
				return err
			}
		}
		return nil
	}
	var sent int
	opts.Progress = func(n int, _ int64) {
		sent = n
		if bar != nil {
			bar.Describe(fmt.Sprintf("sent %d samples", n))
		}
	}
	start := time.Now()
	res, err := c.Train(ctx, samples, opts)
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return conn.serverError(err)
	}
	md := res.Model
	fmt.Fprintf(stdout, "server %s trained model %s (%s, %d terms, %d labels) on %d samples in %s; it is active\n",
		conn.addr, md.Version, md.Algorithm, md.Terms, len(md.Labels), sent, time.Since(start).Round(time.Millisecond))
	if res.PreviousVersion != "" {
		fmt.Fprintf(stdout, "  it replaced %s (cross-validated macro-F1 %.4f)\n", res.PreviousVersion, res.PreviousMacroF1)
	}
	fmt.Fprintf(stdout, "%d-fold cross-validation of %s:\n", md.Options.Folds, md.Algorithm)
	return writeReportTable(stdout, md.CV)
}

// readAll reads every sample of the given JSONL files.
func readAll(paths []string) ([]classifier.Sample, error) {
	var all []classifier.Sample
	for _, p := range paths {
		samples, err := classifier.ReadSamplesFile(p)
		if err != nil {
			return nil, err
		}
		all = append(all, samples...)
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
