package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/internal/testenv"
	"github.com/artclass/artclass/modelstore"
	artclassv1 "github.com/artclass/artclass/proto/artclass/v1"
	"github.com/artclass/artclass/server"
)

const electionText = "Voters went to the polls on Sunday in a parliamentary election. " +
	"The opposition candidate led the count as ballots were tallied, and turnout was high in the capital."

func TestClassify(t *testing.T) {
	t.Parallel()
	e := start(t, server.Config{Model: mustDefaultModel(t)})
	version := mustDefaultModel(t).Version()
	tests := []struct {
		name       string
		req        *artclassv1.ClassifyRequest
		wantTopics int // -1: every label of the model
	}{
		{"every topic", &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Title: "Election day", Text: electionText}}, -1},
		{"top_k", &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}, Filter: &artclassv1.Filter{TopK: 1}}, 1},
		{"top_k over the labels", &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}, Filter: &artclassv1.Filter{TopK: 100}}, -1},
		{"min_confidence 1 keeps only certainties", &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}, Filter: &artclassv1.Filter{MinConfidence: 1}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := e.client.Classify(testenv.Context(t), tt.req)
			if err != nil {
				t.Fatalf("Classify: %v", err)
			}
			if resp.GetModelVersion() != version {
				t.Errorf("model_version = %q, want %q", resp.GetModelVersion(), version)
			}
			want := tt.wantTopics
			if want < 0 {
				want = len(mustDefaultModel(t).Metadata().Labels)
			}
			if got := len(resp.GetTopics()); got != want && !(tt.req.GetFilter().GetMinConfidence() == 1 && got <= 1) {
				t.Errorf("got %d topics, want %d", got, want)
			}
			if !slices.IsSortedFunc(resp.GetTopics(), func(a, b *artclassv1.Topic) int {
				return -cmpFloat(a.GetConfidence(), b.GetConfidence())
			}) {
				t.Errorf("topics are not sorted by confidence: %v", resp.GetTopics())
			}
			for _, tp := range resp.GetTopics() {
				if tp.GetConfidence() < tt.req.GetFilter().GetMinConfidence() {
					t.Errorf("topic %s has confidence %v below min_confidence %v", tp.GetLabel(), tp.GetConfidence(), tt.req.GetFilter().GetMinConfidence())
				}
				if tp.GetAssigned() != slices.Contains(resp.GetLabels(), tp.GetLabel()) {
					t.Errorf("topic %s assigned=%v but labels=%v", tp.GetLabel(), tp.GetAssigned(), resp.GetLabels())
				}
				if !tp.GetAssigned() && len(tp.GetTerms()) > 0 {
					t.Errorf("unassigned topic %s has terms %v", tp.GetLabel(), tp.GetTerms())
				}
			}
			// The assigned labels are the model's decision whatever the filters.
			want0 := mustDefaultModel(t).Classify(tt.req.GetArticle().GetTitle(), tt.req.GetArticle().GetText()).Labels()
			if !slices.Equal(resp.GetLabels(), want0) {
				t.Errorf("labels = %v, want %v", resp.GetLabels(), want0)
			}
		})
	}
	resp, err := e.client.Classify(testenv.Context(t), &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Title: "Election day", Text: electionText}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(resp.GetLabels(), "elections") {
		t.Errorf("labels = %v, want elections among them", resp.GetLabels())
	}
	for _, tp := range resp.GetTopics() {
		if tp.GetAssigned() && len(tp.GetTerms()) == 0 {
			t.Errorf("assigned topic %s has no terms", tp.GetLabel())
		}
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestClassifyInvalidArgument(t *testing.T) {
	t.Parallel()
	const limit = 1000
	e := start(t, server.Config{Model: mustDefaultModel(t), Limits: classifier.Limits{MaxTextBytes: limit}})
	long := strings.Repeat("a", limit+1)
	tests := []struct {
		name      string
		req       *artclassv1.ClassifyRequest
		field     string
		wantInMsg string
	}{
		{"empty text", &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Title: "A title"}}, "article.text", "empty"},
		{"blank text", &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: " \n\t "}}, "article.text", "white space"},
		{"invalid UTF-8 text", &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: "caf\xe9 au lait"}}, "article.text", "UTF-8"},
		{"invalid UTF-8 title", &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Title: "\xff", Text: electionText}}, "article.title", "UTF-8"},
		{"oversized text", &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: long}}, "article.text", "the limit is 1000 bytes"},
		{"oversized title", &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Title: long, Text: electionText}}, "article.title", "the limit is 1000 bytes"},
		{"negative top_k", &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}, Filter: &artclassv1.Filter{TopK: -1}}, "filter.top_k", "0 (every topic) or more"},
		{"min_confidence NaN", &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}, Filter: &artclassv1.Filter{MinConfidence: math.NaN()}}, "filter.min_confidence", "[0, 1]"},
		{"min_confidence below 0", &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}, Filter: &artclassv1.Filter{MinConfidence: -0.1}}, "filter.min_confidence", "[0, 1]"},
		{"min_confidence above 1", &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}, Filter: &artclassv1.Filter{MinConfidence: 1.5}}, "filter.min_confidence", "[0, 1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.client.Classify(testenv.Context(t), tt.req)
			st := wantCode(t, err, codes.InvalidArgument)
			fv := fieldViolations(st)
			desc, ok := fv[tt.field]
			if !ok {
				t.Fatalf("no FieldViolation for %q in %v", tt.field, fv)
			}
			if !strings.Contains(desc, tt.wantInMsg) {
				t.Errorf("FieldViolation %s = %q, want it to mention %q", tt.field, desc, tt.wantInMsg)
			}
		})
	}
}

