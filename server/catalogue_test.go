package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/internal/testenv"
	artclassv1 "github.com/artclass/artclass/proto/artclass/v1"
	"github.com/artclass/artclass/server"
)

// rawMessage is a request already encoded: rawCodec puts its bytes on the
// wire unchanged, so a test can send what the Go protobuf API would refuse
// to build (invalid UTF-8 in a checked string, unknown fields, garbage).
type rawMessage []byte

// rawCodec is the proto codec, except that it sends a rawMessage as is.
type rawCodec struct{ encoding.CodecV2 }

func (c rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if r, ok := v.(rawMessage); ok {
		return mem.BufferSlice{mem.SliceBuffer(r)}, nil
	}
	return c.CodecV2.Marshal(v)
}

// invokeRaw sends body as the request of the unary method and decodes the
// answer into resp.
func invokeRaw(ctx context.Context, conn *grpc.ClientConn, method string, body []byte, resp proto.Message) error {
	return conn.Invoke(ctx, method, rawMessage(body), resp, grpc.ForceCodecV2(rawCodec{encoding.GetCodecV2("proto")}))
}

// wireString appends field num as a length-delimited field holding s,
// whatever its bytes.
func wireString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// itemStatus turns the error of one article of a batch or a stream into the
// status a Classify call would have got, so the catalogue checks both alike.
func itemStatus(e *spb.Status) error {
	return status.FromProto(e).Err()
}

// catalogue is what a catalogue case calls: a server with the default
// limits, a model directory and an admin token, and a second one whose
// Train blocks until told to finish, for the concurrent Train case.
type catalogue struct {
	*env
	gated        *env
	gateEntered  chan struct{}
	gateRelease  chan struct{}
	modelVersion string
}

// saneResult checks a verdict the way a pipeline relies on it: every topic
// of the model once, confidences in [0, 1] and sorted, the labels the
// assigned topics, and the embedded model's version. wantLabels are the
// labels it must assign; nil asks for none.
func saneResult(wantLabels ...string) func(t *testing.T, c *catalogue, r *artclassv1.ClassifyResponse) {
	return func(t *testing.T, c *catalogue, r *artclassv1.ClassifyResponse) {
		t.Helper()
		if r.GetModelVersion() != c.modelVersion {
			t.Errorf("model_version %q, want %q", r.GetModelVersion(), c.modelVersion)
		}
		var labels, assigned []string
		for i, tp := range r.GetTopics() {
			labels = append(labels, tp.GetLabel())
			if conf := tp.GetConfidence(); !(conf >= 0 && conf <= 1) {
				t.Errorf("topic %s confidence %v, want it in [0, 1]", tp.GetLabel(), conf)
			}
			if i > 0 && tp.GetConfidence() > r.GetTopics()[i-1].GetConfidence() {
				t.Errorf("topics not sorted by confidence: %v", r.GetTopics())
			}
			if tp.GetAssigned() {
				assigned = append(assigned, tp.GetLabel())
			}
		}
		slices.Sort(labels)
		if want := mustDefaultModel(t).Labels(); !slices.Equal(labels, want) {
			t.Errorf("topics %v, want one for each of %v", labels, want)
		}
		if !slices.Equal(assigned, r.GetLabels()) {
			t.Errorf("labels %v, but the assigned topics are %v", r.GetLabels(), assigned)
		}
		if !slices.Equal(r.GetLabels(), wantLabels) {
			t.Errorf("labels %q, want %q", r.GetLabels(), wantLabels)
		}
	}
}

// catalogueCase is one kind of bad or odd input and the answer it gets.
type catalogueCase struct {
	name string
	// call makes the request; a batch or stream case returns its article's
	// ItemError through itemStatus, and a successful classification its
	// verdict.
	call func(t *testing.T, c *catalogue) (*artclassv1.ClassifyResponse, error)
	code codes.Code
	// msg is the exact status message, or when msgHas is set a part of it
	// that pins it (the rest comes from gRPC or protobuf and may change
	// between their versions).
	msg    string
	msgHas bool
	// field and fieldDesc are the one BadRequest.FieldViolation expected;
	// empty when there is none.
	field, fieldDesc string
	// sane checks the verdict of an odd but valid input.
	sane func(t *testing.T, c *catalogue, r *artclassv1.ClassifyResponse)
}

