package server_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/internal/testenv"
	"github.com/artclass/artclass/modelstore"
	artclassv1 "github.com/artclass/artclass/proto/artclass/v1"
	"github.com/artclass/artclass/server"
)

// pollInterval is how often the following servers of these tests poll
// their store: short, so that the tests are quick.
const pollInterval = 50 * time.Millisecond

// convergeLimit bounds how long a following server may take to serve a
// promotion: one poll interval plus generous slack for a loaded machine
// running the tests under -race. The time it took is logged.
const convergeLimit = pollInterval + 10*time.Second

// follow runs srv.Follow until the test ends.
func follow(t *testing.T, srv *server.Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Follow(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Follow: %v", err)
		}
	})
}

// served returns the version e serves and the version it says the store
// names as active; "" and "" while it serves nothing.
func served(t *testing.T, e *env) (model, storeActive string) {
	t.Helper()
	resp, err := e.client.GetModel(testenv.Context(t), &artclassv1.GetModelRequest{})
	if status.Code(err) == codes.Unavailable {
		return "", ""
	}
	if err != nil {
		t.Fatalf("GetModel: %v", err)
	}
	return resp.GetModel().GetVersion(), resp.GetStoreActiveVersion()
}

// waitServes waits until e serves version and agrees with the store that
// it is active, and returns how long that took.
func waitServes(t *testing.T, e *env, version string) time.Duration {
	t.Helper()
	start := time.Now()
	waitFor(t, convergeLimit, "the server serves "+version, func() bool {
		m, active := served(t, e)
		return m == version && active == version
	})
	return time.Since(start)
}

// metricValue returns the value of series (name and labels, as the text
// format writes them) in a scrape of srv, and whether it is there.
func metricValue(t *testing.T, srv *server.Server, series string) (float64, bool) {
	t.Helper()
	for line := range strings.Lines(scrape(t, srv)) {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			return v, true
		}
	}
	return 0, false
}

// health returns the server's overall health status.
func health(t *testing.T, e *env) healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	resp, err := healthpb.NewHealthClient(e.conn).Check(testenv.Context(t), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("health Check: %v", err)
	}
	return resp.GetStatus()
}