func TestClassifyBatch(t *testing.T) {
	t.Parallel()
	e := start(t, server.Config{Model: mustDefaultModel(t), MaxBatch: 3})
	resp, err := e.client.ClassifyBatch(testenv.Context(t), &artclassv1.ClassifyBatchRequest{Filter: &artclassv1.Filter{TopK: 2}, Articles: []*artclassv1.Article{{Text: electionText}, {Title: "nothing"}, {Text: "caf\xe9"}}})
	if err != nil {
		t.Fatalf("ClassifyBatch: %v", err)
	}
	if got := len(resp.GetResults()); got != 3 {
		t.Fatalf("got %d results, want 3", got)
	}
	if resp.GetModelVersion() != mustDefaultModel(t).Version() {
		t.Errorf("model_version = %q", resp.GetModelVersion())
	}
	if c := resp.GetResults()[0].GetClassification(); c == nil || len(c.GetTopics()) != 2 || !slices.Contains(c.GetLabels(), "elections") {
		t.Errorf("results[0] = %v, want a classification with 2 topics and elections assigned", resp.GetResults()[0])
	}
	// An article's field paths are relative to the article, as a single
	// Classify of it would name them without the "article." prefix.
	for _, i := range []int{1, 2} {
		e := resp.GetResults()[i].GetError()
		if e == nil {
			t.Fatalf("results[%d] = %v, want an error", i, resp.GetResults()[i])
		}
		st := status.FromProto(e)
		if fv := fieldViolations(st); st.Code() != codes.InvalidArgument || len(fv) != 1 || fv["text"] == "" {
			t.Errorf("results[%d].error = %v, want INVALID_ARGUMENT on text", i, e)
		}
	}

	tests := []struct {
		name  string
		req   *artclassv1.ClassifyBatchRequest
		field string
		want  string
	}{
		{"empty batch", &artclassv1.ClassifyBatchRequest{}, "articles", "at least 1"},
		{"batch over the limit", &artclassv1.ClassifyBatchRequest{Articles: make([]*artclassv1.Article, 4)}, "articles", "the limit is 3"},
		{"negative top_k", &artclassv1.ClassifyBatchRequest{Filter: &artclassv1.Filter{TopK: -2}, Articles: []*artclassv1.Article{{Text: "x"}}}, "filter.top_k", "or more"},
		{"min_confidence above 1", &artclassv1.ClassifyBatchRequest{Filter: &artclassv1.Filter{MinConfidence: 2}, Articles: []*artclassv1.Article{{Text: "x"}}}, "filter.min_confidence", "[0, 1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.client.ClassifyBatch(testenv.Context(t), tt.req)
			st := wantCode(t, err, codes.InvalidArgument)
			if d := fieldViolations(st)[tt.field]; !strings.Contains(d, tt.want) {
				t.Errorf("FieldViolation %s = %q, want it to mention %q", tt.field, d, tt.want)
			}
		})
	}
}