func classifyCall(req *artclassv1.ClassifyRequest) func(*testing.T, *catalogue) (*artclassv1.ClassifyResponse, error) {
	return func(t *testing.T, c *catalogue) (*artclassv1.ClassifyResponse, error) {
		return c.client.Classify(testenv.Context(t), req)
	}
}

// batchCall sends articles in one ClassifyBatch and returns the outcome of
// articles[item]; item < 0 returns the call's own outcome only.
func batchCall(item int, articles ...*artclassv1.Article) func(*testing.T, *catalogue) (*artclassv1.ClassifyResponse, error) {
	return func(t *testing.T, c *catalogue) (*artclassv1.ClassifyResponse, error) {
		resp, err := c.client.ClassifyBatch(testenv.Context(t), &artclassv1.ClassifyBatchRequest{Articles: articles})
		if err != nil || item < 0 {
			return nil, err
		}
		if got := len(resp.GetResults()); got != len(articles) {
			t.Fatalf("%d results for %d articles", got, len(articles))
		}
		for i, r := range resp.GetResults() {
			if i != item && r.GetError() != nil {
				t.Errorf("articles[%d] failed too: %v", i, r.GetError())
			}
		}
		r := resp.GetResults()[item]
		if e := r.GetError(); e != nil {
			return nil, itemStatus(e)
		}
		return r.GetClassification(), nil
	}
}

func articles(n int) []*artclassv1.Article {
	out := make([]*artclassv1.Article, n)
	for i := range out {
		out[i] = &artclassv1.Article{Text: electionText}
	}
	return out
}

// rawClassify sends body as a ClassifyRequest.
func rawClassify(body []byte) func(*testing.T, *catalogue) (*artclassv1.ClassifyResponse, error) {
	return func(t *testing.T, c *catalogue) (*artclassv1.ClassifyResponse, error) {
		resp := new(artclassv1.ClassifyResponse)
		if err := invokeRaw(testenv.Context(t), c.conn, artclassv1.ClassifierService_Classify_FullMethodName, body, resp); err != nil {
			return nil, err
		}
		return resp, nil
	}
}

// streamCall sends the raw ClassifyStreamRequests bodies and returns the
// outcome of the last: the stream goes on after a bad article, so every
// earlier one must have been answered.
func streamCall(bodies ...[]byte) func(*testing.T, *catalogue) (*artclassv1.ClassifyResponse, error) {
	return func(t *testing.T, c *catalogue) (*artclassv1.ClassifyResponse, error) {
		desc := &artclassv1.ClassifierService_ServiceDesc.Streams[0]
		stream, err := c.conn.NewStream(testenv.Context(t), desc, artclassv1.ClassifierService_ClassifyStream_FullMethodName,
			grpc.ForceCodecV2(rawCodec{encoding.GetCodecV2("proto")}))
		if err != nil {
			return nil, err
		}
		var last *artclassv1.ClassifyStreamResponse
		for i, b := range bodies {
			if err := stream.SendMsg(rawMessage(b)); err != nil {
				return nil, fmt.Errorf("send %d: %w", i, err)
			}
			resp := new(artclassv1.ClassifyStreamResponse)
			if err := stream.RecvMsg(resp); err != nil {
				return nil, err
			}
			// An id that cannot be echoed comes back empty, with its error.
			_, badID := fieldViolations(status.FromProto(resp.GetResult().GetError()))["article.id"]
			if want := fmt.Sprint(i); resp.GetResult().GetId() != want && !(badID && resp.GetResult().GetId() == "") {
				t.Errorf("response %d has id %q, want %q", i, resp.GetResult().GetId(), want)
			}
			last = resp
		}
		if err := stream.CloseSend(); err != nil {
			return nil, err
		}
		if err := stream.RecvMsg(new(artclassv1.ClassifyStreamResponse)); !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("the stream ended with %w, want io.EOF", err)
		}
		if e := last.GetResult().GetError(); e != nil {
			return nil, itemStatus(e)
		}
		return last.GetResult().GetClassification(), nil
	}
}

