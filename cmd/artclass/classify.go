package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/spf13/cobra"

	"github.com/artclass/artclass/client"
)

func newClassifyCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		mf        modelFlags
		format    string
		include   []string
		filter    client.Filter
		explain   bool
		jobs      int
		batchSize int
		quiet     bool
	)
	cmd := &cobra.Command{
		Use:   "classify [FILE|DIR|-]...",
		Short: "Classify articles through the server or in-process",
		Long: `Classify scores each article of its inputs against every topic of the model.

Inputs: a text file holds the title on its first line and the article below
it; a .jsonl file holds one {"title", "text"} object a line (other keys are
ignored, and the source of line N is FILE#N); a directory is searched
recursively for files matching --include; - (the default) is standard input,
read as JSONL when its first character is '{' and as one text article
otherwise.

The server at --addr (default localhost:50051, or $ARTCLASS_ADDR) classifies
unless --local (the model embedded in this binary) or --model FILE asks for
in-process work; both give the same results. Articles go in batches, -j at a
time, and results come out in input order. A large JSONL file is streamed, so
memory stays bounded.

Output (-o): table for people; json (one array), jsonl (one object a line) or
csv for programs. Each result has the source, the assigned labels, the topics
with their confidence (highest first, trimmed by --top-k and
--min-confidence, which never change the labels), the model version, and
with --explain the terms behind each assigned label.

An input that cannot be read or classified is reported on standard error and
the rest go on; the exit status is then 1. A progress bar shows on standard
error when it is a terminal and the inputs are large.`,
		Example: `  artclass classify article.txt
  artclass classify --addr artclass.internal:50051 --tls -o jsonl news/
  artclass classify --local --top-k 2 --explain article.txt
  artclass classify --model my.model -o csv --include '*.md' articles/ > results.csv
  jq -c '{title, text: .body}' feed.json | artclass classify -o jsonl -`,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case format != "table" && format != "json" && format != "jsonl" && format != "csv":
				return usagef("classify: -o must be table, json, jsonl or csv, not %q", format)
			case filter.TopK < 0:
				return usagef("classify: --top-k %d must be 0 (every topic) or more", filter.TopK)
			case !(filter.MinConfidence >= 0 && filter.MinConfidence <= 1):
				return usagef("classify: --min-confidence %v must be in [0, 1]", filter.MinConfidence)
			case jobs < 0:
				return usagef("classify: -j %d must be positive", jobs)
			case batchSize < 1 || batchSize > 1000:
				return usagef("classify: --batch-size %d must be in [1, 1000]", batchSize)
			}
			for _, g := range include {
				if _, err := pathMatch(g); err != nil {
					return usagef("classify: --include %q: %v", g, err)
				}
			}
			be, err := mf.open(cmd.Flags())
			if err != nil {
				return err
			}
			defer be.close()
			if len(args) == 0 {
				args = []string{"-"}
			}
			if jobs == 0 {
				jobs = defaultJobs(be)
			}
			in := &inputs{args: args, include: include, stdin: cmd.InOrStdin()}
			return classify(cmd.Context(), be, in, classifyOptions{
				format: format, filter: filter, explain: explain, jobs: jobs, batchSize: batchSize, quiet: quiet,
			}, stdout, stderr)
		},
	}
	f := cmd.Flags()
	mf.register(f, true)
	f.StringVarP(&format, "output", "o", "table", "output format: table, json, jsonl or csv")
	f.StringSliceVar(&include, "include", defaultInclude, "file name `GLOB`s to take from directories (repeatable or comma-separated)")
	f.IntVar(&filter.TopK, "top-k", 0, "show at most this many topics per article (0: all)")
	f.Float64Var(&filter.MinConfidence, "min-confidence", 0, "hide topics less confident than this")
	f.BoolVar(&explain, "explain", false, "show the terms behind each assigned label")
	f.IntVarP(&jobs, "jobs", "j", 0, "batches classified at once (default: 4 against a server, the CPU count in-process)")
	f.IntVar(&batchSize, "batch-size", 100, "articles per batch, at most 1000 (the server's default limit)")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	return cmd
}

