package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/internal/testenv"
	"github.com/artclass/artclass/modelstore"
	artclassv1 "github.com/artclass/artclass/proto/artclass/v1"
	"github.com/artclass/artclass/server"
)

// defaultModel is the embedded model, decoded once for the whole package.
var defaultModel = sync.OnceValues(classifier.Default)

func mustDefaultModel(t testing.TB) *classifier.Model {
	t.Helper()
	m, err := defaultModel()
	if err != nil {
		t.Fatalf("classifier.Default: %v", err)
	}
	return m
}

// env is a server running on a loopback port and a client connected to it.
type env struct {
	srv    *server.Server
	addr   string
	conn   *grpc.ClientConn
	client artclassv1.ClassifierServiceClient
	logs   *testenv.Buffer
}

// start runs a server with cfg on 127.0.0.1:0 until the test ends. The
// client dials in plaintext unless dialOpts say otherwise.
func start(t testing.TB, cfg server.Config, dialOpts ...grpc.DialOption) *env {
	t.Helper()
	logs := new(testenv.Buffer)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	e := startSrv(t, srv, dialOpts...)
	e.logs = logs
	return e
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// startSrv serves srv on 127.0.0.1:0 until the test ends and connects a
// client to it.
func startSrv(t testing.TB, srv *server.Server, dialOpts ...grpc.DialOption) *env {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx) // a test may have shut it down already

		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	if len(dialOpts) == 0 {
		dialOpts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	conn, err := grpc.NewClient(lis.Addr().String(), dialOpts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &env{srv: srv, addr: lis.Addr().String(), conn: conn, client: artclassv1.NewClassifierServiceClient(conn), logs: new(testenv.Buffer)}
}

// wantCode fails the test unless err has code want.
func wantCode(t testing.TB, err error, want codes.Code) *status.Status {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != want {
		t.Fatalf("code = %v (%q), want %v", st.Code(), st.Message(), want)
	}
	return st
}

// fieldViolations returns the BadRequest field violations of st as
// field → description.
func fieldViolations(st *status.Status) map[string]string {
	out := map[string]string{}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, fv := range br.GetFieldViolations() {
				out[fv.GetField()] = fv.GetDescription()
			}
		}
	}
	return out
}

// stubModel is a Model whose metadata and behaviour a test chooses; calls
// it does not override go to the embedded model.
type stubModel struct {
	server.Model
	version  string
	macroF1  float64
	classify func(title, text string) classifier.Result
}

func (m *stubModel) Version() string { return m.version }

func (m *stubModel) Metadata() classifier.Metadata {
	md := m.Model.Metadata()
	md.Version = m.version
	md.CV.MacroF1 = m.macroF1
	return md
}

func (m *stubModel) Classify(title, text string) classifier.Result {
	if m.classify != nil {
		return m.classify(title, text)
	}
	return m.Model.Classify(title, text)
}

func newStub(t testing.TB, version string, macroF1 float64) *stubModel {
	return &stubModel{Model: mustDefaultModel(t), version: version, macroF1: macroF1}
}

// trainingSamples are short invented articles about two topics and about
// neither: enough for a two-fold cross-validated model.
func trainingSamples() []*artclassv1.Sample {
	sport := []string{
		"The striker scored twice as the club won the league match at home",
		"A late goal from the midfielder sealed the cup final for the visitors",
		"The tennis champion won the tournament after a five set final",
		"The coach praised the defence after the team kept a clean sheet in the derby",
		"Fans cheered as the goalkeeper saved a penalty in the semi final",
		"The runner set a new world record in the marathon on Sunday",
		"The cricket team won the test series after a dramatic final day",
		"The club signed a young striker before the transfer window closed",
		"The league leaders lost their first match of the season to the promoted club",
		"The cyclist took the yellow jersey after winning the mountain stage",
	}
	weather := []string{
		"Heavy rain and strong winds are forecast for the coast this weekend",
		"A heatwave pushed temperatures above forty degrees across the south",
		"Snow closed mountain roads as the storm moved east overnight",
		"Forecasters warned of flooding after a week of heavy rain",
		"Thunderstorms and hail are expected in the north on Tuesday afternoon",
		"A cold front will bring frost and clear skies to the valleys",
		"The hurricane strengthened over warm water and the forecast track shifted",
		"Fog delayed flights as temperatures dropped below freezing at dawn",
		"The drought deepened as the summer brought little rain to the farms",
		"Gusts of wind up to ninety miles an hour battered the islands in the storm",
	}
	other := []string{
		"The central bank held interest rates steady at its monthly meeting",
		"The museum opened an exhibition of early photographs of the city",
		"Parliament debated the new budget for schools and hospitals",
		"The company reported higher profits as sales of phones grew",
		"A new bakery opened on the high street selling bread and cakes",
		"The author won a prize for her novel about a family in the war years",
	}
	var out []*artclassv1.Sample
	for _, s := range sport {
		out = append(out, &artclassv1.Sample{Title: "Sport", Text: s, Labels: []string{"sport"}})
	}
	for _, s := range weather {
		out = append(out, &artclassv1.Sample{Title: "Weather", Text: s, Labels: []string{"weather"}})
	}
	for _, s := range other {
		out = append(out, &artclassv1.Sample{Title: "News", Text: s})
	}
	return out
}

// fastOptions train quickly on trainingSamples.
func fastOptions(force bool) *artclassv1.TrainOptions {
	return &artclassv1.TrainOptions{Algorithm: "rocchio", MinDf: 1, Folds: 2, Force: force}
}