// errorInfo returns the ErrorInfo detail of st, or nil.
func errorInfo(st *status.Status) *errdetails.ErrorInfo {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

// gatedTrainer returns a Train function that answers with m once release
// is closed (or its call is cancelled), and a channel closed when it has
// been entered: the caller's Train has then read the store's active
// pointer.
func gatedTrainer(m *classifier.Model) (train func(context.Context, []classifier.Sample, classifier.TrainOptions) (*classifier.Model, error), entered <-chan struct{}, release chan struct{}) {
	in, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	return func(ctx context.Context, _ []classifier.Sample, _ classifier.TrainOptions) (*classifier.Model, error) {
		once.Do(func() { close(in) })
		select {
		case <-release:
			return m, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}, in, release
}

// TestAdminCalls checks what Train, ListModels and ActivateModel share: the
// admin token, and a store to work on.
func TestAdminCalls(t *testing.T) {
	t.Parallel()
	def := mustDefaultModel(t)
	st := memStore(t)
	mustPublish(t, st, def)
	servers := map[string]*env{
		"guarded":  start(t, server.Config{Model: def, Store: st, AdminToken: token}),
		"no token": start(t, server.Config{Model: def, Store: st}),
		"no store": start(t, server.Config{Model: def, AdminToken: token}),
	}
	calls := map[string]func(ctx context.Context, e *env) error{
		"Train": func(ctx context.Context, e *env) error {
			_, err := sendTrain(ctx, e.client, fastOptions(true), trainingSamples(), 100)
			return err
		},
		"ListModels": func(ctx context.Context, e *env) error {
			_, err := e.client.ListModels(ctx, &artclassv1.ListModelsRequest{})
			return err
		},
		"ActivateModel": func(ctx context.Context, e *env) error {
			_, err := e.client.ActivateModel(ctx, &artclassv1.ActivateModelRequest{Version: def.Version()})
			return err
		},
	}
	tests := []struct {
		name   string
		server string
		auth   string // "" sends no authorization metadata
		want   codes.Code
		msg    string // a part of the message; "%s" is the method
	}{
		{"no store", "no store", "Bearer " + token, codes.FailedPrecondition, "%s is disabled because the server has no model store; start artclassd with --model-store URL"},
		{"no admin token configured", "no token", "Bearer " + token, codes.PermissionDenied, "--admin-token-file"},
		{"no token sent", "guarded", "", codes.Unauthenticated, "needs the admin token as `authorization: Bearer TOKEN`"},
		{"wrong token", "guarded", "Bearer not-the-" + token, codes.Unauthenticated, "the admin token is not valid"},
		{"wrong scheme", "guarded", "Basic " + token, codes.Unauthenticated, "needs the admin token"},
	}
	for _, tt := range tests {
		for method, call := range calls {
			t.Run(tt.name+"/"+method, func(t *testing.T) {
				t.Parallel()
				ctx := testenv.Context(t)
				if tt.auth != "" {
					ctx = withToken(ctx, tt.auth)
				}
				st := wantCode(t, call(ctx, servers[tt.server]), tt.want)
				msg := tt.msg
				if strings.Contains(msg, "%s") {
					msg = fmt.Sprintf(msg, method)
				}
				if !strings.Contains(st.Message(), msg) {
					t.Errorf("message %q, want it to hold %q", st.Message(), msg)
				}
			})
		}
	}
	t.Cleanup(func() {
		for name, e := range servers {
			if strings.Contains(e.logs.String(), token) {
				t.Errorf("the %s server's log holds the token", name)
			}
		}
	})
}

// TestListModels lists stores in several states: versions newest first,
// each with its manifest, and the active one flagged.
func TestListModels(t *testing.T) {
	t.Parallel()
	tm, def := mustModels(t), mustDefaultModel(t)
	tests := []struct {
		name string
		// fill puts versions into the store in dir and returns the
		// versions newest first, each with its parent, and the active one.
		fill       func(t *testing.T, st *modelstore.Store, dir string) (versions [][2]string, active string)
		wantCode   codes.Code
		wantErrMsg string
	}{
		{name: "empty store", fill: func(*testing.T, *modelstore.Store, string) ([][2]string, string) { return nil, "" }},
		{name: "a version stored, never promoted", fill: func(t *testing.T, st *modelstore.Store, _ string) ([][2]string, string) {
			if _, err := st.Put(testenv.Context(t), tm.clean0, ""); err != nil {
				t.Fatal(err)
			}
			return [][2]string{{tm.clean0.Version(), ""}}, ""
		}},
		{name: "three versions, rolled back to the middle one", fill: func(t *testing.T, st *modelstore.Store, _ string) ([][2]string, string) {
			mustPublish(t, st, def)
			mustPublish(t, st, tm.clean0)
			p := mustPublish(t, st, tm.clean1)
			if _, err := st.Promote(testenv.Context(t), p.Previous, p); err != nil {
				t.Fatal(err)
			}
			return [][2]string{{tm.clean1.Version(), tm.clean0.Version()}, {tm.clean0.Version(), def.Version()}, {def.Version(), ""}}, tm.clean0.Version()
		}},
		{name: "store directory gone", wantCode: codes.Unavailable, wantErrMsg: "the model store cannot be read now; retry later",
			fill: func(t *testing.T, _ *modelstore.Store, dir string) ([][2]string, string) {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				return nil, ""
			}},
	}
	byVersion := map[string]*classifier.Model{}
	for _, m := range []*classifier.Model{def, tm.clean0, tm.clean1} {
		byVersion[m.Version()] = m
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, dir, _ := fileStore(t)
			want, active := tt.fill(t, st, dir)
			e := start(t, server.Config{Model: def, Store: st, AdminToken: token})
			resp, err := e.client.ListModels(withAdmin(testenv.Context(t)), &artclassv1.ListModelsRequest{})
			stat := wantCode(t, err, tt.wantCode)
			if tt.wantCode != codes.OK {
				if !strings.Contains(stat.Message(), tt.wantErrMsg) {
					t.Errorf("message %q, want it to hold %q", stat.Message(), tt.wantErrMsg)
				}
				return
			}
			if resp.GetActiveVersion() != active {
				t.Errorf("active_version %q, want %q", resp.GetActiveVersion(), active)
			}
			var got [][2]string
			for _, sm := range resp.GetModels() {
				got = append(got, [2]string{sm.GetModel().GetVersion(), sm.GetParentVersion()})
			}
			if !slices.Equal(got, want) {
				t.Fatalf("versions and parents %v, want %v (newest first)", got, want)
			}
			for _, sm := range resp.GetModels() {
				v := sm.GetModel().GetVersion()
				if sm.GetActive() != (v == active) {
					t.Errorf("%s: active = %v, want %v", v, sm.GetActive(), v == active)
				}
				m := byVersion[v]
				data, err := m.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				if sm.GetSha256() != fmt.Sprintf("%x", sha256.Sum256(data)) || sm.GetSizeBytes() != int64(len(data)) {
					t.Errorf("%s: sha256 %s, size %d; want the model file's %x, %d", v, sm.GetSha256(), sm.GetSizeBytes(), sha256.Sum256(data), len(data))
				}
				md, got := m.Metadata(), sm.GetModel()
				if !slices.Equal(got.GetLabels(), md.Labels) || int(got.GetSamples()) != md.Samples || int(got.GetNegatives()) != md.Negatives ||
					got.GetAlgorithm() != md.Algorithm || got.GetCrossValidation().GetMacroF1() != md.CV.MacroF1 ||
					!got.GetCreateTime().AsTime().Equal(md.Created) || len(got.GetCrossValidation().GetLabels()) != len(md.CV.PerLabel) {
					t.Errorf("%s: model %v, want the manifest of %+v", v, got, md)
				}
			}
		})
	}
}

