package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/artclass/artclass/classifier"
)

func newClassifyCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		mf modelFlags
		in inputs
		o  classifyOptions
	)
	cmd := &cobra.Command{
		Use:   "classify [FILE|DIR|-]...",
		Short: "Classify articles through the server or in-process",
		Long: `Classify scores each article of files, directories, .jsonl, .csv or - (standard
input) and prints the results in input order; a failed input is reported on
standard error and the rest go on.`,
		Example: `  artclass classify examples/articles/
  artclass classify --local --top-k 2 --explain examples/articles/ceasefire.txt
  artclass classify --addr artclass.internal:50051 --tls -o csv --include '*.md' articles/ > results.csv
  jq -c '{id, title, text: .body}' feed.json | artclass classify -o jsonl -`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			for _, g := range in.include {
				if _, err := filepath.Match(g, "x"); err != nil {
					return usagef("classify: --include %q: %v", g, err)
				}
			}
			be, err := mf.open(cmd.Flags(), stderr)
			if err != nil {
				return err
			}
			defer be.close()
			if len(args) == 0 {
				args = []string{"-"}
			}
			if o.jobs == 0 {
				// Enough batches in flight to keep a server busy while the
				// previous answers are decoded; in-process, one per CPU.
				o.jobs = 4
				if _, ok := be.(*local); ok {
					o.jobs = runtime.GOMAXPROCS(0)
				}
			}
			in.args, in.stdin, in.limits = args, cmd.InOrStdin(), mf.limits
			return classify(cmd.Context(), be, &in, o, stdout, stderr)
		},
	}
	f := cmd.Flags()
	mf.register(f, true)
	f.StringVarP(&o.format, "output", "o", "table", "output format: table, json, jsonl or csv")
	f.StringSliceVar(&in.include, "include", []string{"*.txt", "*.jsonl", "*.csv"}, "file name `GLOB`s to take from directories (repeatable or comma-separated)")
	f.IntVar(&o.filter.TopK, "top-k", 0, "show at most this many topics per article (0: all)")
	f.Float64Var(&o.filter.MinConfidence, "min-confidence", 0, "hide topics less confident than this")
	f.BoolVar(&o.explain, "explain", false, "show the terms behind each assigned label")
	f.IntVarP(&o.jobs, "jobs", "j", 0, "batches classified at once (default: 4 against a server, the CPU count in-process)")
	f.IntVar(&o.batchSize, "batch-size", 100, "articles per batch, at most 1000 (the server's default limit)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress bar")
	return cmd
}

// classifyOptions are classify's flags beside the backend's and the inputs'.
type classifyOptions struct {
	format          string
	filter          classifier.Filter
	explain, quiet  bool
	jobs, batchSize int
}

// check refuses options no run can use; the filter's rules are the
// classifier's.
func (o *classifyOptions) check() error {
	if err := checkFormat("classify", o.format, "table", "json", "jsonl", "csv"); err != nil {
		return err
	}
	switch {
	case o.jobs < 0:
		return usagef("classify: -j %d must be positive", o.jobs)
	case o.batchSize < 1 || o.batchSize > 1000:
		return usagef("classify: --batch-size %d must be in [1, 1000]", o.batchSize)
	}
	var invalid *classifier.InvalidError
	if err := o.filter.Validate(); errors.As(err, &invalid) {
		v := invalid.Violations[0]
		flag := map[string]string{"top_k": "--top-k", "min_confidence": "--min-confidence"}[v.Field]
		return usagef("classify: %s %s", flag, v.Description)
	}
	return nil
}

// classify classifies every article of in and writes the results in input
// order.
func classify(ctx context.Context, be backend, in *inputs, o classifyOptions, stdout, stderr io.Writer) error {
	var labels []string
	if o.format == "csv" {
		md, err := be.model(ctx)
		if err != nil {
			return err
		}
		labels = md.Labels
	}
	bw := bufio.NewWriterSize(stdout, 64<<10)
	out := &resultWriter{w: bw, csv: csv.NewWriter(bw), format: o.format, labels: labels, explain: o.explain, color: isTerminal(stdout)}
	bar := classifyBar(stderr, in, o.quiet)
	var total, failed int
	err := classifyEach(ctx, be, in.each, o.filter, o.jobs, o.batchSize, func(it classifier.ArticleRecord, v verdict) error {
		total++
		bar.Add64(it.Bytes)
		err := cmp.Or(it.Err, v.err)
		if err == nil {
			return out.write(it, v)
		}
		if tooLong := (*classifier.TooLongError)(nil); errors.As(err, &tooLong) {
			err = fmt.Errorf("%w (--max-text-bytes raises the limit)", err)
		}
		failed++
		bar.Clear()
		fmt.Fprintf(stderr, "artclass: %s: %v\n", it.Source, err)
		return nil
	})
	bar.Finish()
	if cerr := out.close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return err
	case failed > 0:
		return fmt.Errorf("%d of %d inputs failed", failed, total)
	case total == 0:
		return errors.New("no articles found in the inputs")
	}
	return nil
}

// batch is a run of items classified in one call.
type batch struct {
	items    []classifier.ArticleRecord
	articles []classifier.Article // the items that were read
	verdicts []verdict            // one per article, in order
	err      error
	done     chan struct{}
}

// maxBatchBytes bounds the text of one batch, under gRPC's default 4 MiB
// message limit (a single larger article still goes, alone).
const maxBatchBytes = 1 << 20

// classifyEach classifies the items each yields, jobs batches at a time, and
// calls fn with each item and its verdict in input order (an item that could
// not be read has its err set and no verdict). Memory is bounded by about
// jobs+1 batches however many inputs there are. It returns the first error
// of a whole batch (an unreachable server), of reading the inputs, or of fn.
func classifyEach(ctx context.Context, be backend, each func(context.Context, func(classifier.ArticleRecord) error) error, f classifier.Filter, jobs, batchSize int, fn func(classifier.ArticleRecord, verdict) error) error {
	g, ctx := errgroup.WithContext(ctx)
	// A batch is classified from when it is queued until the consumer has
	// taken it: jobs-1 queued and the one the consumer waits for.
	ordered := make(chan *batch, jobs-1)
	// The producer groups the items into batches of at most batchSize
	// readable items and maxBatchBytes of text, and queues each.
	g.Go(func() error {
		defer close(ordered)
		cur, size := &batch{done: make(chan struct{})}, 0
		flush := func() error {
			b := cur
			cur, size = &batch{done: make(chan struct{})}, 0
			select {
			case ordered <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
			g.Go(func() error {
				defer close(b.done)
				if len(b.articles) > 0 {
					b.verdicts, b.err = be.classify(ctx, b.articles, f)
				}
				return nil // the batch's error is the consumer's to return
			})
			return nil
		}
		err := each(ctx, func(it classifier.ArticleRecord) error {
			cur.items = append(cur.items, it)
			if it.Err == nil {
				cur.articles = append(cur.articles, it.Article)
				size += len(it.Title) + len(it.Text)
			}
			if len(cur.articles) >= batchSize || size >= maxBatchBytes {
				return flush()
			}
			return nil
		})
		if err == nil && len(cur.items) > 0 {
			err = flush()
		}
		return err
	})
	g.Go(func() error {
		for b := range ordered {
			select {
			case <-b.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			if b.err != nil {
				return b.err
			}
			k := 0
			for _, it := range b.items {
				var v verdict
				if it.Err == nil {
					v, k = b.verdicts[k], k+1
				}
				if err := fn(it, v); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return g.Wait()
}