// sendTrain streams samples in messages of batch samples, the first with
// opts, and returns the server's answer.
func sendTrain(ctx context.Context, client artclassv1.ClassifierServiceClient, opts *artclassv1.TrainOptions, samples []*artclassv1.Sample, batch int) (*artclassv1.TrainResponse, error) {
	stream, err := client.Train(ctx)
	if err != nil {
		return nil, err
	}
	first := true
	for len(samples) > 0 || first {
		n := min(batch, len(samples))
		req := &artclassv1.TrainRequest{Samples: samples[:n]}
		if first {
			req.Options = opts
			first = false
		}
		samples = samples[n:]
		if err := stream.Send(req); err != nil {
			if err == io.EOF {
				break // the server has answered; CloseAndRecv gets it
			}
			return nil, fmt.Errorf("send: %w", err)
		}
	}
	return stream.CloseAndRecv()
}

// memStore opens a new, empty in-memory model store, closed when the test
// ends.
func memStore(t testing.TB) *modelstore.Store {
	t.Helper()
	return openStore(t, "mem://")
}

// fileStore opens a model store in a new directory, which it returns with
// the store's URL, so that a test can open the same store again (as
// another replica would) or write behind its back.
func fileStore(t testing.TB) (st *modelstore.Store, dir, u string) {
	t.Helper()
	dir = t.TempDir()
	u = (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String()
	return openStore(t, u), dir, u
}

func openStore(t testing.TB, u string) *modelstore.Store {
	t.Helper()
	st, err := modelstore.Open(context.Background(), u)
	if err != nil {
		t.Fatalf("modelstore.Open(%s): %v", u, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// mustPublish stores m and makes it the store's active version, whatever
// was active before.
func mustPublish(t testing.TB, st *modelstore.Store, m *classifier.Model) modelstore.Pointer {
	t.Helper()
	ctx := context.Background()
	expected, err := st.Active(ctx)
	if err != nil && !errors.Is(err, modelstore.ErrNoActive) {
		t.Fatalf("Active: %v", err)
	}
	_, p, err := st.Publish(ctx, m, expected)
	if err != nil {
		t.Fatalf("Publish(%s): %v", m.Version(), err)
	}
	return p
}

// samplesOf converts API samples to the classifier's.
func samplesOf(in []*artclassv1.Sample) []classifier.Sample {
	out := make([]classifier.Sample, len(in))
	for i, s := range in {
		out[i] = classifier.Sample{Title: s.GetTitle(), Text: s.GetText(), Labels: s.GetLabels()}
	}
	return out
}

// testModels are real models trained on trainingSamples with fastOptions,
// some on deliberately mislabelled copies, so that their cross-validated
// macro-F1s differ. Measured when written (the quality gate test checks the
// relations it needs rather than trusting these): clean seed 1 1.0000,
// clean seed 0 0.9499, clean seed 2 0.9737, flipped {2, 12} seed 2 0.9282,
// flipped {0} seed 0 0.9262, shuffled about 0.65.
type testModels struct {
	// clean1, clean0 and clean2 are trained on the samples as they are,
	// with fold seeds 1, 0 and 2.
	clean1, clean0, clean2 *classifier.Model
	// flipped212 and flipped0 have the sport and weather labels of
	// samples 2 and 12, and of sample 0, swapped.
	flipped212, flipped0 *classifier.Model
	// shuffled has every sample's labels moved to another sample: a model
	// much worse than any other here.
	shuffled *classifier.Model
}

// trainedModels trains the testModels once for the whole package.
var trainedModels = sync.OnceValues(func() (testModels, error) {
	var tm testModels
	var err error
	train := func(samples []classifier.Sample, seed uint64) *classifier.Model {
		if err != nil {
			return nil
		}
		o := classifier.DefaultTrainOptions()
		o.Algorithm, o.MinDF, o.Folds, o.Seed = "rocchio", 1, 2, seed
		var m *classifier.Model
		if m, err = classifier.Train(context.Background(), samples, o); err != nil {
			err = fmt.Errorf("train the test model with seed %d: %w", seed, err)
		}
		return m
	}
	flip := func(idx ...int) []classifier.Sample {
		s := samplesOf(trainingSamples())
		for _, i := range idx {
			if s[i].Labels[0] == "sport" {
				s[i].Labels = []string{"weather"}
			} else {
				s[i].Labels = []string{"sport"}
			}
		}
		return s
	}
	shuffled := samplesOf(trainingSamples())
	perm := rand.New(rand.NewPCG(3, 4)).Perm(len(shuffled))
	for i := range shuffled {
		shuffled[i].Labels = samplesOf(trainingSamples())[perm[i]].Labels
	}
	tm.clean1, tm.clean0, tm.clean2 = train(flip(), 1), train(flip(), 0), train(flip(), 2)
	tm.flipped212, tm.flipped0 = train(flip(2, 12), 2), train(flip(0), 0)
	tm.shuffled = train(shuffled, 0)
	return tm, err
})

func mustModels(t testing.TB) testModels {
	t.Helper()
	tm, err := trainedModels()
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// fakeTrainer returns a Train function that answers with the models it is
// given, in turn, whatever the samples.
func fakeTrainer(models ...*classifier.Model) func(context.Context, []classifier.Sample, classifier.TrainOptions) (*classifier.Model, error) {
	var i atomic.Int64
	return func(ctx context.Context, _ []classifier.Sample, _ classifier.TrainOptions) (*classifier.Model, error) {
		n := int(i.Add(1)) - 1
		return models[n%len(models)], nil
	}
}

// waitFor polls cond every few milliseconds until it holds, and fails the
// test naming what if it does not within limit.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
