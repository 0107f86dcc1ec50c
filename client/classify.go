package client

import (
	"context"
	"errors"
	"io"
	"iter"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/artclass/artclass/classifier"
	artclassv1 "github.com/artclass/artclass/proto/artclass/v1"
)

// Result is the server's verdict on one article: the classifier's Result,
// as the server filtered it, and the version of the model that gave it.
// Labels of the Result are the labels the server assigned, never cut by the
// filter, exactly as an in-process classifier.Result.Filter keeps them.
type Result struct {
	classifier.Result
	// ModelVersion is the version of the model that gave the verdict.
	ModelVersion string
}

// ItemResult is the outcome for one article of a batch or a stream: a
// Result, or Err when the server could not classify that article. Err is
// the error a Classify call would have returned for the article: bad input
// is an *InvalidInputError whose fields are relative to the article
// ("text"), so errors.As finds a *classifier.InvalidError as it does in
// process.
type ItemResult struct {
	// ID is the article's ID, as the server echoed it.
	ID string
	Result
	Err error
}

// Classify classifies one article. Bad input gets an *InvalidInputError
// naming the article's fields as classifier.Limits.CheckArticle does
// ("text"), and the filter's as "filter.top_k".
func (c *Client) Classify(ctx context.Context, a classifier.Article, f classifier.Filter) (Result, error) {
	resp, err := unary(ctx, c, c.rpc.Classify, &artclassv1.ClassifyRequest{Article: article(a), Filter: filter(f)})
	if err != nil {
		return Result{}, relative(err, "article.")
	}
	return result(resp, f), nil
}

// ClassifyBatch classifies up to the server's batch limit (1,000 articles by
// default) in one call, the results in the order of articles. An article the
// server cannot classify gets its own Err; the error returned is for the
// whole call (an empty or oversized batch, a bad filter, an unreachable
// server).
func (c *Client) ClassifyBatch(ctx context.Context, articles []classifier.Article, f classifier.Filter) ([]ItemResult, error) {
	req := &artclassv1.ClassifyBatchRequest{Articles: make([]*artclassv1.Article, len(articles)), Filter: filter(f)}
	for i, a := range articles {
		req.Articles[i] = article(a)
	}
	resp, err := unary(ctx, c, c.rpc.ClassifyBatch, req)
	if err != nil {
		return nil, err
	}
	if len(resp.GetResults()) != len(articles) {
		return nil, statusError(status.Newf(codes.Internal, "the server answered a batch of %d articles with %d results", len(articles), len(resp.GetResults())))
	}
	out := make([]ItemResult, len(articles))
	for i, r := range resp.GetResults() {
		out[i] = itemResult(r, f, "")
		// The server drops an ID it cannot echo (invalid UTF-8, too
		// long); the caller still knows which article it was.
		out[i].ID = articles[i].ID
	}
	return out, nil
}

// StreamOptions configures ClassifyStream.
type StreamOptions struct {
	classifier.Filter
	// Window is the most articles sent and not yet answered; 64 when zero.
	// It bounds the memory a stream holds however long it runs.
	Window int
}

// ClassifyStream classifies the articles of seq over one ClassifyStream
// call, sending and receiving at once, and calls fn with each result in the
// order of seq; a result's ID is its article's. It returns when seq is
// exhausted and every answer is in, or at the first error of the call or of
// fn. seq runs in a goroutine of its own; ClassifyStream waits for it to
// return, so a seq that blocks (reading a pipe, say) should also watch ctx.
func (c *Client) ClassifyStream(ctx context.Context, seq iter.Seq[classifier.Article], opts StreamOptions, fn func(ItemResult) error) error {
	window := opts.Window
	if window <= 0 {
		window = 64
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.ClassifyStream(ctx)
	if err != nil {
		return c.fromStatus(err)
	}

	slots := make(chan struct{}, window)
	sent := make(chan error, 1)
	go func() {
		sent <- func() error {
			for a := range seq {
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					return ctx.Err()
				}
				if err := stream.Send(&artclassv1.ClassifyStreamRequest{Article: article(a), Filter: filter(opts.Filter)}); err != nil {
					// io.EOF: the call ended; Recv has its status.
					return nil
				}
			}
			return stream.CloseSend()
		}()
	}()

	var callErr error
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			callErr = c.fromStatus(err)
			break
		}
		<-slots
		// A stream's errors name the request's fields ("article.text");
		// strip the prefix so an item's error reads as a batch item's.
		if err := fn(itemResult(resp.GetResult(), opts.Filter, "article.")); err != nil {
			callErr = err
			break
		}
	}
	if callErr != nil {
		cancel()
		<-sent
		return callErr
	}
	if err := <-sent; err != nil {
		return c.fromStatus(err)
	}
	return nil
}