// TestActivateModel activates stored versions, and versions that cannot
// be: the store's pointer and the served model change exactly when the
// call succeeds.
func TestActivateModel(t *testing.T) {
	t.Parallel()
	tm, def := mustModels(t), mustDefaultModel(t)
	const unknown = "0123456789abcdef"
	tests := []struct {
		name    string
		version string
		// prepare changes the store in dir, whose active version is
		// tm.clean1 (generation 2) after def (generation 1), and returns
		// the version to activate when version is empty.
		prepare   func(t *testing.T, st *modelstore.Store, dir string) string
		wantCode  codes.Code
		wantMsg   string // a part of the message
		wantField string // the field violation expected, if any
	}{
		{name: "roll back to the previous version", version: def.Version()},
		{name: "roll forward to a version never active", prepare: func(t *testing.T, st *modelstore.Store, _ string) string {
			mf, err := st.Put(testenv.Context(t), tm.clean0, "")
			if err != nil {
				t.Fatal(err)
			}
			return mf.Version
		}},
		{name: "a much worse version: a person chose it, so no quality gate", prepare: func(t *testing.T, st *modelstore.Store, _ string) string {
			if d := tm.clean1.Metadata().CV.MacroF1 - tm.shuffled.Metadata().CV.MacroF1; d <= classifier.MaxMacroF1Drop {
				t.Fatalf("the shuffled model is only %.4f worse than the active one", d)
			}
			mf, err := st.Put(testenv.Context(t), tm.shuffled, "")
			if err != nil {
				t.Fatal(err)
			}
			return mf.Version
		}},
		{name: "unknown version", version: unknown, wantCode: codes.NotFound, wantMsg: unknown},
		{name: "a stored version whose model file is damaged", wantCode: codes.FailedPrecondition, wantMsg: "the stored model does not verify",
			prepare: func(t *testing.T, st *modelstore.Store, dir string) string {
				mf, err := st.Put(testenv.Context(t), tm.clean0, "")
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(dir, "versions", mf.Version, "model-"+mf.Checksum+".bin")
				if err := os.WriteFile(path, []byte("ARTCLASS but not a model"), 0o644); err != nil {
					t.Fatal(err)
				}
				return mf.Version
			}},
		{name: "empty version", prepare: func(*testing.T, *modelstore.Store, string) string { return "" },
			wantCode: codes.InvalidArgument, wantMsg: "must be 1 to 64 characters", wantField: "version"},
		{name: "upper-case version", version: "0123456789ABCDEF", wantCode: codes.InvalidArgument, wantMsg: "only lower-case letters", wantField: "version"},
		{name: "a path for a version", version: "../active", wantCode: codes.InvalidArgument, wantMsg: "only lower-case letters", wantField: "version"},
		// The server's limit and the store's agree: 64 characters is a
		// version the store could hold, 65 is not.
		{name: "unknown version of 64 characters", version: strings.Repeat("a", 64), wantCode: codes.NotFound, wantMsg: strings.Repeat("a", 64)},
		{name: "version of 65 characters", version: strings.Repeat("a", 65), wantCode: codes.InvalidArgument, wantMsg: "version: is 65 bytes; the limit is 64 bytes", wantField: "version"},
		{name: "version of 100,000 characters", version: strings.Repeat("a", 100_000), wantCode: codes.InvalidArgument, wantMsg: "version: is 100000 bytes; the limit is 64 bytes", wantField: "version"},
		{name: "non-ASCII version", version: "versión", wantCode: codes.InvalidArgument, wantMsg: "only lower-case letters", wantField: "version"},
		{name: "version of invalid UTF-8", version: "v\xff1", wantCode: codes.InvalidArgument, wantMsg: "only lower-case letters", wantField: "version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, dir, u := fileStore(t)
			mustPublish(t, st, def)
			before := mustPublish(t, st, tm.clean1)
			version := tt.version
			if tt.prepare != nil {
				version = tt.prepare(t, st, dir)
			}
			e := start(t, server.Config{Model: tm.clean1, Store: st, AdminToken: token})
			resp, err := e.client.ActivateModel(withAdmin(testenv.Context(t)), &artclassv1.ActivateModelRequest{Version: version})
			stat := wantCode(t, err, tt.wantCode)
			after, aerr := openStore(t, u).Active(testenv.Context(t))
			if aerr != nil {
				t.Fatalf("Active: %v", aerr)
			}
			if tt.wantCode == codes.OK {
				if resp.GetModel().GetVersion() != version || resp.GetPreviousVersion() != tm.clean1.Version() {
					t.Errorf("response model %s previous %s, want %s after %s", resp.GetModel().GetVersion(), resp.GetPreviousVersion(), version, tm.clean1.Version())
				}
				want := modelstore.Pointer{Generation: before.Generation + 1, Version: version, Previous: tm.clean1.Version(), Time: after.Time}
				if after != want {
					t.Errorf("active pointer %+v, want %+v", after, want)
				}
				if m, _ := served(t, e); m != version {
					t.Errorf("serving %s, want %s", m, version)
				}
				return
			}
			if !strings.Contains(stat.Message(), tt.wantMsg) {
				t.Errorf("message %q, want it to hold %q", stat.Message(), tt.wantMsg)
			}
			if len(stat.Message()) > 1000 {
				t.Errorf("message of %d bytes; want the bad input cut short", len(stat.Message()))
			}
			fv := fieldViolations(stat)
			if tt.wantField != "" && (len(fv) != 1 || fv[tt.wantField] == "") {
				t.Errorf("field violations %v, want one on %s", fv, tt.wantField)
			}
			if after != before {
				t.Errorf("active pointer %+v after a refused call, want %+v", after, before)
			}
			if m, _ := served(t, e); m != tm.clean1.Version() {
				t.Errorf("serving %s after a refused call, want %s", m, tm.clean1.Version())
			}
		})
	}
}

