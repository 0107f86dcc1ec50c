package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/client"
	"github.com/artclass/artclass/evalreport"
	"github.com/artclass/artclass/internal/envflag"
)

// trainFlags are train's options.
type trainFlags struct {
	opts                          classifier.TrainOptions
	data                          []string
	out, store, baseline, created string
	noActive, force, quiet        bool
	conn                          connFlags
}

func newTrainCmd(stdout, stderr io.Writer) *cobra.Command {
	tf := trainFlags{opts: classifier.DefaultTrainOptions()}
	cmd := &cobra.Command{
		Use:   "train --data FILE.jsonl... (--out MODEL [--baseline MODEL] | [--addr ADDR] --token-file FILE) [--force]",
		Short: "Train a model from labelled samples, in-process or on the server",
		Long: `Train a model from labelled JSONL samples. A model whose cross-validated macro-F1
is more than 0.02 below the baseline's (the embedded model, --baseline, or the
server's or store's active model) is refused unless --force.`,
		Example: `  artclass train --data examples/samples.jsonl --out my.model --force
  artclass train --data samples.jsonl --out my.model --baseline current.model --algorithm logreg --l2 1e-4
  artclass train --addr artclass.internal:50051 --ca-file ca.pem --token-file token --data train.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fs := cmd.Flags()
			if len(tf.data) == 0 {
				return usagef("train: --data is required")
			}
			ov := overrides(fs, &tf.opts)
			if tf.out == "" && tf.store == "" {
				return tf.remote(cmd.Context(), fs, ov, stdout, stderr)
			}
			return tf.local(cmd.Context(), fs, ov, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&tf.data, "data", nil, "JSONL file of labelled samples (repeatable)")
	f.StringVar(&tf.out, "out", "", "train in-process and write the model file here")
	f.StringVar(&tf.store, "store", "", "train in-process and put the model into the model store at `URL` (file:///dir, s3://bucket?…), as its active version after the quality gate")
	f.BoolVar(&tf.noActive, "no-activate", false, "with --store: store the model without making it active")
	f.StringVar(&tf.baseline, "baseline", "", "with --out: the model `FILE` the quality gate compares with (default: the embedded model)")
	f.StringVar(&tf.opts.Algorithm, "algorithm", tf.opts.Algorithm, "auto, logreg or rocchio")
	f.IntVar(&tf.opts.MinDF, "min-df", tf.opts.MinDF, "drop terms found in fewer articles")
	f.IntVar(&tf.opts.MaxFeatures, "max-features", tf.opts.MaxFeatures, "keep at most this many terms (0: all)")
	f.BoolVar(&tf.opts.Bigrams, "bigrams", tf.opts.Bigrams, "add pairs of adjacent words as terms")
	f.Float64Var(&tf.opts.L2, "l2", tf.opts.L2, "logistic regression's L2 regularisation strength")
	f.IntVar(&tf.opts.Folds, "folds", tf.opts.Folds, "cross-validation folds")
	f.Uint64Var(&tf.opts.Seed, "seed", tf.opts.Seed, "seed of the fold assignment")
	f.StringVar(&tf.created, "created", "", "creation time to stamp (RFC 3339; default now), for reproducible files (in-process only)")
	f.BoolVar(&tf.force, "force", false, "keep the new model even if it is worse than the baseline or the server's active model")
	f.BoolVarP(&tf.quiet, "quiet", "q", false, "no progress bar")
	tf.conn.register(f, true)
	return cmd
}

// overrides are the training options given by flag or variable: the rest
// keep the defaults of whoever trains (this process or the server).
func overrides(fs *pflag.FlagSet, o *classifier.TrainOptions) classifier.TrainOverrides {
	return classifier.TrainOverrides{
		Algorithm:   ifChanged(fs, "algorithm", &o.Algorithm),
		MinDF:       ifChanged(fs, "min-df", &o.MinDF),
		MaxFeatures: ifChanged(fs, "max-features", &o.MaxFeatures),
		Bigrams:     ifChanged(fs, "bigrams", &o.Bigrams),
		L2:          ifChanged(fs, "l2", &o.L2),
		Folds:       ifChanged(fs, "folds", &o.Folds),
		Seed:        ifChanged(fs, "seed", &o.Seed),
	}
}

// ifChanged is v when the flag name was set, and nil (keep the default)
// otherwise.
func ifChanged[T any](fs *pflag.FlagSet, name string, v *T) *T {
	if fs.Changed(name) {
		return v
	}
	return nil
}

// local trains in-process and writes --out, stores into --store, or both.
func (tf *trainFlags) local(ctx context.Context, fs *pflag.FlagSet, ov classifier.TrainOverrides, stdout, stderr io.Writer) error {
	switch {
	case envflag.FromCommandLine(fs, "addr") || envflag.FromCommandLine(fs, "token-file"):
		return usagef("train: --out and --store train in-process; --addr and --token-file are for training on the server")
	case tf.noActive && tf.store == "":
		return usagef("train: --no-activate goes with --store")
	}
	opts, err := classifier.DefaultTrainOptions().Apply(ov)
	if err != nil {
		return usagef("train: %w", err)
	}
	if tf.created != "" {
		if opts.Created, err = time.Parse(time.RFC3339, tf.created); err != nil {
			return usagef("train: --created: %w", err)
		}
	}
	if tf.out != "" {
		if err := checkWritable(tf.out); err != nil {
			return err
		}
	}
	// A store gates against its own active version unless --baseline
	// names another.
	var baseline *local
	if tf.store == "" || tf.baseline != "" {
		if baseline, err = localModel(tf.baseline, classifier.Limits{}); err != nil {
			return fmt.Errorf("train: baseline: %w", err)
		}
	}
	samples, err := classifier.SampleFiles(tf.data).Read(warnRare(stderr))
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "training on %d samples from %d file(s)…\n", len(samples), len(tf.data))
	start := time.Now()
	m, err := classifier.Train(ctx, samples, opts)
	if err != nil {
		return err
	}
	md := m.Metadata()
	if baseline != nil && !tf.force {
		if err := classifier.CheckQuality(md, baseline.m.Metadata()); err != nil {
			return fmt.Errorf("train: %w (%s); nothing written, --force writes it anyway", err, baseline.name)
		}
	}
	if tf.out != "" {
		if err := m.WriteFile(tf.out); err != nil {
			// The error would name the temporary file the write goes through.
			return fmt.Errorf("train: write %s: %w", tf.out, unwrapPathError(err))
		}
		fmt.Fprintf(stdout, "model %s written to %s\n", m.Version(), tf.out)
	}
	if tf.store != "" {
		if err := publish(ctx, tf.store, m, tf.noActive, tf.force, stdout); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "model %s (%s, %d terms, %d labels) trained in %s\n",
		md.Version, md.Algorithm, md.Terms, len(md.Labels), time.Since(start).Round(time.Millisecond))
	for _, alg := range slices.Sorted(maps.Keys(md.Candidates)) {
		fmt.Fprintf(stdout, "  cross-validated macro-F1 of %s: %.4f\n", alg, md.Candidates[alg])
	}
	if baseline != nil {
		fmt.Fprintf(stdout, "  baseline %s (%s): %.4f\n", baseline.m.Version(), baseline.name, baseline.m.Metadata().CV.MacroF1)
	}
	return evalreport.WriteCV(stdout, md)
}

// checkWritable fails, before any training, when the model file cannot be
// created in its directory.
func checkWritable(path string) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".artclass-write-check-*")
	if err != nil {
		return fmt.Errorf("train: cannot write %s: directory %s: %w", path, dir, unwrapPathError(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

// remote streams the samples to the server's Train.
func (tf *trainFlags) remote(ctx context.Context, fs *pflag.FlagSet, ov classifier.TrainOverrides, stdout, stderr io.Writer) error {
	switch {
	case fs.Changed("created") || fs.Changed("baseline") || fs.Changed("no-activate"):
		return usagef("train: --created, --baseline and --no-activate are for training in-process (--out, --store); the server stamps its own time and gates against its active model")
	case tf.conn.tokenFile == "":
		return usagef("train: training on the server needs its admin token: --token-file FILE (or ARTCLASS_TOKEN_FILE), or --out MODEL to train in-process")
	}
	files := classifier.SampleFiles(tf.data)
	total, err := files.Check(warnRare(stderr))
	if err != nil {
		return err
	}
	c, err := tf.conn.dial(stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	bar := newBar(stderr, !tf.quiet && isTerminal(stderr), total, "sending samples")
	var sent int
	topts := client.TrainOptions{Overrides: ov, Force: tf.force, Progress: func(n int, _ int64) { sent = n }}
	start := time.Now()
	res, err := c.Train(ctx, files.Each(bar), topts)
	bar.Finish()
	if err != nil {
		return tf.conn.serverError(err)
	}
	md := res.Model
	fmt.Fprintf(stdout, "server %s trained model %s (%s, %d terms, %d labels) on %d samples in %s; it is active\n",
		tf.conn.addr, md.Version, md.Algorithm, md.Terms, len(md.Labels), sent, time.Since(start).Round(time.Millisecond))
	if res.PreviousVersion != "" {
		fmt.Fprintf(stdout, "  it replaced %s (cross-validated macro-F1 %.4f)\n", res.PreviousVersion, res.PreviousMacroF1)
	}
	return evalreport.WriteCV(stdout, md.Metadata)
}

// warnRare warns on stderr about a label few samples carry.
func warnRare(stderr io.Writer) func(classifier.RareLabel) {
	return func(r classifier.RareLabel) { fmt.Fprintf(stderr, "artclass: warning: %s\n", r) }
}