func article(a classifier.Article) *artclassv1.Article {
	return &artclassv1.Article{Id: a.ID, Title: a.Title, Text: a.Text}
}

func filter(f classifier.Filter) *artclassv1.Filter {
	if f == (classifier.Filter{}) {
		return nil
	}
	return &artclassv1.Filter{TopK: int32(f.TopK), MinConfidence: f.MinConfidence}
}

// itemResult converts one article's outcome; prefix is taken off the field
// paths of its error.
func itemResult(r *artclassv1.ArticleResult, f classifier.Filter, prefix string) ItemResult {
	if e := r.GetError(); e != nil {
		return ItemResult{ID: r.GetId(), Err: relative(statusError(status.FromProto(e)), prefix)}
	}
	return ItemResult{ID: r.GetId(), Result: result(r.GetClassification(), f)}
}

// relative takes prefix off the field paths of an *InvalidInputError, so
// that a remote article's error names its fields as CheckArticle does.
func relative(err error, prefix string) error {
	var invalid *InvalidInputError
	if prefix != "" && errors.As(err, &invalid) {
		for i, v := range invalid.Invalid.Violations {
			invalid.Invalid.Violations[i].Field = strings.TrimPrefix(v.Field, prefix)
		}
	}
	return err
}

// result rebuilds the classifier.Result the server filtered with f. The
// server sends the topics left after the filter and the assigned labels
// whole; a label the filter cut has no topic here. Such labels come back
// as placeholder topics (assigned, confidence 0) after the shown ones —
// where they were, since the filter keeps a prefix of the topics by
// confidence — and applying f again cuts the placeholders and keeps every
// label, through the classifier's own Filter.
func result(resp *artclassv1.ClassifyResponse, f classifier.Filter) Result {
	r := classifier.Result{
		Topics:   make([]classifier.Topic, len(resp.GetTopics()), len(resp.GetTopics())+len(resp.GetLabels())),
		Coverage: classifier.Coverage{Tokens: int(resp.GetCoverage().GetTokens()), Known: int(resp.GetCoverage().GetKnownTokens())},
	}
	for _, w := range resp.GetWarnings() {
		if w == artclassv1.Warning_WARNING_LOW_COVERAGE {
			r.Warning = classifier.WarningLowCoverage
		}
	}
	shown := make(map[string]bool, len(resp.GetTopics()))
	for i, t := range resp.GetTopics() {
		ct := classifier.Topic{Label: t.GetLabel(), Confidence: t.GetConfidence(), Assigned: t.GetAssigned()}
		if len(t.GetTerms()) > 0 {
			ct.Terms = make([]classifier.Term, len(t.GetTerms()))
			for j, term := range t.GetTerms() {
				ct.Terms[j] = classifier.Term{Term: term.GetTerm(), Weight: term.GetWeight()}
			}
		}
		r.Topics[i] = ct
		shown[ct.Label] = true
	}
	cut := false
	for _, l := range resp.GetLabels() {
		if !shown[l] {
			r.Topics = append(r.Topics, classifier.Topic{Label: l, Assigned: true})
			cut = true
		}
	}
	if cut || f != (classifier.Filter{}) {
		r = r.Filter(f)
	}
	return Result{Result: r, ModelVersion: resp.GetModelVersion()}
}