func TestClassifyStream(t *testing.T) {
	t.Parallel()
	e := start(t, server.Config{Model: mustDefaultModel(t)})
	stream, err := e.client.ClassifyStream(testenv.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	reqs := []*artclassv1.ClassifyStreamRequest{
		{Article: &artclassv1.Article{Id: "a", Text: electionText}},
		{Article: &artclassv1.Article{Id: "b", Text: "   "}},
		{Article: &artclassv1.Article{Id: "c", Text: electionText}, Filter: &artclassv1.Filter{TopK: -1}},
		{Article: &artclassv1.Article{Id: "d", Title: "Election", Text: electionText}, Filter: &artclassv1.Filter{MinConfidence: 0.5}},
	}
	// Send and read in lockstep, as a pipeline would; the server answers each
	// article before it reads the next.
	for _, req := range reqs {
		if err := stream.Send(req); err != nil {
			t.Fatalf("Send: %v", err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		r := resp.GetResult()
		id := req.GetArticle().GetId()
		if r.GetId() != id {
			t.Fatalf("response id %q, want %q", r.GetId(), id)
		}
		switch id {
		case "a", "d":
			if r.GetClassification() == nil || !slices.Contains(r.GetClassification().GetLabels(), "elections") {
				t.Errorf("%s: result %v, want elections", id, r)
			}
		case "b":
			if st := status.FromProto(r.GetError()); st.Code() != codes.InvalidArgument || fieldViolations(st)["article.text"] == "" {
				t.Errorf("b: result %v, want INVALID_ARGUMENT on text", r)
			}
		case "c":
			if st := status.FromProto(r.GetError()); st.Code() != codes.InvalidArgument || fieldViolations(st)["filter.top_k"] == "" {
				t.Errorf("c: result %v, want INVALID_ARGUMENT on top_k", r)
			}
		}
	}
	// Many requests sent before any is read come back in order.
	const n = 50
	go func() {
		for i := range n {
			if err := stream.Send(&artclassv1.ClassifyStreamRequest{Article: &artclassv1.Article{Id: string(rune('A' + i)), Text: electionText}}); err != nil {
				return
			}
		}
		stream.CloseSend()
	}()
	for i := range n {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("Recv %d: %v", i, err)
		}
		if want := string(rune('A' + i)); resp.GetResult().GetId() != want {
			t.Fatalf("response %d has id %q, want %q", i, resp.GetResult().GetId(), want)
		}
	}
	if _, err := stream.Recv(); err != io.EOF {
		t.Fatalf("Recv after the last answer: %v, want io.EOF", err)
	}
}

func TestGetModel(t *testing.T) {
	t.Parallel()
	m := mustDefaultModel(t)
	e := start(t, server.Config{Model: m})
	resp, err := e.client.GetModel(testenv.Context(t), &artclassv1.GetModelRequest{})
	if err != nil {
		t.Fatal(err)
	}
	md := m.Metadata()
	got := resp.GetModel()
	if got.GetVersion() != md.Version || !slices.Equal(got.GetLabels(), md.Labels) || int(got.GetSamples()) != md.Samples {
		t.Errorf("model = %v/%v/%d, want %v/%v/%d", got.GetVersion(), got.GetLabels(), got.GetSamples(), md.Version, md.Labels, md.Samples)
	}
	if !got.GetCreateTime().AsTime().Equal(md.Created) {
		t.Errorf("create_time = %v, want %v", got.GetCreateTime().AsTime(), md.Created)
	}
	if got.GetCrossValidation().GetMacroF1() != md.CV.MacroF1 || len(got.GetCrossValidation().GetLabels()) != len(md.CV.PerLabel) {
		t.Errorf("cross_validation = %v, want macro-F1 %v and %d labels", got.GetCrossValidation(), md.CV.MacroF1, len(md.CV.PerLabel))
	}
	for l, n := range md.LabelCounts {
		if int(got.GetLabelCounts()[l]) != n {
			t.Errorf("label_counts[%s] = %d, want %d", l, got.GetLabelCounts()[l], n)
		}
	}
}

func TestNoModelYet(t *testing.T) {
	t.Parallel()
	e := start(t, server.Config{})
	health := healthpb.NewHealthClient(e.conn)
	for _, svc := range []string{"", "artclass.v1.ClassifierService"} {
		resp, err := health.Check(testenv.Context(t), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("health %q = %v, %v; want NOT_SERVING", svc, resp.GetStatus(), err)
		}
	}
	_, err := e.client.Classify(testenv.Context(t), &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}})
	wantCode(t, err, codes.Unavailable)
	_, err = e.client.GetModel(testenv.Context(t), &artclassv1.GetModelRequest{})
	wantCode(t, err, codes.Unavailable)

	e.srv.SetModel(mustDefaultModel(t))
	resp, err := health.Check(testenv.Context(t), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health after SetModel = %v, %v; want SERVING", resp.GetStatus(), err)
	}
	if _, err := e.client.Classify(testenv.Context(t), &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}}); err != nil {
		t.Errorf("Classify after SetModel: %v", err)
	}
}

func TestDeadlineExceeded(t *testing.T) {
	t.Parallel()
	e := start(t, server.Config{Model: mustDefaultModel(t)})
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err := e.client.Classify(ctx, &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}})
	wantCode(t, err, codes.DeadlineExceeded)
}

func TestReflection(t *testing.T) {
	t.Parallel()
	e := start(t, server.Config{Model: mustDefaultModel(t)})
	stream, err := reflectionpb.NewServerReflectionClient(e.conn).ServerReflectionInfo(testenv.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	for _, want := range []string{"artclass.v1.ClassifierService", "grpc.health.v1.Health"} {
		if !slices.Contains(names, want) {
			t.Errorf("reflection lists %v, want %s among them", names, want)
		}
	}
}

func withToken(ctx context.Context, value string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", value)
}

func TestTrainAuth(t *testing.T) {
	t.Parallel()
	st := memStore(t)
	open := start(t, server.Config{Model: mustDefaultModel(t), Store: st})
	guarded := start(t, server.Config{Model: mustDefaultModel(t), Store: st, AdminToken: "s3cret-token"})
	tests := []struct {
		name     string
		e        *env
		auth     string // "" sends no authorization metadata
		want     codes.Code
		wantText string
	}{
		{"no token configured", open, "Bearer s3cret-token", codes.PermissionDenied, "--admin-token-file"},
		{"no token sent", guarded, "", codes.Unauthenticated, "Bearer"},
		{"wrong token", guarded, "Bearer s3cret-tokem", codes.Unauthenticated, "not valid"},
		{"token prefix", guarded, "Bearer s3cret", codes.Unauthenticated, "not valid"},
		{"wrong scheme", guarded, "Basic s3cret-token", codes.Unauthenticated, "Bearer"},
		{"no scheme", guarded, "s3cret-token", codes.Unauthenticated, "Bearer"},
		// The right token gets past authentication to the samples check.
		{"right token", guarded, "Bearer s3cret-token", codes.InvalidArgument, "sample 0"},
		{"scheme is case-insensitive", guarded, "bearer s3cret-token", codes.InvalidArgument, "sample 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testenv.Context(t)
			if tt.auth != "" {
				ctx = withToken(ctx, tt.auth)
			}
			_, err := sendTrain(ctx, tt.e.client, fastOptions(false), []*artclassv1.Sample{{Text: ""}}, 10)
			st := wantCode(t, err, tt.want)
			if !strings.Contains(st.Message(), tt.wantText) {
				t.Errorf("message %q, want it to mention %q", st.Message(), tt.wantText)
			}
		})
	}
	if strings.Contains(guarded.logs.String(), "s3cret") {
		t.Errorf("the log holds the token:\n%s", guarded.logs.String())
	}
}