// TestPromotionRaces races promotions through two servers on one store:
// of two that start from the same active version exactly one wins, and the
// other answers ABORTED naming the version that won.
func TestPromotionRaces(t *testing.T) {
	t.Parallel()
	tm, def := mustModels(t), mustDefaultModel(t)
	t.Run("Train against ActivateModel", func(t *testing.T) {
		t.Parallel()
		st, _, u := fileStore(t)
		mustPublish(t, st, tm.clean0)
		before := mustPublish(t, st, def)
		train, entered, release := gatedTrainer(tm.clean1)
		a := start(t, server.Config{Model: def, Store: st, AdminToken: token, Train: train})
		b := start(t, server.Config{Model: def, Store: openStore(t, u), AdminToken: token})
		trained := make(chan error, 1)
		go func() {
			_, err := sendTrain(withAdmin(testenv.Context(t)), a.client, fastOptions(true), trainingSamples(), 100)
			trained <- err
		}()
		<-entered
		// The rollback lands while the model trains.
		if _, err := b.client.ActivateModel(withAdmin(testenv.Context(t)), &artclassv1.ActivateModelRequest{Version: tm.clean0.Version()}); err != nil {
			t.Fatalf("ActivateModel: %v", err)
		}
		close(release)
		stat := wantCode(t, <-trained, codes.Aborted)
		if !strings.Contains(stat.Message(), "version "+tm.clean0.Version()+" is active now") {
			t.Errorf("message %q, want it to name %s", stat.Message(), tm.clean0.Version())
		}
		if info := errorInfo(stat); info.GetReason() != "ACTIVE_MODEL_CHANGED" || info.GetMetadata()["active_version"] != tm.clean0.Version() {
			t.Errorf("ErrorInfo %v, want ACTIVE_MODEL_CHANGED naming %s", info, tm.clean0.Version())
		}
		if p, err := st.Active(testenv.Context(t)); err != nil || p.Version != tm.clean0.Version() || p.Generation != before.Generation+1 {
			t.Errorf("active pointer %+v, %v; want the rollback's generation %d", p, err, before.Generation+1)
		}
		if m, _ := served(t, a); m != def.Version() {
			t.Errorf("the losing trainer serves %s, want %s still", m, def.Version())
		}
		// The losing model stays stored, not active, for a person to
		// promote.
		list, err := a.client.ListModels(withAdmin(testenv.Context(t)), &artclassv1.ListModelsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(list.GetModels(), func(sm *artclassv1.StoredModel) bool { return sm.GetModel().GetVersion() == tm.clean1.Version() })
		if i < 0 || list.GetModels()[i].GetActive() || list.GetModels()[i].GetParentVersion() != def.Version() {
			t.Errorf("ListModels %v; want %s stored, not active, parent %s", list.GetModels(), tm.clean1.Version(), def.Version())
		}
		if v, _ := metricValue(t, a.srv, `artclass_train_total{result="conflict"}`); v != 1 {
			t.Errorf("artclass_train_total{result=\"conflict\"} = %v, want 1", v)
		}
	})
	t.Run("two Trains at once", func(t *testing.T) {
		t.Parallel()
		st, _, u := fileStore(t)
		before := mustPublish(t, st, def)
		trainA, enteredA, releaseA := gatedTrainer(tm.clean1)
		trainB, enteredB, releaseB := gatedTrainer(tm.clean0)
		a := start(t, server.Config{Model: def, Store: st, AdminToken: token, Train: trainA})
		b := start(t, server.Config{Model: def, Store: openStore(t, u), AdminToken: token, Train: trainB})
		results := make(chan [2]string, 2) // the server's model and the call's error
		for _, e := range []*env{a, b} {
			go func() {
				resp, err := sendTrain(withAdmin(testenv.Context(t)), e.client, fastOptions(true), trainingSamples(), 100)
				if err != nil {
					results <- [2]string{"", status.Convert(err).Code().String() + ": " + status.Convert(err).Message()}
					return
				}
				results <- [2]string{resp.GetModel().GetVersion(), ""}
			}()
		}
		// Both have read the same active pointer before either publishes.
		<-enteredA
		<-enteredB
		close(releaseA)
		close(releaseB)
		r1, r2 := <-results, <-results
		winner, loserErr := r1[0], r2[1]
		if winner == "" {
			winner, loserErr = r2[0], r1[1]
		}
		if winner == "" || loserErr == "" {
			t.Fatalf("results %q and %q; want exactly one success", r1, r2)
		}
		want := fmt.Sprintf("Aborted: the active model changed while this call ran: version %s is active now", winner)
		if !strings.HasPrefix(loserErr, want) {
			t.Errorf("the loser's error %q, want it to start %q", loserErr, want)
		}
		if p, err := st.Active(testenv.Context(t)); err != nil || p.Version != winner || p.Generation != before.Generation+1 {
			t.Errorf("active pointer %+v, %v; want generation %d of %s", p, err, before.Generation+1, winner)
		}
		ma, _ := served(t, a)
		mb, _ := served(t, b)
		if n := btoi(ma == winner) + btoi(mb == winner); n != 1 || (ma != winner && ma != def.Version()) || (mb != winner && mb != def.Version()) {
			t.Errorf("the servers serve %s and %s; want the winner %s on one, %s on the other", ma, mb, winner, def.Version())
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestFollow runs two servers on one store, each following it: a Train on
// one and an ActivateModel on the other reach both, within a poll interval
// and slack, and GetModel reports the store's active version.
func TestFollow(t *testing.T) {
	t.Parallel()
	def := mustDefaultModel(t)
	st, _, u := fileStore(t)
	mustPublish(t, st, def)
	base := server.Config{AdminToken: token}
	base.Follow.Interval = pollInterval
	cfgA, cfgB := base, base
	cfgA.Model, cfgA.Store = def, st
	cfgB.Store = openStore(t, u) // no model: it comes from the store
	a, b := start(t, cfgA), start(t, cfgB)

	// Before it follows, b has nothing to serve.
	if h := health(t, b); h != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health before the first poll %v, want NOT_SERVING", h)
	}
	if m, active := served(t, a); m != def.Version() || active != "" {
		t.Errorf("GetModel before following: %q, store_active_version %q; want %s and none", m, active, def.Version())
	}
	follow(t, a.srv)
	follow(t, b.srv)
	waitServes(t, a, def.Version())
	waitServes(t, b, def.Version())
	if h := health(t, b); h != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health once the store's model is loaded %v, want SERVING", h)
	}

	// A Train on a, with the real trainer, reaches b.
	resp, err := sendTrain(withAdmin(testenv.Context(t)), a.client, fastOptions(true), trainingSamples(), 100)
	if err != nil {
		t.Fatalf("Train: %v", err)
	}
	trained := resp.GetModel().GetVersion()
	t.Logf("b served the trained version %v after the Train returned", waitServes(t, b, trained))
	waitServes(t, a, trained)
	cr, err := b.client.Classify(testenv.Context(t), &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: "The striker scored a goal in the cup final"}})
	if err != nil || cr.GetModelVersion() != trained || !slices.Equal(cr.GetLabels(), []string{"sport"}) {
		t.Errorf("Classify on b: %v %v, %v; want %s and [sport]", cr.GetModelVersion(), cr.GetLabels(), err, trained)
	}

	// A rollback on b reaches a.
	if _, err := b.client.ActivateModel(withAdmin(testenv.Context(t)), &artclassv1.ActivateModelRequest{Version: def.Version()}); err != nil {
		t.Fatalf("ActivateModel: %v", err)
	}
	t.Logf("a served the rolled-back version %v after ActivateModel returned", waitServes(t, a, def.Version()))
	waitServes(t, b, def.Version())

	// A promotion made without either server reaches both.
	if _, err := st.Promote(testenv.Context(t), trained, mustActive(t, st)); err != nil {
		t.Fatal(err)
	}
	for _, e := range []*env{a, b} {
		t.Logf("served a promotion behind the servers' backs after %v", waitServes(t, e, trained))
	}
	for name, e := range map[string]*env{"a": a, "b": b} {
		if v, _ := metricValue(t, e.srv, `artclass_model_info{version="`+trained+`"}`); v != 1 {
			t.Errorf("%s: artclass_model_info for %s = %v, want 1", name, trained, v)
		}
		if v, _ := metricValue(t, e.srv, "artclass_store_active_generation"); v != 4 {
			t.Errorf("%s: artclass_store_active_generation = %v, want 4", name, v)
		}
	}
}

func mustActive(t *testing.T, st *modelstore.Store) modelstore.Pointer {
	t.Helper()
	p, err := st.Active(testenv.Context(t))
	if err != nil {
		t.Fatalf("Active: %v", err)
	}
	return p
}

// TestFollowRefusesDamagedVersion promotes a damaged version behind the
// servers' backs, by writing the store's objects directly as bit rot or a
// broken tool would: a server that serves a model keeps it, one that has
// none stays NOT_SERVING, both say why in their log and metrics, and both
// follow the next good promotion.
func TestFollowRefusesDamagedVersion(t *testing.T) {
	t.Parallel()
	tm, def := mustModels(t), mustDefaultModel(t)
	st, dir, u := fileStore(t)
	p1 := mustPublish(t, st, tm.clean1)
	cfg := server.Config{Store: st}
	cfg.Follow.Interval = pollInterval
	a := start(t, cfg)
	follow(t, a.srv)
	waitServes(t, a, tm.clean1.Version())

	// The version is stored properly, then damaged, then named by a
	// pointer generation written by hand: Promote itself would refuse it.
	mf, err := openStore(t, u).Put(testenv.Context(t), tm.clean0, p1.Version)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "versions", mf.Version, "model-"+mf.Checksum+".bin"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	pointer := fmt.Sprintf(`{"generation":2,"version":%q,"previous":%q,"time":%q,"writer":"a hand"}`,
		mf.Version, p1.Version, time.Now().UTC().Format(time.RFC3339Nano))
	if err := os.WriteFile(filepath.Join(dir, "active", "00000000000000000002.json"), []byte(pointer), 0o644); err != nil {
		t.Fatal(err)
	}
	// A second server starts on the store as it is now.
	cfgB := server.Config{Store: openStore(t, u)}
	cfgB.Follow.Interval = pollInterval
	b := start(t, cfgB)
	follow(t, b.srv)

	for name, e := range map[string]*env{"a": a, "b": b} {
		waitFor(t, convergeLimit, name+" refuses the damaged version", func() bool {
			v, _ := metricValue(t, e.srv, `artclass_store_swaps_total{result="refused"}`)
			return v == 1
		})
		if !strings.Contains(e.logs.String(), "model refused; serving the previous model") || !strings.Contains(e.logs.String(), mf.Version) {
			t.Errorf("%s: the log does not say that %s was refused:\n%s", name, mf.Version, e.logs.String())
		}
		if v, _ := metricValue(t, e.srv, "artclass_store_active_generation"); v != 2 {
			t.Errorf("%s: artclass_store_active_generation = %v, want 2", name, v)
		}
	}
	if m, active := served(t, a); m != tm.clean1.Version() || active != mf.Version {
		t.Errorf("a: serving %s, store_active_version %s; want %s still, and the store's %s", m, active, tm.clean1.Version(), mf.Version)
	}
	if cr, err := a.client.Classify(testenv.Context(t), &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}}); err != nil || cr.GetModelVersion() != tm.clean1.Version() {
		t.Errorf("a: Classify after the refusal: %v, %v; want %s", cr.GetModelVersion(), err, tm.clean1.Version())
	}
	if h := health(t, b); h != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("b: health with only a damaged version to load %v, want NOT_SERVING", h)
	}
	_, err = b.client.Classify(testenv.Context(t), &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}})
	wantCode(t, err, codes.Unavailable)

	// The next good promotion reaches both.
	if _, _, err := st.Publish(testenv.Context(t), def, mustActive(t, st)); err != nil {
		t.Fatalf("Publish after the damaged generation: %v", err)
	}
	waitServes(t, a, def.Version())
	waitServes(t, b, def.Version())
	if h := health(t, b); h != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("b: health once a good version is active %v, want SERVING", h)
	}
}