// defaultJobs is -j's default: enough batches in flight to keep a server
// busy while the previous answers are decoded, or one per CPU in-process.
func defaultJobs(be backend) int {
	if _, ok := be.(*local); ok {
		return runtime.GOMAXPROCS(0)
	}
	return 4
}

type classifyOptions struct {
	format    string
	filter    client.Filter
	explain   bool
	jobs      int
	batchSize int
	quiet     bool
}

// classify classifies every article of in and writes the results in input
// order.
func classify(ctx context.Context, be backend, in *inputs, o classifyOptions, stdout, stderr io.Writer) error {
	var labels []string
	if o.format == "csv" {
		var err error
		if labels, err = be.labels(ctx); err != nil {
			return err
		}
	}
	out := newResultWriter(stdout, o.format, labels, o.explain, isTerminal(stdout))
	bar := newProgress(stderr, in, o.quiet)
	var total, failed int
	report := func(source string, err error) {
		failed++
		bar.clear()
		fmt.Fprintf(stderr, "artclass: %s: %v\n", source, err)
	}
	err := classifyEach(ctx, be, in.each, o.filter, o.jobs, o.batchSize, func(it item, r client.ItemResult) error {
		total++
		bar.add(it.size)
		switch {
		case it.err != nil:
			report(it.source, it.err)
		case r.Err != nil:
			report(it.source, r.Err)
		default:
			return out.write(it.source, r.Classification)
		}
		return nil
	})
	bar.finish()
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
	items   []item
	results []client.ItemResult // one per item without an error, in order
	err     error
	done    chan struct{}
}

// maxBatchBytes bounds the text of one batch, under gRPC's default 4 MiB
// message limit.
const maxBatchBytes = 1 << 20

// classifyEach classifies the items each yields, jobs batches at a time, and
// calls fn with each item and its result in input order (an item that could
// not be read has its err set and no result). Memory is bounded by about
// 3·jobs batches however many inputs there are. It returns the first error
// of a whole batch (an unreachable server), of reading the inputs, or of fn.
func classifyEach(ctx context.Context, be backend, each func(context.Context, func(item) error) error, f client.Filter, jobs, batchSize int, fn func(item, client.ItemResult) error) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	work := make(chan *batch, jobs)
	ordered := make(chan *batch, 2*jobs)

	readErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(ordered)
		defer close(work)
		cur := &batch{done: make(chan struct{})}
		var n, size int
		flush := func() error {
			b, readable := cur, n
			cur, n, size = &batch{done: make(chan struct{})}, 0, 0
			select {
			case ordered <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
			if readable == 0 {
				// Nothing to classify: every item failed to read.
				close(b.done)
				return nil
			}
			select {
			case work <- b:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		err := each(ctx, func(it item) error {
			cur.items = append(cur.items, it)
			if it.err == nil {
				n++
				size += len(it.title) + len(it.text)
			}
			if n >= batchSize || size >= maxBatchBytes {
				return flush()
			}
			return nil
		})
		if err == nil && len(cur.items) > 0 {
			err = flush()
		}
		readErr <- err
	}()

	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				if b.err = ctx.Err(); b.err == nil {
					b.results, b.err = be.classify(ctx, b.articles(), f)
				}
				close(b.done)
			}
		}()
	}

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
			var r client.ItemResult
			if it.err == nil {
				r = b.results[k]
				k++
			}
			if err := fn(it, r); err != nil {
				return err
			}
		}
	}
	return <-readErr
}

// articles are the items of b that were read, as articles.
func (b *batch) articles() []client.Article {
	out := make([]client.Article, 0, len(b.items))
	for _, it := range b.items {
		if it.err == nil {
			out = append(out, client.Article{ID: it.source, Title: it.title, Text: it.text})
		}
	}
	return out
}

// pathMatch checks an --include pattern.
func pathMatch(glob string) (bool, error) { return filepath.Match(glob, "x") }