const token = "test-admin-token"

func TestTrain(t *testing.T) {
	t.Parallel()
	st := memStore(t)
	def := mustDefaultModel(t)
	before := mustPublish(t, st, def)
	e := start(t, server.Config{Model: def, Store: st, AdminToken: token})
	ctx := withToken(testenv.Context(t), "Bearer "+token)
	opts := fastOptions(true)
	opts.L2, opts.Seed = proto.Float64(1e-3), proto.Uint64(7)
	resp, err := sendTrain(ctx, e.client, opts, trainingSamples(), 7)
	if err != nil {
		t.Fatalf("Train: %v", err)
	}
	m := resp.GetModel()
	if !slices.Equal(m.GetLabels(), []string{"sport", "weather"}) || int(m.GetSamples()) != len(trainingSamples()) {
		t.Errorf("trained model labels %v samples %d, want [sport weather] and %d", m.GetLabels(), m.GetSamples(), len(trainingSamples()))
	}
	if resp.GetPreviousVersion() != def.Version() || resp.GetPreviousMacroF1() != def.Metadata().CV.MacroF1 {
		t.Errorf("previous = %q %v, want the default model's %q %v", resp.GetPreviousVersion(), resp.GetPreviousMacroF1(), def.Version(), def.Metadata().CV.MacroF1)
	}
	if m.GetCrossValidation().GetSamples() == 0 || m.GetOptions().GetFolds() != 2 || m.GetOptions().GetAlgorithm() != "rocchio" ||
		m.GetOptions().GetL2() != 1e-3 || m.GetOptions().GetSeed() != 7 {
		t.Errorf("trained model options %v report %v", m.GetOptions(), m.GetCrossValidation())
	}
	// The model is in the store, active, with the default model as its
	// parent, and it is the one served.
	active, err := st.Active(testenv.Context(t))
	if err != nil || active.Version != m.GetVersion() || active.Generation != before.Generation+1 || active.Previous != def.Version() {
		t.Errorf("store's active pointer %+v, %v; want generation %d making %s active after %s", active, err, before.Generation+1, m.GetVersion(), def.Version())
	}
	stored, _, err := st.Load(testenv.Context(t), m.GetVersion())
	if err != nil || stored.Version() != m.GetVersion() {
		t.Fatalf("load the stored model: %v", err)
	}
	if mf, err := st.Manifest(testenv.Context(t), m.GetVersion()); err != nil || mf.Parent != def.Version() || mf.CV.MacroF1 != m.GetCrossValidation().GetMacroF1() {
		t.Errorf("stored manifest %+v, %v; want parent %s and macro-F1 %v", mf, err, def.Version(), m.GetCrossValidation().GetMacroF1())
	}
	got, err := e.client.GetModel(testenv.Context(t), &artclassv1.GetModelRequest{})
	if err != nil || got.GetModel().GetVersion() != m.GetVersion() {
		t.Fatalf("GetModel after Train = %v, %v; want version %s", got.GetModel().GetVersion(), err, m.GetVersion())
	}
	cr, err := e.client.Classify(testenv.Context(t), &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: "The striker scored a goal in the cup final"}})
	if err != nil {
		t.Fatal(err)
	}
	if cr.GetModelVersion() != m.GetVersion() || !slices.Equal(cr.GetLabels(), []string{"sport"}) {
		t.Errorf("Classify after Train: version %s labels %v, want %s and [sport]", cr.GetModelVersion(), cr.GetLabels(), m.GetVersion())
	}
}

