package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/artclass/artclass/classifier"
	artclassv1 "github.com/artclass/artclass/proto/artclass/v1"
)

// Article is one article to classify.
type Article struct {
	// ID is the caller's name for the article. ClassifyStream sends it and
	// the server copies it into the answer; ClassifyBatch copies it locally.
	ID    string
	Title string
	Text  string
}

// Filter trims the topics of an answer. It never changes which labels are
// assigned. The zero Filter keeps every topic.
type Filter struct {
	// TopK keeps the TopK most confident topics; 0 keeps all.
	TopK int
	// MinConfidence drops topics below it; it must be in [0, 1].
	MinConfidence float64
}

// Classification is the server's verdict on one article.
type Classification struct {
	// Topics are the topics left after the Filter, highest confidence
	// first (ties by label). Assigned topics carry their top terms.
	Topics []classifier.Topic
	// Labels are the assigned labels, highest confidence first; the Filter
	// never trims them. Empty when the article is about none of the topics.
	Labels []string
	// ModelVersion is the version of the model that gave the verdict.
	ModelVersion string
}

// ItemResult is the outcome for one article of a batch or a stream: a
// Classification, or Err (an *InvalidInputError, usually) when the server
// could not classify that article.
type ItemResult struct {
	ID string
	Classification
	Err error
}

// Classify classifies one article. Bad input gets an *InvalidInputError.
func (c *Client) Classify(ctx context.Context, a Article, f Filter) (Classification, error) {
	ctx, cancel := c.unaryContext(ctx)
	defer cancel()
	resp, err := c.rpc.Classify(ctx, &artclassv1.ClassifyRequest{
		Title: a.Title, Text: a.Text, TopK: int32(f.TopK), MinConfidence: f.MinConfidence,
	})
	if err != nil {
		return Classification{}, fromStatus(err)
	}
	return classification(resp), nil
}

// ClassifyBatch classifies up to the server's batch limit (1,000 articles by
// default) in one call, the results in the order of articles. An article the
// server cannot classify gets its own Err; the error returned is for the
// whole call (an empty or oversized batch, an unreachable server). The field
// violations of an article's error name its fields as a Classify call would
// ("text", not "articles[3].text").
func (c *Client) ClassifyBatch(ctx context.Context, articles []Article, f Filter) ([]ItemResult, error) {
	req := &artclassv1.ClassifyBatchRequest{
		Articles:      make([]*artclassv1.Article, len(articles)),
		TopK:          int32(f.TopK),
		MinConfidence: f.MinConfidence,
	}
	for i, a := range articles {
		req.Articles[i] = &artclassv1.Article{Title: a.Title, Text: a.Text}
	}
	ctx, cancel := c.unaryContext(ctx)
	defer cancel()
	resp, err := c.rpc.ClassifyBatch(ctx, req)
	if err != nil {
		return nil, fromStatus(err)
	}
	if len(resp.GetResults()) != len(articles) {
		return nil, statusError(status.Newf(codes.Internal, "the server answered a batch of %d articles with %d results", len(articles), len(resp.GetResults())))
	}
	out := make([]ItemResult, len(articles))
	for i, r := range resp.GetResults() {
		out[i] = itemResult(articles[i].ID, r)
		// Name fields as a Classify call would: "text", not
		// "articles[3].text".
		var invalid *InvalidInputError
		if errors.As(out[i].Err, &invalid) {
			prefix := fmt.Sprintf("articles[%d].", i)
			for j := range invalid.Violations {
				invalid.Violations[j].Field = strings.TrimPrefix(invalid.Violations[j].Field, prefix)
			}
		}
	}
	return out, nil
}

// StreamOptions configures ClassifyStream.
type StreamOptions struct {
	Filter
	// Window is the most articles sent and not yet answered; 64 when zero.
	// It bounds the memory a stream holds however long it runs.
	Window int
}

// ClassifyStream classifies the articles of seq over one ClassifyStream
// call, sending and receiving at once, and calls fn with each result in the
// order of seq. It returns when seq is exhausted and every answer is in, or
// at the first error of the call or of fn. seq runs in a goroutine of its
// own; ClassifyStream waits for it to return, so a seq that blocks (reading
// a pipe, say) should also watch ctx.
func (c *Client) ClassifyStream(ctx context.Context, seq iter.Seq[Article], opts StreamOptions, fn func(ItemResult) error) error {
	window := opts.Window
	if window <= 0 {
		window = 64
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.ClassifyStream(ctx)
	if err != nil {
		return fromStatus(err)
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
				err := stream.Send(&artclassv1.ClassifyStreamRequest{
					Id: a.ID, Title: a.Title, Text: a.Text, TopK: int32(opts.TopK), MinConfidence: opts.MinConfidence,
				})
				if err != nil {
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
			callErr = fromStatus(err)
			break
		}
		<-slots
		if err := fn(itemResult(resp.GetId(), resp.GetResult())); err != nil {
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
		return fromStatus(err)
	}
	return nil
}

func itemResult(id string, r *artclassv1.ArticleResult) ItemResult {
	if e := r.GetError(); e != nil {
		return ItemResult{ID: id, Err: itemError(e)}
	}
	return ItemResult{ID: id, Classification: classification(r.GetClassification())}
}

func classification(resp *artclassv1.ClassifyResponse) Classification {
	out := Classification{
		Topics:       make([]classifier.Topic, len(resp.GetTopics())),
		Labels:       resp.GetLabels(),
		ModelVersion: resp.GetModelVersion(),
	}
	for i, t := range resp.GetTopics() {
		ct := classifier.Topic{Label: t.GetLabel(), Confidence: t.GetConfidence(), Assigned: t.GetAssigned()}
		if len(t.GetTerms()) > 0 {
			ct.Terms = make([]classifier.Term, len(t.GetTerms()))
			for j, term := range t.GetTerms() {
				ct.Terms[j] = classifier.Term{Term: term.GetTerm(), Weight: term.GetWeight()}
			}
		}
		out.Topics[i] = ct
	}
	return out
}