// TestFollowMetrics checks the store series in a server's metrics: absent
// without a store, counting polls and swaps with one, and errors while the
// store cannot be read, during which the server keeps serving.
func TestFollowMetrics(t *testing.T) {
	t.Parallel()
	def := mustDefaultModel(t)
	if body := scrape(t, start(t, server.Config{Model: def}).srv); strings.Contains(body, "artclass_store_") {
		t.Errorf("a server without a store exports store metrics:\n%s", grepLines(body, "artclass_store_"))
	}

	st, dir, _ := fileStore(t)
	mustPublish(t, st, def)
	cfg := server.Config{Store: st}
	cfg.Follow.Interval = pollInterval
	e := start(t, cfg)
	follow(t, e.srv)
	waitServes(t, e, def.Version())
	for _, want := range []struct {
		series string
		ok     func(float64) bool
	}{
		{"artclass_store_polls_total", func(v float64) bool { return v >= 1 }},
		{"artclass_store_poll_errors_total", func(v float64) bool { return v == 0 }},
		{`artclass_store_swaps_total{result="ok"}`, func(v float64) bool { return v == 1 }},
		{`artclass_store_swaps_total{result="refused"}`, func(v float64) bool { return v == 0 }},
		{"artclass_store_active_generation", func(v float64) bool { return v == 1 }},
		{"artclass_store_seconds_since_agreed", func(v float64) bool { return v >= 0 }},
		{`artclass_model_info{version="` + def.Version() + `"}`, func(v float64) bool { return v == 1 }},
	} {
		if v, ok := metricValue(t, e.srv, want.series); !ok || !want.ok(v) {
			t.Errorf("%s = %v (present %v)", want.series, v, ok)
		}
	}

	// The store answers the polls with an error, and then recovers: the
	// next pointer generation is a symbolic link to itself, which cannot
	// be read (ELOOP) and is not "not found" either. A store directory
	// that disappears would not do: a follower that knows a generation
	// reads only the next, and finds it missing just as in a store that
	// did not change.
	next := filepath.Join(dir, "active", "00000000000000000002.json")
	if err := os.Symlink(filepath.Base(next), next); err != nil {
		t.Fatal(err)
	}
	waitFor(t, convergeLimit, "a poll error", func() bool {
		v, _ := metricValue(t, e.srv, "artclass_store_poll_errors_total")
		return v >= 1
	})
	waitFor(t, convergeLimit, "the replica to fall behind the store", func() bool {
		v, _ := metricValue(t, e.srv, "artclass_store_seconds_since_agreed")
		return v > 0
	})
	if cr, err := e.client.Classify(testenv.Context(t), &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}}); err != nil || cr.GetModelVersion() != def.Version() {
		t.Errorf("Classify while the store is away: %v, %v", cr.GetModelVersion(), err)
	}
	if !strings.Contains(e.logs.String(), "model store poll failed") {
		t.Errorf("the log does not hold the failed poll")
	}
	if err := os.Remove(next); err != nil {
		t.Fatal(err)
	}
	errorsThen, _ := metricValue(t, e.srv, "artclass_store_poll_errors_total")
	pollsThen, _ := metricValue(t, e.srv, "artclass_store_polls_total")
	waitFor(t, convergeLimit, "polls to succeed again", func() bool {
		polls, _ := metricValue(t, e.srv, "artclass_store_polls_total")
		errs, _ := metricValue(t, e.srv, "artclass_store_poll_errors_total")
		return polls >= pollsThen+3 && errs <= errorsThen+1
	})
	if v, _ := metricValue(t, e.srv, `artclass_store_swaps_total{result="ok"}`); v != 1 {
		t.Errorf("swaps after the store came back = %v, want still 1", v)
	}
	if m, active := served(t, e); m != def.Version() || active != def.Version() {
		t.Errorf("serving %s, store active %s after the outage; want %s", m, active, def.Version())
	}
}