func TestTrainInvalid(t *testing.T) {
	t.Parallel()
	good := trainingSamples()
	with := func(i int, s *artclassv1.Sample) []*artclassv1.Sample {
		out := slices.Clone(good)
		out[i] = s
		return out
	}
	tests := []struct {
		name      string
		cfg       server.Config
		opts      *artclassv1.TrainOptions
		samples   []*artclassv1.Sample
		lateOpts  bool
		want      codes.Code
		field     string // a FieldViolation expected, if any
		wantInMsg string
	}{
		{name: "empty text", samples: with(3, &artclassv1.Sample{Text: " ", Labels: []string{"sport"}}),
			want: codes.InvalidArgument, field: "samples[3]", wantInMsg: "sample 3"},
		{name: "invalid UTF-8", samples: with(21, &artclassv1.Sample{Text: "\xff\xfe", Labels: []string{"sport"}}),
			want: codes.InvalidArgument, field: "samples[21]", wantInMsg: "UTF-8"},
		{name: "bad label", samples: with(7, &artclassv1.Sample{Text: "text", Labels: []string{"Not A Label"}}),
			want: codes.InvalidArgument, field: "samples[7]", wantInMsg: "[a-z0-9][a-z0-9-]*"},
		{name: "repeated label", samples: with(0, &artclassv1.Sample{Text: "text", Labels: []string{"sport", "sport"}}),
			want: codes.InvalidArgument, field: "samples[0]", wantInMsg: "twice"},
		{name: "too little data", samples: good[:3],
			want: codes.InvalidArgument, field: "samples", wantInMsg: "too little training data"},
		{name: "no samples", samples: nil,
			want: codes.InvalidArgument, field: "samples", wantInMsg: "no sample"},
		{name: "bad algorithm", opts: &artclassv1.TrainOptions{Algorithm: "magic"}, samples: good,
			want: codes.InvalidArgument, field: "options", wantInMsg: "magic"},
		{name: "zero l2", opts: &artclassv1.TrainOptions{L2: proto.Float64(0)}, samples: good,
			want: codes.InvalidArgument, field: "options", wantInMsg: "l2 0 is not in (0, 100]"},
		{name: "NaN l2", opts: &artclassv1.TrainOptions{L2: proto.Float64(math.NaN())}, samples: good,
			want: codes.InvalidArgument, field: "options", wantInMsg: "l2 NaN"},
		{name: "options in a later message", samples: good, lateOpts: true,
			want: codes.InvalidArgument, field: "options", wantInMsg: "first"},
		{name: "too many samples", cfg: server.Config{MaxTrainSamples: 5}, samples: good,
			want: codes.ResourceExhausted, wantInMsg: "5 samples"},
		{name: "too many bytes", cfg: server.Config{MaxTrainBytes: 500}, samples: good,
			want: codes.ResourceExhausted, wantInMsg: "500 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			store := memStore(t)
			cfg.Model, cfg.Store, cfg.AdminToken = mustDefaultModel(t), store, token
			e := start(t, cfg)
			ctx := withToken(testenv.Context(t), "Bearer "+token)
			opts := tt.opts
			if opts == nil {
				opts = fastOptions(true)
			}
			var err error
			if tt.lateOpts {
				var stream artclassv1.ClassifierService_TrainClient
				stream, err = e.client.Train(ctx)
				if err != nil {
					t.Fatal(err)
				}
				_ = stream.Send(&artclassv1.TrainRequest{Options: opts, Samples: tt.samples[:5]})
				_ = stream.Send(&artclassv1.TrainRequest{Options: opts, Samples: tt.samples[5:]})
				_, err = stream.CloseAndRecv()
			} else {
				_, err = sendTrain(ctx, e.client, opts, tt.samples, 4)
			}
			st := wantCode(t, err, tt.want)
			if !strings.Contains(st.Message(), tt.wantInMsg) {
				t.Errorf("message %q, want it to mention %q", st.Message(), tt.wantInMsg)
			}
			if tt.field != "" {
				if _, ok := fieldViolations(st)[tt.field]; !ok {
					t.Errorf("FieldViolations %v, want one on %s", fieldViolations(st), tt.field)
				}
			}
			// A refused Train changes nothing.
			if list, err := store.List(testenv.Context(t)); err != nil || len(list) > 0 {
				t.Errorf("the store holds %v, %v after a refused Train; want nothing", list, err)
			}
			if e.srv.Model().Version() != mustDefaultModel(t).Version() {
				t.Errorf("the active model changed")
			}
		})
	}
}