// streamReq encodes a ClassifyStreamRequest with id and text, whatever
// their bytes.
func streamReq(id, text string) []byte {
	return inArticle(wireString(wireString(nil, 3, id), 2, text))
}

// inArticle wraps an encoded Article as field 1 (article) of a
// ClassifyRequest or a ClassifyStreamRequest.
func inArticle(article []byte) []byte {
	return wireString(nil, 1, string(article))
}

// trainCall streams samples to Train with the admin token and fast
// options.
func trainCall(samples []*artclassv1.Sample) func(*testing.T, *catalogue) (*artclassv1.ClassifyResponse, error) {
	return func(t *testing.T, c *catalogue) (*artclassv1.ClassifyResponse, error) {
		_, err := sendTrain(withAdmin(testenv.Context(t)), c.client, fastOptions(true), samples, 7)
		return nil, err
	}
}

// trainAs sends a good Train with the outgoing metadata md.
func trainAs(md ...string) func(*testing.T, *catalogue) (*artclassv1.ClassifyResponse, error) {
	return func(t *testing.T, c *catalogue) (*artclassv1.ClassifyResponse, error) {
		ctx := metadata.NewOutgoingContext(testenv.Context(t), metadata.Pairs(md...))
		_, err := sendTrain(ctx, c.client, fastOptions(true), trainingSamples(), 100)
		return nil, err
	}
}

// withAdmin adds the admin token to ctx.
func withAdmin(ctx context.Context) context.Context { return withToken(ctx, "Bearer "+token) }

// samplesWith returns the good training samples with samples[i] replaced.
func samplesWith(i int, s *artclassv1.Sample) []*artclassv1.Sample {
	out := trainingSamples()
	out[i] = s
	return out
}

// trainMillion streams 10⁶ small samples, 1,000 a message, and returns the
// server's answer. It checks that the server stopped reading at its limit
// rather than holding them all: the client must have been cut off well
// before the end, and the process's heap must have stayed modest.
func trainMillion(t *testing.T, c *catalogue) (*artclassv1.ClassifyResponse, error) {
	const total, perMessage = 1_000_000, 1000
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	done := make(chan struct{})
	var sampled sync.WaitGroup
	sampled.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	defer func() {
		close(done)
		sampled.Wait()
		growth := int64(peak.Load()) - int64(before.HeapAlloc)
		t.Logf("heap grew by at most %.0f MB while streaming 10⁶ samples", float64(growth)/(1<<20))
		// 200,000 held samples take some 40 MB; 10⁶ would take five times that.
		if growth > 160<<20 {
			t.Errorf("the heap grew by %d MB; the server holds more than its sample limit", growth>>20)
		}
	}()

	stream, err := c.client.Train(withAdmin(testenv.Context(t)))
	if err != nil {
		return nil, err
	}
	sent := 0
	batch := make([]*artclassv1.Sample, perMessage)
	for i := range batch {
		batch[i] = &artclassv1.Sample{Text: fmt.Sprintf("sample %d about the weather", i), Labels: []string{"weather"}}
	}
	for sent < total {
		req := &artclassv1.TrainRequest{Samples: batch}
		if sent == 0 {
			req.Options = fastOptions(true)
		}
		if err := stream.Send(req); err != nil {
			if errors.Is(err, io.EOF) {
				break // the server has answered
			}
			return nil, err
		}
		sent += perMessage
	}
	_, err = stream.CloseAndRecv()
	t.Logf("the server cut the stream off after %d samples were sent", sent)
	if sent >= total/2 {
		t.Errorf("%d samples were sent before the server answered; it should stop reading at its limit of %d", sent, server.DefaultMaxTrainSamples)
	}
	return nil, err
}