// TestGetModelStoreActiveVersion checks store_active_version: empty
// without a store and before the first poll, the store's active version
// once the server follows it, also while this replica serves another.
func TestGetModelStoreActiveVersion(t *testing.T) {
	t.Parallel()
	tm, def := mustModels(t), mustDefaultModel(t)
	if m, active := served(t, start(t, server.Config{Model: def})); m != def.Version() || active != "" {
		t.Errorf("without a store: %s, %q; want %s and none", m, active, def.Version())
	}
	st := memStore(t)
	mustPublish(t, st, tm.clean0)
	cfg := server.Config{Model: def, Store: st}
	cfg.Follow.Interval = pollInterval
	e := start(t, cfg)
	if m, active := served(t, e); m != def.Version() || active != "" {
		t.Errorf("before following: %s, %q; want %s and none", m, active, def.Version())
	}
	follow(t, e.srv)
	waitServes(t, e, tm.clean0.Version())
	// SetModel (as SIGHUP's reload does) serves another model; the store
	// still names its own.
	e.srv.SetModel(def)
	if m, active := served(t, e); m != def.Version() || active != tm.clean0.Version() {
		t.Errorf("after SetModel: %s, %q; want %s and the store's %s", m, active, def.Version(), tm.clean0.Version())
	}
}