// TestTrainQualityGate trains real models of measured quality over a
// store whose active version is another: the gate compares their
// cross-validated macro-F1s, refuses a drop of more than MaxMacroF1Drop
// unless forced, and a refused model is neither served nor promoted.
func TestTrainQualityGate(t *testing.T) {
	t.Parallel()
	tm := mustModels(t)
	tests := []struct {
		name            string
		active, trained *classifier.Model
		// fits says whether the fixtures' measured drop in macro-F1
		// (active minus trained) is what the case is about.
		fits     func(drop float64) bool
		force    bool
		wantCode codes.Code
	}{
		{"better", tm.shuffled, tm.clean1, func(d float64) bool { return d < 0 }, false, codes.OK},
		{"as good", tm.clean0, tm.clean0, func(d float64) bool { return d == 0 }, false, codes.OK},
		{"slightly worse, within the limit", tm.flipped212, tm.flipped0,
			func(d float64) bool { return d > 0 && d <= classifier.MaxMacroF1Drop }, false, codes.OK},
		{"just over the limit", tm.clean2, tm.clean0,
			func(d float64) bool { return d > classifier.MaxMacroF1Drop && d < 2*classifier.MaxMacroF1Drop }, false, codes.FailedPrecondition},
		{"much worse", tm.clean1, tm.shuffled, func(d float64) bool { return d > 0.2 }, false, codes.FailedPrecondition},
		{"much worse but forced", tm.clean1, tm.shuffled, func(d float64) bool { return d > 0.2 }, true, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			activeF1, trainedF1 := tt.active.Metadata().CV.MacroF1, tt.trained.Metadata().CV.MacroF1
			if !tt.fits(activeF1 - trainedF1) {
				t.Fatalf("the fixtures do not fit the case: active macro-F1 %.4f, trained %.4f", activeF1, trainedF1)
			}
			st := memStore(t)
			before := mustPublish(t, st, tt.active)
			e := start(t, server.Config{Model: tt.active, Store: st, AdminToken: token, Train: fakeTrainer(tt.trained)})
			resp, err := sendTrain(withToken(testenv.Context(t), "Bearer "+token), e.client, &artclassv1.TrainOptions{Force: tt.force}, trainingSamples(), 100)
			stat := wantCode(t, err, tt.wantCode)
			after, aerr := st.Active(testenv.Context(t))
			if tt.wantCode == codes.OK {
				if resp.GetModel().GetVersion() != tt.trained.Version() || resp.GetPreviousVersion() != tt.active.Version() ||
					resp.GetPreviousMacroF1() != activeF1 || e.srv.Model().Version() != tt.trained.Version() {
					t.Errorf("response %v, serving %s; want %s active after %s", resp, e.srv.Model().Version(), tt.trained.Version(), tt.active.Version())
				}
				if aerr != nil || after.Version != tt.trained.Version() || after.Generation != before.Generation+1 {
					t.Errorf("store's active pointer %+v, %v; want generation %d of %s", after, aerr, before.Generation+1, tt.trained.Version())
				}
				return
			}
			newF1, oldF1 := fmt.Sprintf("%.4f", trainedF1), fmt.Sprintf("%.4f", activeF1)
			for _, figure := range []string{newF1, oldF1, tt.active.Version()} {
				if !strings.Contains(stat.Message(), figure) {
					t.Errorf("message %q, want it to name %s", stat.Message(), figure)
				}
			}
			var info *errdetails.ErrorInfo
			for _, d := range stat.Details() {
				if i, ok := d.(*errdetails.ErrorInfo); ok {
					info = i
				}
			}
			if info.GetReason() != "MODEL_QUALITY_REGRESSION" || info.GetMetadata()["new_macro_f1"] != newF1 ||
				info.GetMetadata()["active_macro_f1"] != oldF1 || info.GetMetadata()["active_version"] != tt.active.Version() {
				t.Errorf("ErrorInfo = %v", info)
			}
			if e.srv.Model().Version() != tt.active.Version() {
				t.Errorf("a refused model is served")
			}
			if aerr != nil || after != before {
				t.Errorf("store's active pointer %+v, %v after a refusal; want %+v", after, aerr, before)
			}
			if _, err := st.Manifest(testenv.Context(t), tt.trained.Version()); !errors.Is(err, modelstore.ErrNotFound) {
				t.Errorf("the refused model was stored: %v", err)
			}
			if body := scrape(t, e.srv); !strings.Contains(body, `artclass_train_total{result="rejected"} 1`) {
				t.Errorf("the refusal is not counted:\n%s", grepLines(body, "artclass_train_total"))
			}
		})
	}
}

func TestTrainOneAtATime(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	trained := mustModels(t).clean1
	cfg := server.Config{
		Model: mustDefaultModel(t), Store: memStore(t), AdminToken: token,
		Train: func(ctx context.Context, _ []classifier.Sample, _ classifier.TrainOptions) (*classifier.Model, error) {
			once.Do(func() { close(entered) })
			<-release
			return trained, nil
		},
	}
	e := start(t, cfg)
	ctx := withToken(testenv.Context(t), "Bearer "+token)
	first := make(chan error, 1)
	go func() {
		_, err := sendTrain(ctx, e.client, nil, trainingSamples(), 100)
		first <- err
	}()
	<-entered
	start := time.Now()
	_, err := sendTrain(ctx, e.client, nil, trainingSamples(), 100)
	st := wantCode(t, err, codes.Aborted)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the second Train took %v to be refused; want at once", d)
	}
	if !strings.Contains(st.Message(), "another Train") {
		t.Errorf("message %q", st.Message())
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first Train: %v", err)
	}
	// Once the first has finished, training is possible again.
	cfg2Done := make(chan error, 1)
	go func() {
		_, err := sendTrain(ctx, e.client, nil, trainingSamples(), 100)
		cfg2Done <- err
	}()
	if err := <-cfg2Done; err != nil {
		t.Fatalf("Train after the first finished: %v", err)
	}
}