// concurrentTrain starts a Train on the gated server, and while it runs
// sends a second one, whose outcome it returns.
func concurrentTrain(t *testing.T, c *catalogue) (*artclassv1.ClassifyResponse, error) {
	ctx := withAdmin(testenv.Context(t))
	first := make(chan error, 1)
	go func() {
		_, err := sendTrain(ctx, c.gated.client, fastOptions(true), trainingSamples(), 100)
		first <- err
	}()
	select {
	case <-c.gateEntered:
	case err := <-first:
		t.Fatalf("the first Train ended before training: %v", err)
	}
	_, err := sendTrain(ctx, c.gated.client, fastOptions(true), trainingSamples(), 100)
	close(c.gateRelease)
	if ferr := <-first; ferr != nil {
		t.Errorf("the first Train: %v", ferr)
	}
	if st := status.Convert(err); st.Code() == codes.Aborted {
		var reason string
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok {
				reason = info.GetReason()
			}
		}
		if reason != "TRAINING_IN_PROGRESS" {
			t.Errorf("ErrorInfo reason %q, want TRAINING_IN_PROGRESS", reason)
		}
	}
	return nil, err
}

// TestBadInputCatalogue sends every kind of bad or odd input we know of to a
// server on a loopback port with the default limits, and pins the answer:
// the status code, the message, and the field violation. Odd but valid
// input (CJK, emoji, markup, digits) must get a sane verdict.
func TestBadInputCatalogue(t *testing.T) {
	t.Parallel()
	def := mustDefaultModel(t)
	c := &catalogue{
		env:          start(t, server.Config{Model: def, Store: memStore(t), AdminToken: token, Logger: discardLogger()}),
		gateEntered:  make(chan struct{}),
		gateRelease:  make(chan struct{}),
		modelVersion: def.Version(),
	}
	var once sync.Once
	c.gated = start(t, server.Config{
		Model: def, Store: memStore(t), AdminToken: token, Logger: discardLogger(),
		Train: func(ctx context.Context, _ []classifier.Sample, _ classifier.TrainOptions) (*classifier.Model, error) {
			once.Do(func() { close(c.gateEntered) })
			select {
			case <-c.gateRelease:
			case <-ctx.Done():
			}
			return mustModels(t).clean1, nil
		},
	})

	const limit = classifier.DefaultMaxTextBytes
	const emptyText = "is empty or only white space; it must hold the article's body"
	oneLetterWords := strings.Repeat("a ", 100_000)
	tests := []catalogueCase{
		// The text of one article.
		{name: "empty text", call: classifyCall(&artclassv1.ClassifyRequest{Article: &artclassv1.Article{Title: "A title only"}}),
			code: codes.InvalidArgument, msg: "invalid request: article.text: " + emptyText, field: "article.text", fieldDesc: emptyText},
		{name: "ASCII white space only", call: classifyCall(&artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: " \t\r\n\v\f "}}),
			code: codes.InvalidArgument, msg: "invalid request: article.text: " + emptyText, field: "article.text", fieldDesc: emptyText},
		{name: "Unicode white space only", call: classifyCall(&artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: "\u00a0\u2003\u3000\u2028\u0085"}}),
			code: codes.InvalidArgument, msg: "invalid request: article.text: " + emptyText, field: "article.text", fieldDesc: emptyText},
		{name: "punctuation only", call: classifyCall(&artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: "!!! ... ??? -- ;;; (*) «»"}}),
			code: codes.OK, sane: saneResult()},
		{name: "digits only", call: classifyCall(&artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: "2024 1999 42 3.14 1,000,000"}}),
			code: codes.OK, sane: saneResult()},
		{name: "text 1 byte over the limit", call: classifyCall(&artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: strings.Repeat("a", limit+1)}}),
			code: codes.InvalidArgument, msg: "invalid request: article.text: is 1048577 bytes; the limit is 1048576 bytes",
			field: "article.text", fieldDesc: "is 1048577 bytes; the limit is 1048576 bytes"},
		{name: "title 1 byte over the limit", call: classifyCall(&artclassv1.ClassifyRequest{Article: &artclassv1.Article{Title: strings.Repeat("t", limit+1), Text: electionText}}),
			code: codes.InvalidArgument, msg: "invalid request: article.title: is 1048577 bytes; the limit is 1048576 bytes",
			field: "article.title", fieldDesc: "is 1048577 bytes; the limit is 1048576 bytes"},
		{name: "a 1 MiB single token, at the limit", call: classifyCall(&artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: strings.Repeat("x", limit)}}),
			code: codes.OK, sane: saneResult()},
		{name: "100,000 one-letter words", call: classifyCall(&artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: oneLetterWords}}),
			code: codes.OK, sane: saneResult()},
		{name: "message over the gRPC size limit", call: batchCall(-1, &artclassv1.Article{Text: strings.Repeat("a", limit)},
			&artclassv1.Article{Text: strings.Repeat("b", limit)}, &artclassv1.Article{Text: strings.Repeat("c", limit)},
			&artclassv1.Article{Text: strings.Repeat("d", limit)}),
			code: codes.ResourceExhausted, msg: "grpc: received message larger than max (4194336 vs. 4194304)"},
		{name: "NUL bytes between the words", call: classifyCall(&artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: "\x00" + strings.ReplaceAll(electionText, " ", "\x00")}}),
			code: codes.OK, sane: saneResult("elections")},
		{name: "NUL bytes only", call: classifyCall(&artclassv1.ClassifyRequest{Article: &artclassv1.Article{Title: "\x00", Text: "\x00\x00\x00"}}),
			// NUL is not white space, so the text is not blank; it holds no
			// word either, so the verdict is no topic.
			code: codes.OK, sane: saneResult()},
		{name: "invalid UTF-8 text, raw on the wire", call: rawClassify(inArticle(wireString(nil, 2, "caf\xe9 \xff\xfe au lait"))),
			code: codes.InvalidArgument, msg: "invalid request: article.text: is not valid UTF-8", field: "article.text", fieldDesc: "is not valid UTF-8"},
		{name: "invalid UTF-8 title, raw on the wire", call: rawClassify(inArticle(wireString(wireString(nil, 1, "\xc3\x28"), 2, electionText))),
			code: codes.InvalidArgument, msg: "invalid request: article.title: is not valid UTF-8", field: "article.title", fieldDesc: "is not valid UTF-8"},
		{name: "a UTF-16 surrogate encoded in UTF-8", call: classifyCall(&artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: "vote \xed\xa0\x80 count"}}),
			code: codes.InvalidArgument, msg: "invalid request: article.text: is not valid UTF-8", field: "article.text", fieldDesc: "is not valid UTF-8"},
		{name: "right-to-left text", call: classifyCall(&artclassv1.ClassifyRequest{Article: &artclassv1.Article{Title: "\u202eالانتخابات", Text: "صوّت الناخبون في الانتخابات البرلمانية يوم الأحد. הבוחרים הצביעו בבחירות."}}),
			code: codes.OK, sane: saneResult()},
		{name: "CJK text", call: classifyCall(&artclassv1.ClassifyRequest{Article: &artclassv1.Article{Title: "选举", Text: "选民周日前往投票站参加议会选举。有権者は日曜日に投票した。유권자들이 투표했다."}}),
			code: codes.OK, sane: saneResult()},
		{name: "English with CJK mixed in", call: classifyCall(&artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: "选举 " + electionText + " 投票"}}),
			code: codes.OK, sane: saneResult("elections")},
		{name: "emoji", call: classifyCall(&artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: "🗳️🇬🇧 👩‍👩‍👧‍👦 " + electionText + " 🎉"}}),
			code: codes.OK, sane: saneResult("elections")},
		{name: "emoji only", call: classifyCall(&artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: "🗳️🗳️🗳️ 👍🏽"}}),
			code: codes.OK, sane: saneResult()},
		{name: "HTML markup", call: classifyCall(&artclassv1.ClassifyRequest{Article: &artclassv1.Article{Title: "<h1>Election</h1>", Text: `<html><script>alert("x")</script><p class="body">` + electionText + `</p><br/>&nbsp;&amp;</html>`}}),
			code: codes.OK, sane: saneResult("elections")},

		// Batches.
		{name: "batch of 0", call: batchCall(-1),
			code: codes.InvalidArgument, msg: "invalid request: articles: is empty; send at least 1 article",
			field: "articles", fieldDesc: "is empty; send at least 1 article"},
		{name: "batch of 1,001", call: batchCall(-1, articles(1001)...),
			code: codes.InvalidArgument, msg: "invalid request: articles: holds 1001 articles; the limit is 1000",
			field: "articles", fieldDesc: "holds 1001 articles; the limit is 1000"},
		{name: "batch of 1,000, at the limit", call: batchCall(999, articles(1000)...),
			code: codes.OK, sane: saneResult("elections")},
		{name: "batch with one empty article", call: batchCall(1, &artclassv1.Article{Text: electionText}, &artclassv1.Article{Text: " "}, &artclassv1.Article{Text: electionText}),
			code: codes.InvalidArgument, msg: "invalid request: text: " + emptyText, field: "text", fieldDesc: emptyText},

		// The result filters.
		{name: "negative top_k", call: classifyCall(&artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}, Filter: &artclassv1.Filter{TopK: -1}}),
			code: codes.InvalidArgument, msg: "invalid request: filter.top_k: is -1; it must be 0 (every topic) or more",
			field: "filter.top_k", fieldDesc: "is -1; it must be 0 (every topic) or more"},
		{name: "most negative top_k, in a batch", call: func(t *testing.T, c *catalogue) (*artclassv1.ClassifyResponse, error) {
			_, err := c.client.ClassifyBatch(testenv.Context(t), &artclassv1.ClassifyBatchRequest{Filter: &artclassv1.Filter{TopK: math.MinInt32}, Articles: articles(1)})
			return nil, err
		}, code: codes.InvalidArgument, msg: "invalid request: filter.top_k: is -2147483648; it must be 0 (every topic) or more",
			field: "filter.top_k", fieldDesc: "is -2147483648; it must be 0 (every topic) or more"},
		{name: "top_k far above the topics", call: classifyCall(&artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}, Filter: &artclassv1.Filter{TopK: math.MaxInt32}}),
			code: codes.OK, sane: saneResult("elections")},
		{name: "min_confidence NaN", call: classifyCall(&artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}, Filter: &artclassv1.Filter{MinConfidence: math.NaN()}}),
			code: codes.InvalidArgument, msg: "invalid request: filter.min_confidence: is NaN; it must be in [0, 1]",
			field: "filter.min_confidence", fieldDesc: "is NaN; it must be in [0, 1]"},
		{name: "min_confidence -1", call: classifyCall(&artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}, Filter: &artclassv1.Filter{MinConfidence: -1}}),
			code: codes.InvalidArgument, msg: "invalid request: filter.min_confidence: is -1; it must be in [0, 1]",
			field: "filter.min_confidence", fieldDesc: "is -1; it must be in [0, 1]"},
		{name: "min_confidence 2", call: classifyCall(&artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}, Filter: &artclassv1.Filter{MinConfidence: 2}}),
			code: codes.InvalidArgument, msg: "invalid request: filter.min_confidence: is 2; it must be in [0, 1]",
			field: "filter.min_confidence", fieldDesc: "is 2; it must be in [0, 1]"},
		{name: "min_confidence +Inf, in a stream", call: func(t *testing.T, c *catalogue) (*artclassv1.ClassifyResponse, error) {
			f := protowire.AppendFixed64(protowire.AppendTag(nil, 2, protowire.Fixed64Type), math.Float64bits(math.Inf(1)))
			return streamCall(wireString(streamReq("0", electionText), 2, string(f)))(t, c)
		}, code: codes.InvalidArgument, msg: "invalid request: filter.min_confidence: is +Inf; it must be in [0, 1]",
			field: "filter.min_confidence", fieldDesc: "is +Inf; it must be in [0, 1]"},

		// The wire encoding.
		{name: "unknown fields", call: func(t *testing.T, c *catalogue) (*artclassv1.ClassifyResponse, error) {
			b := inArticle(wireString(nil, 2, electionText))
			b = protowire.AppendVarint(protowire.AppendTag(b, 99, protowire.VarintType), 7)
			b = wireString(b, 1000, "from a newer client")
			return rawClassify(b)(t, c)
		}, code: codes.OK, sane: saneResult("elections")},
		{name: "a known field with the wrong wire type", call: rawClassify(inArticle(
			protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 12345))),
			// Protobuf keeps a field of the wrong wire type as an unknown
			// field, so the text is missing.
			code: codes.InvalidArgument, msg: "invalid request: article.text: " + emptyText, field: "article.text", fieldDesc: emptyText},
		{name: "bytes that are not protobuf", call: rawClassify([]byte{0x12, 0xff, 0xff, 0xff, 0xff, 0x0f, 'x'}),
			// gRPC answers a request it cannot decode itself, with
			// INTERNAL, before any handler or interceptor runs.
			code: codes.Internal, msg: "grpc: failed to unmarshal the received message", msgHas: true},
		{name: "invalid UTF-8 in a stream id", call: streamCall(streamReq("0", electionText), streamReq("\xff", electionText)),
			// The stream goes on; the id cannot be echoed, so it comes back
			// empty beside the error.
			code: codes.InvalidArgument, msg: "invalid request: article.id: is not valid UTF-8 of at most 256 bytes", field: "article.id", fieldDesc: "is not valid UTF-8 of at most 256 bytes"},
		{name: "a bad article in a stream, which goes on", call: streamCall(streamReq("0", " "), streamReq("1", "\xff")),
			code: codes.InvalidArgument, msg: "invalid request: article.text: is not valid UTF-8", field: "article.text", fieldDesc: "is not valid UTF-8"},

		// Train.
		{name: "Train with no samples", call: trainCall(nil),
			code: codes.InvalidArgument, msg: "invalid request: samples: train: too little training data: no sample carries a label",
			field: "samples", fieldDesc: "train: too little training data: no sample carries a label"},
		{name: "Train with one label only", call: func(t *testing.T, c *catalogue) (*artclassv1.ClassifyResponse, error) {
			return trainCall(trainingSamples()[:10])(t, c)
		}, code: codes.InvalidArgument,
			msg:   `invalid request: samples: train: too little training data: label "sport" has 10 positive and 0 negative samples; 2-fold cross-validation needs at least 2 of each`,
			field: "samples", fieldDesc: `train: too little training data: label "sport" has 10 positive and 0 negative samples; 2-fold cross-validation needs at least 2 of each`},
		{name: "Train sample with no text", call: trainCall(samplesWith(12, &artclassv1.Sample{Title: "A title only", Labels: []string{"weather"}})),
			code: codes.InvalidArgument, msg: "sample 12: invalid sample: text is missing or empty",
			field: "samples[12]", fieldDesc: "invalid sample: text is missing or empty"},
		{name: "Train sample with an invalid label name", call: trainCall(samplesWith(4, &artclassv1.Sample{Text: electionText, Labels: []string{"sport", "Sport!"}})),
			code: codes.InvalidArgument, msg: `sample 4: label 1: invalid sample: label "Sport!" is not of the form [a-z0-9][a-z0-9-]*`,
			field: "samples[4]", fieldDesc: `label 1: invalid sample: label "Sport!" is not of the form [a-z0-9][a-z0-9-]*`},
		{name: "Train sample with a label of invalid UTF-8", call: trainCall(samplesWith(0, &artclassv1.Sample{Text: electionText, Labels: []string{"spo\xffrt"}})),
			code: codes.InvalidArgument, msg: `sample 0: label 0: invalid sample: label "spo\xffrt" is not of the form [a-z0-9][a-z0-9-]*`,
			field: "samples[0]", fieldDesc: `label 0: invalid sample: label "spo\xffrt" is not of the form [a-z0-9][a-z0-9-]*`},
		{name: "Train with bad options", call: func(t *testing.T, c *catalogue) (*artclassv1.ClassifyResponse, error) {
			_, err := sendTrain(withAdmin(testenv.Context(t)), c.client, &artclassv1.TrainOptions{MinDf: -3}, trainingSamples(), 100)
			return nil, err
		}, code: codes.InvalidArgument, msg: "invalid request: options: min_df -3 is not in [1, 1000]",
			field: "options", fieldDesc: "min_df -3 is not in [1, 1000]"},
		{name: "Train with 10⁶ samples", call: trainMillion,
			code: codes.ResourceExhausted, msg: "the Train stream is over its limit of 200000 samples"},
		{name: "Train with a wrong token", call: trainAs("authorization", "Bearer not-the-"+token),
			code: codes.Unauthenticated, msg: "the admin token is not valid"},
		{name: "Train with an empty token", call: trainAs("authorization", "Bearer "),
			code: codes.Unauthenticated, msg: "the admin token is not valid"},
		{name: "Train with the scheme but no token", call: trainAs("authorization", "Bearer"),
			code: codes.Unauthenticated, msg: "this call needs the admin token as `authorization: Bearer TOKEN` metadata"},
		{name: "Train with the token in the wrong metadata key", call: trainAs("x-admin-token", token),
			code: codes.Unauthenticated, msg: "this call needs the admin token as `authorization: Bearer TOKEN` metadata"},
		{name: "Train with the token but no scheme", call: trainAs("authorization", token),
			code: codes.Unauthenticated, msg: "this call needs the admin token as `authorization: Bearer TOKEN` metadata"},
		{name: "a second concurrent Train", call: concurrentTrain,
			code: codes.Aborted, msg: "another Train call is running; retry when it has finished"},
	}
	if len(tests) < 25 {
		t.Fatalf("the catalogue has %d kinds of input, want at least 25", len(tests))
	}
	// One at a time: several cases train, and the server trains one at a
	// time.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tt.call(t, c)
			st := status.Convert(err)
			if st.Code() != tt.code {
				t.Fatalf("code %v (%q), want %v", st.Code(), st.Message(), tt.code)
			}
			if tt.code == codes.OK {
				tt.sane(t, c, resp)
				return
			}
			if tt.msgHas {
				if !strings.Contains(st.Message(), tt.msg) {
					t.Errorf("message %q, want it to hold %q", st.Message(), tt.msg)
				}
			} else if st.Message() != tt.msg {
				t.Errorf("message\n  %q\nwant\n  %q", st.Message(), tt.msg)
			}
			fv := fieldViolations(st)
			switch {
			case tt.field == "" && len(fv) > 0:
				t.Errorf("field violations %v, want none", fv)
			case tt.field != "" && len(fv) != 1:
				t.Errorf("field violations %v, want one on %s", fv, tt.field)
			case tt.field != "" && tt.fieldDesc != "" && fv[tt.field] != tt.fieldDesc:
				t.Errorf("field violation %s = %q, want %q", tt.field, fv[tt.field], tt.fieldDesc)
			}
		})
	}
	// None of it changed the model or killed the server.
	got, err := c.client.GetModel(testenv.Context(t), &artclassv1.GetModelRequest{})
	if err != nil || got.GetModel().GetVersion() != c.modelVersion {
		t.Errorf("GetModel after the catalogue = %v, %v; want the embedded model", got.GetModel().GetVersion(), err)
	}
}
