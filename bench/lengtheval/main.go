// Lengtheval measures artclass on short and long articles apart: a model
// trained on the shared train.jsonl and the embedded default model, each
// scored on dev.jsonl (all, short, long) and on the project's own long
// evaluation set (testdata/longeval), which no model is trained on. It
// also reports training time and model size. It uses the classifier
// package directly, so it needs no server and no CLI.
//
// Usage:
//
//	go run ./bench/lengtheval [--shared ../shared/data/news] [--longeval 'testdata/longeval/*.jsonl']
//	    [--min-words 300] [--synthetic-long 0] [--passage-words 100] [--corpus] [-o text|json]
//
// Run it from the repository root. With --corpus it also trains the default
// model's recipe (the corpus files) with the given options, to compare
// options on every measure in one run.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/artclass/artclass/classifier"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "lengtheval:", err)
		os.Exit(1)
	}
}

// result is one model's figures.
type result struct {
	Model      string                             `json:"model"`
	TrainSecs  float64                            `json:"train_seconds,omitempty"`
	FileBytes  int                                `json:"file_bytes"`
	CVMacroF1  float64                            `json:"cv_macro_f1"`
	Algorithm  string                             `json:"algorithm"`
	Synthetic  int                                `json:"synthetic"`
	Evaluation map[string]classifier.LengthReport `json:"evaluation"`
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("lengtheval", flag.ContinueOnError)
	shared := fs.String("shared", "../shared/data/news", "directory of train.jsonl and dev.jsonl")
	longeval := fs.String("longeval", "testdata/longeval/*.jsonl", "glob of the long evaluation files")
	minWords := fs.Int("min-words", classifier.LongArticleWords, "word count from which an article is long")
	synthetic := fs.Float64("synthetic-long", 0, "TrainOptions.SyntheticLong for the train.jsonl model")
	passage := fs.Int("passage-words", classifier.DefaultPassageWords, "TrainOptions.PassageWords for the train.jsonl model")
	corpus := fs.Bool("corpus", false, "also train the default model's recipe (classifier.DefaultCorpus) with these options")
	out := fs.String("o", "text", "output: text or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	trainSet, sets, err := readSets(*shared, *longeval)
	if err != nil {
		return err
	}
	opts := classifier.DefaultTrainOptions()
	opts.SyntheticLong = *synthetic
	opts.PassageWords = *passage
	opts.Created = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	models, err := trainModels(ctx, trainSet, opts, *corpus)
	if err != nil {
		return err
	}
	results, err := evaluate(models, sets, *minWords)
	if err != nil {
		return err
	}
	if *out == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	writeText(stdout, results)
	return nil
}

// readSets reads the training samples (shared/train.jsonl) and the
// evaluation sets: "dev" (shared/dev.jsonl) and "longeval" (the files
// longeval matches).
func readSets(shared, longeval string) ([]classifier.Sample, map[string][]classifier.Sample, error) {
	trainSet, err := classifier.ReadSamplesFile(filepath.Join(shared, "train.jsonl"))
	if err != nil {
		return nil, nil, fmt.Errorf("read train: %w", err)
	}
	sets := map[string][]classifier.Sample{}
	if sets["dev"], err = classifier.ReadSamplesFile(filepath.Join(shared, "dev.jsonl")); err != nil {
		return nil, nil, fmt.Errorf("read dev: %w", err)
	}
	files, err := filepath.Glob(longeval)
	if err != nil {
		return nil, nil, fmt.Errorf("longeval: %w", err)
	}
	if sets["longeval"], err = classifier.SampleFiles(files).Read(nil); err != nil {
		return nil, nil, fmt.Errorf("read longeval: %w", err)
	}
	if len(sets["longeval"]) == 0 {
		return nil, nil, errors.New("no long evaluation articles: --longeval matches no file")
	}
	return trainSet, sets, nil
}

// model is one model under evaluation, and how long it took to train.
type model struct {
	name  string
	model *classifier.Model
	secs  float64
}

// trainModels trains on trainSet with opts, and with corpus on the default
// model's recipe too; the embedded default model stands beside them.
func trainModels(ctx context.Context, trainSet []classifier.Sample, opts classifier.TrainOptions, corpus bool) ([]model, error) {
	start := time.Now()
	trained, err := classifier.Train(ctx, trainSet, opts)
	if err != nil {
		return nil, err
	}
	trainSecs := time.Since(start).Seconds()
	def, err := classifier.Default()
	if err != nil {
		return nil, err
	}
	models := []model{{"train.jsonl", trained, trainSecs}, {"embedded default", def, 0}}
	if !corpus {
		return models, nil
	}
	samples, err := classifier.SampleFiles(classifier.DefaultCorpus).Read(nil)
	if err != nil {
		return nil, fmt.Errorf("read corpus: %w", err)
	}
	start = time.Now()
	m, err := classifier.Train(ctx, samples, opts)
	if err != nil {
		return nil, err
	}
	return append(models, model{"corpus", m, time.Since(start).Seconds()}), nil
}

// evaluate scores every model on every set, whole and by length.
func evaluate(models []model, sets map[string][]classifier.Sample, minWords int) ([]result, error) {
	var results []result
	for _, m := range models {
		data, err := m.model.MarshalBinary()
		if err != nil {
			return nil, err
		}
		md := m.model.Metadata()
		r := result{Model: m.name, TrainSecs: m.secs, FileBytes: len(data), CVMacroF1: md.CV.MacroF1,
			Algorithm: md.Algorithm, Synthetic: md.Synthetic, Evaluation: map[string]classifier.LengthReport{}}
		for name, samples := range sets {
			r.Evaluation[name] = classifier.EvaluateByLength(m.model, samples, minWords)
		}
		results = append(results, r)
	}
	return results, nil
}

// writeText prints each model's line and its reports on dev and longeval,
// all, short and long.
func writeText(w io.Writer, results []result) {
	for _, r := range results {
		fmt.Fprintf(w, "== %s model: %s, CV macro-F1 %.3f, %d synthetic, %d bytes", r.Model, r.Algorithm, r.CVMacroF1, r.Synthetic, r.FileBytes)
		if r.TrainSecs > 0 {
			fmt.Fprintf(w, ", trained in %.2f s", r.TrainSecs)
		}
		fmt.Fprintln(w)
		for _, set := range []string{"dev", "longeval"} {
			lr := r.Evaluation[set]
			for _, part := range []struct {
				name string
				rep  classifier.Report
			}{{"all", lr.All}, {"short", lr.Short}, {"long", lr.Long}} {
				if part.rep.N == 0 || part.name != "all" && part.rep.N == lr.All.N {
					continue // the set is all short or all long
				}
				fmt.Fprintf(w, "  %-8s %-5s %s\n", set, part.name, line(part.rep))
			}
		}
	}
}

// line prints a report on one line: n, macro- and micro-F1, ECE, and each
// label's precision and recall with its support.
func line(r classifier.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "n=%3d macro-F1 %.3f micro-F1 %.3f ECE %.3f |", r.N, r.MacroF1, r.MicroF1, r.ECE)
	for _, l := range r.PerLabel {
		fmt.Fprintf(&b, " %s P %.2f R %.2f (%d)", l.Label, l.Precision, l.Recall, l.Support)
	}
	return b.String()
}