func TestInternalErrors(t *testing.T) {
	t.Parallel()
	panicky := newStub(t, "panicky", 0.9)
	panicky.classify = func(string, string) classifier.Result { panic("the scorer fell over") }
	e := start(t, server.Config{
		Model: panicky, Store: memStore(t), AdminToken: token,
		Train: func(context.Context, []classifier.Sample, classifier.TrainOptions) (*classifier.Model, error) {
			return nil, errors.New("disk on fire at /secret/path")
		},
	})
	_, err := e.client.Classify(testenv.Context(t), &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}})
	if st := wantCode(t, err, codes.Internal); st.Message() != "internal error" {
		t.Errorf("panic answered %q, want \"internal error\"", st.Message())
	}
	_, err = sendTrain(withToken(testenv.Context(t), "Bearer "+token), e.client, nil, trainingSamples(), 100)
	if st := wantCode(t, err, codes.Internal); st.Message() != "internal error" {
		t.Errorf("train failure answered %q, want \"internal error\"", st.Message())
	}
	// The server still works, and the details are in the log only.
	if _, err := e.client.GetModel(testenv.Context(t), &artclassv1.GetModelRequest{}); err != nil {
		t.Errorf("GetModel after a panic: %v", err)
	}
	logs := e.logs.String()
	for _, want := range []string{"the scorer fell over", "disk on fire at /secret/path"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log does not hold %q:\n%s", want, logs)
		}
	}
	if got := rpcLogLevels(t, logs)["Internal"]; got != "ERROR" {
		t.Errorf("request log level for Internal is %q, want ERROR", got)
	}
}

func TestReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "m.model")
	if err := mustDefaultModel(t).WriteFile(path); err != nil {
		t.Fatal(err)
	}
	e := start(t, server.Config{Model: newStub(t, "old", 0.5)})
	if err := e.srv.Reload(path); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if got := e.srv.Model().Version(); got != mustDefaultModel(t).Version() {
		t.Fatalf("active model %s after Reload, want the file's", got)
	}
	bad := filepath.Join(dir, "bad.model")
	if err := os.WriteFile(bad, []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{bad, filepath.Join(dir, "missing.model")} {
		if err := e.srv.Reload(p); err == nil {
			t.Errorf("Reload(%s) succeeded", p)
		}
		if got := e.srv.Model().Version(); got != mustDefaultModel(t).Version() {
			t.Errorf("active model %s after a failed Reload, want the previous", got)
		}
	}
	if _, err := e.client.Classify(testenv.Context(t), &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}}); err != nil {
		t.Errorf("Classify after a failed Reload: %v", err)
	}
	body := scrape(t, e.srv)
	for _, want := range []string{`artclass_reload_total{result="ok"} 1`, `artclass_reload_total{result="failed"} 2`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func scrape(t testing.TB, srv *server.Server) string {
	t.Helper()
	rec := httptest.NewRecorder()
	srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func TestMetricsAndLogs(t *testing.T) {
	t.Parallel()
	e := start(t, server.Config{Model: mustDefaultModel(t)})
	const secretText = "Voters queued at polling stations in the election; the ballot count was close"
	if _, err := e.client.Classify(testenv.Context(t), &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: secretText}}); err != nil {
		t.Fatal(err)
	}
	_, _ = e.client.Classify(testenv.Context(t), &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: ""}})
	body := scrape(t, e.srv)
	version := mustDefaultModel(t).Version()
	for _, want := range []string{
		`grpc_server_handled_total{grpc_code="OK",grpc_method="Classify",grpc_service="artclass.v1.ClassifierService",grpc_type="unary"} 1`,
		`grpc_server_handled_total{grpc_code="InvalidArgument",grpc_method="Classify",grpc_service="artclass.v1.ClassifierService",grpc_type="unary"} 1`,
		`grpc_server_handling_seconds_bucket{grpc_method="Classify"`,
		`artclass_predictions_total{label="elections"} 1`,
		`artclass_topic_confidence_bucket{label="elections",le=`,
		`artclass_model_info{version="` + version + `"} 1`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	logs := e.logs.String()
	for _, want := range []string{
		`"method":"/artclass.v1.ClassifierService/Classify"`, `"code":"OK"`, `"code":"InvalidArgument"`,
		`"model_version":"` + version + `"`, `"text_bytes":` + strconv.Itoa(len(secretText)), `"duration":`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("request log lacks %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "polling stations") {
		t.Errorf("the request log holds the article text")
	}
	// A caller's mistake is no reason to wake anyone: both lines are INFO.
	levels := rpcLogLevels(t, logs)
	for _, code := range []string{"OK", "InvalidArgument"} {
		if levels[code] != "INFO" {
			t.Errorf("request log level for %s is %q, want INFO", code, levels[code])
		}
	}
}

// rpcLogLevels maps each code in the request log lines of logs to the
// level it was logged at.
func rpcLogLevels(t *testing.T, logs string) map[string]string {
	t.Helper()
	levels := map[string]string{}
	for line := range strings.Lines(logs) {
		var l struct{ Msg, Level, Code string }
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if l.Msg == "rpc" {
			levels[l.Code] = l.Level
		}
	}
	return levels
}

// TestSwapUnderLoad classifies continuously, by every classifying RPC,
// while Train and Reload replace the model over and over: no call may fail,
// and each answer must come from one of the models.
func TestSwapUnderLoad(t *testing.T) {
	t.Parallel()
	reloadPath := filepath.Join(t.TempDir(), "reload.model")
	if err := mustDefaultModel(t).WriteFile(reloadPath); err != nil {
		t.Fatal(err)
	}
	a, b := mustModels(t).clean1, mustModels(t).clean0
	e := start(t, server.Config{Model: a, Store: memStore(t), AdminToken: token, Train: fakeTrainer(b, a),
		Follow: modelstore.FollowOptions{Interval: 10 * time.Millisecond}})
	known := map[string]bool{a.Version(): true, b.Version(): true, mustDefaultModel(t).Version(): true}

	ctx, cancel := context.WithCancel(testenv.Context(t))
	// The store's follower swaps models too, racing the Trains and
	// Reloads.
	followed := make(chan error, 1)
	go func() { followed <- e.srv.Follow(ctx) }()
	defer func() {
		cancel()
		if err := <-followed; err != nil {
			t.Errorf("Follow: %v", err)
		}
	}()
	var wg sync.WaitGroup
	var calls, failures atomic.Int64
	fail := func(format string, args ...any) {
		failures.Add(1)
		t.Errorf(format, args...)
	}
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var stream artclassv1.ClassifierService_ClassifyStreamClient
			if w%3 == 2 {
				var err error
				if stream, err = e.client.ClassifyStream(ctx); err != nil {
					fail("ClassifyStream: %v", err)
					return
				}
				defer stream.CloseSend()
			}
			for ctx.Err() == nil {
				var version string
				var err error
				switch w % 3 {
				case 0:
					var r *artclassv1.ClassifyResponse
					r, err = e.client.Classify(ctx, &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}})
					version = r.GetModelVersion()
				case 1:
					var r *artclassv1.ClassifyBatchResponse
					r, err = e.client.ClassifyBatch(ctx, &artclassv1.ClassifyBatchRequest{Articles: []*artclassv1.Article{{Text: electionText}, {Text: electionText}}})
					version = r.GetModelVersion()
					for _, res := range r.GetResults() {
						if res.GetClassification().GetModelVersion() != version {
							fail("a batch mixed models: %s and %s", res.GetClassification().GetModelVersion(), version)
						}
					}
				case 2:
					if err = stream.Send(&artclassv1.ClassifyStreamRequest{Article: &artclassv1.Article{Text: electionText}}); err == nil {
						var r *artclassv1.ClassifyStreamResponse
						r, err = stream.Recv()
						version = r.GetResult().GetClassification().GetModelVersion()
					}
				}
				if ctx.Err() != nil {
					return
				}
				calls.Add(1)
				if err != nil {
					fail("worker %d: %v", w, err)
					return
				}
				if !known[version] {
					fail("worker %d: answer from unknown model %q", w, version)
				}
			}
		}()
	}
	tctx := withToken(ctx, "Bearer "+token)
	for i := range 10 {
		if _, err := sendTrain(tctx, e.client, &artclassv1.TrainOptions{Force: true}, trainingSamples(), 100); err != nil {
			fail("Train %d: %v", i, err)
		}
		if err := e.srv.Reload(reloadPath); err != nil {
			fail("Reload %d: %v", i, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	cancel()
	wg.Wait()
	if failures.Load() > 0 || calls.Load() == 0 {
		t.Fatalf("%d calls, %d failures", calls.Load(), failures.Load())
	}
	t.Logf("%d calls while the model was swapped 20 times, no failure", calls.Load())
}

func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		timeout  time.Duration
		wantCall codes.Code
		forced   bool
	}{
		{"in-flight call completes", 10 * time.Second, codes.OK, false},
		{"timeout cancels the call", 100 * time.Millisecond, codes.Unavailable, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			entered, release := make(chan struct{}), make(chan struct{})
			slow := newStub(t, "slow", 0.9)
			var once sync.Once
			slow.classify = func(title, text string) classifier.Result {
				once.Do(func() { close(entered) })
				<-release
				return mustDefaultModel(t).Classify(title, text)
			}
			srv, err := server.New(server.Config{Model: slow, Logger: discardLogger()})
			if err != nil {
				t.Fatal(err)
			}
			e := startSrv(t, srv)
			call := make(chan error, 1)
			go func() {
				_, err := e.client.Classify(testenv.Context(t), &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}})
				call <- err
			}()
			<-entered
			watch, err := healthpb.NewHealthClient(e.conn).Watch(testenv.Context(t), &healthpb.HealthCheckRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if r, err := watch.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("health before Shutdown = %v, %v; want SERVING", r.GetStatus(), err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			stopped := make(chan error, 1)
			go func() { stopped <- srv.Shutdown(ctx) }()
			if r, err := watch.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
				t.Errorf("health once Shutdown began = %v, %v; want NOT_SERVING", r.GetStatus(), err)
			}
			if !tt.forced {
				time.Sleep(100 * time.Millisecond) // let Shutdown begin
				close(release)
			} else {
				defer close(release)
			}
			err = <-stopped
			if tt.forced != (err != nil) {
				t.Errorf("Shutdown = %v, forced %v", err, tt.forced)
			}
			err = <-call
			if tt.wantCall == codes.OK && err != nil {
				t.Errorf("the in-flight call failed: %v", err)
			}
			if tt.wantCall != codes.OK && status.Code(err) == codes.OK {
				t.Errorf("the in-flight call succeeded after a forced stop")
			}
		})
	}
}
