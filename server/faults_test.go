package server_test

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

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

// faultyStore is a real store whose Publish stores the version and then
// fails to write the pointer with err, as a full disk or a store that
// refuses writes would.
type faultyStore struct {
	*modelstore.Store
	err error
}

func (f *faultyStore) Publish(ctx context.Context, m *classifier.Model, expected modelstore.Pointer) (modelstore.Manifest, modelstore.Pointer, error) {
	mf, err := f.Store.Put(ctx, m, expected.Version)
	if err != nil {
		return mf, modelstore.Pointer{}, err
	}
	return mf, modelstore.Pointer{}, fmt.Errorf("promote %s: write pointer generation %d: %w", mf.Version, expected.Generation+1, f.err)
}

// tmpFiles lists the temporary files under dir.
func tmpFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".tmp") {
			out = append(out, path)
		}
		return nil
	})
	return out
}

// TestTrainStoreFaults makes the store fail a Train's publication in each
// way a store can fail it: Train must answer an error that says what to do
// without internals, log the cause, count the failure, leave the store's
// active pointer where it was (and no temporary file behind) and keep
// serving the active model. The store's own tests cover its side: a crash
// at any point of a Put or Promote, damaged objects, and fileblob's
// non-atomic create (modelstore: testCrashLeavesReadableStore,
// testCorruptionRefused, TestDirectoryCreateIsAtomic).
func TestTrainStoreFaults(t *testing.T) {
	t.Parallel()
	def, trained := mustDefaultModel(t), mustModels(t).clean1
	trainedBytes, err := trained.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	versionDir := func(dir, version string) string { return filepath.Join(dir, "versions", version) }
	unavailable := "the model store cannot be read now; retry later"
	tests := []struct {
		name string
		// fault breaks the file:// store in dir, whose active version is
		// the default model, and returns the store the server is to use:
		// st itself unless the fault is in the store's writes.
		fault func(t *testing.T, dir string, st *modelstore.Store) server.Store
		code  codes.Code
		// msg is a part of the message; logged the cause the log holds.
		msg, logged string
		// readable is whether the pointer can still be read after the
		// fault, to check that it did not move.
		readable bool
	}{
		{name: "disk full writing the pointer", code: codes.Unavailable, msg: unavailable, logged: "no space left on device", readable: true,
			fault: func(t *testing.T, _ string, st *modelstore.Store) server.Store {
				return &faultyStore{Store: st, err: syscall.ENOSPC}
			}},
		{name: "the new version's directory cannot be created", code: codes.Unavailable, msg: unavailable, logged: "not a directory", readable: true,
			fault: func(t *testing.T, dir string, st *modelstore.Store) server.Store {
				if err := os.WriteFile(versionDir(dir, trained.Version()), []byte("a file where a directory should be"), 0o644); err != nil {
					t.Fatal(err)
				}
				return st
			}},
		{name: "a damaged copy of the trained version is in the store", code: codes.FailedPrecondition, msg: "does not verify", logged: "stored model is corrupt", readable: true,
			fault: func(t *testing.T, dir string, st *modelstore.Store) server.Store {
				sum := sha256.Sum256(trainedBytes)
				path := filepath.Join(versionDir(dir, trained.Version()), fmt.Sprintf("model-%x.bin", sum))
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, trainedBytes[:len(trainedBytes)/2], 0o644); err != nil {
					t.Fatal(err)
				}
				return st
			}},
		{name: "the active version's manifest is damaged", code: codes.FailedPrecondition, msg: "does not verify", logged: "stored model is corrupt", readable: true,
			fault: func(t *testing.T, dir string, st *modelstore.Store) server.Store {
				if err := os.WriteFile(filepath.Join(versionDir(dir, def.Version()), "manifest.json"), []byte(`{"vers`), 0o644); err != nil {
					t.Fatal(err)
				}
				return st
			}},
		{name: "the store's directory is gone", code: codes.Unavailable, msg: unavailable, logged: "no such file or directory",
			fault: func(t *testing.T, dir string, st *modelstore.Store) server.Store {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				return st
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, dir, u := fileStore(t)
			before := mustPublish(t, st, def)
			e := start(t, server.Config{Model: def, Store: tt.fault(t, dir, st), AdminToken: token, Train: fakeTrainer(trained)})

			_, err := sendTrain(withToken(testenv.Context(t), "Bearer "+token), e.client, fastOptions(true), trainingSamples(), 100)
			stat := wantCode(t, err, tt.code)
			if !strings.Contains(stat.Message(), tt.msg) {
				t.Errorf("message %q, want it to hold %q", stat.Message(), tt.msg)
			}
			if tt.code == codes.Unavailable && strings.Contains(stat.Message(), tt.logged) {
				t.Errorf("message %q holds the store's internals", stat.Message())
			}
			got, err := e.client.GetModel(testenv.Context(t), &artclassv1.GetModelRequest{})
			if err != nil || got.GetModel().GetVersion() != def.Version() {
				t.Errorf("GetModel after the failed Train = %v, %v; want %s", got.GetModel().GetVersion(), err, def.Version())
			}
			if _, err := e.client.Classify(testenv.Context(t), &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}}); err != nil {
				t.Errorf("Classify after the failed Train: %v", err)
			}
			if tt.readable {
				// Read through a store of its own, as another replica would.
				if after, err := openStore(t, u).Active(testenv.Context(t)); err != nil || after != before {
					t.Errorf("active pointer after the failed Train %+v, %v; want %+v", after, err, before)
				}
			}
			if tmps := tmpFiles(t, dir); len(tmps) > 0 {
				t.Errorf("temporary files left: %v", tmps)
			}
			if logs := e.logs.String(); !strings.Contains(logs, tt.logged) {
				t.Errorf("the log does not hold the cause %q:\n%s", tt.logged, logs)
			}
			if body := scrape(t, e.srv); !strings.Contains(body, `artclass_train_total{result="failed"} 1`) {
				t.Errorf("the failure is not counted:\n%s", grepLines(body, "artclass_train_total"))
			}
		})
	}
}

func grepLines(s, substr string) string {
	var out []string
	for line := range strings.Lines(s) {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}

// waitGoroutines waits until the process runs at most baseline goroutines,
// give or take a few that gRPC and the runtime start and stop on their own,
// and fails with every goroutine's stack if that takes over 10 s.
func waitGoroutines(t *testing.T, baseline int) {
	t.Helper()
	const slack = 3
	start := time.Now()
	for {
		n := runtime.NumGoroutine()
		if n <= baseline+slack {
			t.Logf("%d goroutines %v after the fault (baseline %d)", n, time.Since(start).Round(time.Millisecond), baseline)
			return
		}
		if time.Since(start) > 10*time.Second {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines 10 s after the fault, baseline %d; the stacks:\n%s", n, baseline, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cutConn is a client connection whose TCP connection a test can cut
// without a word to the server, as a crash or a pulled cable would.
type cutConn struct {
	*grpc.ClientConn
	mu  sync.Mutex
	tcp []net.Conn
}

func dialCuttable(t *testing.T, addr string, opts ...grpc.DialOption) *cutConn {
	t.Helper()
	c := new(cutConn)
	opts = append(opts,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			conn, err := new(net.Dialer).DialContext(ctx, "tcp", addr)
			if err == nil {
				c.mu.Lock()
				c.tcp = append(c.tcp, conn)
				c.mu.Unlock()
			}
			return conn, err
		}))
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	c.ClientConn = conn
	return c
}

// cut closes the TCP connections under the client and then the client.
func (c *cutConn) cut() {
	c.mu.Lock()
	for _, conn := range c.tcp {
		conn.Close()
	}
	c.mu.Unlock()
	c.Close()
}

// TestServerFreesWhatClientsAbandon abandons calls in each way a client can
// and checks that the server lets go of them: its goroutines go back to
// the count before the faults, and the training slot comes free again.
// It is not parallel: it counts the process's goroutines.
func TestServerFreesWhatClientsAbandon(t *testing.T) {
	// slowModel takes a millisecond an article and counts them.
	var classified atomic.Int64
	slowModel := newStub(t, "slow", 0.9)
	slowModel.classify = func(title, text string) classifier.Result {
		classified.Add(1)
		time.Sleep(time.Millisecond)
		return mustDefaultModel(t).Classify(title, text)
	}
	// trainer blocks until its call is cancelled, and says so.
	trainerEntered, trainerLeft := make(chan struct{}, 1), make(chan error, 1)
	blockingTrainer := func(ctx context.Context, _ []classifier.Sample, _ classifier.TrainOptions) (*classifier.Model, error) {
		trainerEntered <- struct{}{}
		<-ctx.Done()
		trainerLeft <- ctx.Err()
		return nil, ctx.Err()
	}

	tests := []struct {
		name   string
		cfg    server.Config
		rounds int // how many times to commit the fault; 10 when zero
		// fault abandons one call on the server at addr.
		fault func(t *testing.T, e *env)
	}{
		{name: "client closes its connection mid-stream", fault: func(t *testing.T, e *env) {
			conn := dialCuttable(t, e.addr)
			stream, err := artclassv1.NewClassifierServiceClient(conn).ClassifyStream(testenv.Context(t))
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if err := stream.Send(&artclassv1.ClassifyStreamRequest{Article: &artclassv1.Article{Text: electionText}}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := stream.Recv(); err != nil {
				t.Fatal(err)
			}
			conn.Close()
		}},
		{name: "TCP connection cut mid-stream", fault: func(t *testing.T, e *env) {
			conn := dialCuttable(t, e.addr)
			stream, err := artclassv1.NewClassifierServiceClient(conn).ClassifyStream(testenv.Context(t))
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.Send(&artclassv1.ClassifyStreamRequest{Article: &artclassv1.Article{Text: electionText}}); err != nil {
				t.Fatal(err)
			}
			if _, err := stream.Recv(); err != nil {
				t.Fatal(err)
			}
			_ = stream.Send(&artclassv1.ClassifyStreamRequest{Article: &artclassv1.Article{Text: electionText}})
			conn.cut()
		}},
		{name: "deadline expires mid-batch", cfg: server.Config{Model: slowModel}, fault: func(t *testing.T, e *env) {
			before := classified.Load()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			_, err := e.client.ClassifyBatch(ctx, &artclassv1.ClassifyBatchRequest{Articles: articles(1000)})
			wantCode(t, err, codes.DeadlineExceeded)
			// The handler stops at the deadline rather than classifying
			// the rest of the batch for nobody.
			time.Sleep(100 * time.Millisecond)
			if n := classified.Load() - before; n >= 500 {
				t.Errorf("%d of 1000 articles classified after a 30 ms deadline", n)
			}
		}},
		{name: "deadline expires mid-stream", cfg: server.Config{Model: slowModel}, fault: func(t *testing.T, e *env) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			stream, err := e.client.ClassifyStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for {
				if err := stream.Send(&artclassv1.ClassifyStreamRequest{Article: &artclassv1.Article{Text: electionText}}); err != nil {
					break
				}
				if _, err := stream.Recv(); err != nil {
					wantCode(t, err, codes.DeadlineExceeded)
					break
				}
			}
		}},
		{name: "stream reader that never reads, then leaves", rounds: 4, fault: func(t *testing.T, e *env) {
			// A fixed window on the client: the server's answers fill it
			// and the server blocks in Send, with the client's requests
			// piling up behind it until the client blocks too.
			conn := dialCuttable(t, e.addr, grpc.WithInitialWindowSize(1<<16), grpc.WithInitialConnWindowSize(1<<16))
			defer conn.Close()
			ctx, cancel := context.WithCancel(context.Background())
			stream, err := artclassv1.NewClassifierServiceClient(conn).ClassifyStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sent := stalledSends(t, stream)
			if held := sent * 4 << 10; held > 64<<20 {
				t.Errorf("%d MB sent before the stream stalled; the server should stop reading", held>>20)
			}
			cancel()
		}},
		{name: "Train client closes its connection mid-stream", cfg: server.Config{Train: blockingTrainer}, fault: func(t *testing.T, e *env) {
			conn := dialCuttable(t, e.addr)
			stream, err := artclassv1.NewClassifierServiceClient(conn).Train(withToken(testenv.Context(t), "Bearer "+token))
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.Send(&artclassv1.TrainRequest{Options: fastOptions(true), Samples: trainingSamples()[:5]}); err != nil {
				t.Fatal(err)
			}
			conn.cut()
			waitTrainFree(t, e)
		}},
		{name: "Train client leaves while the model trains", cfg: server.Config{Train: blockingTrainer}, fault: func(t *testing.T, e *env) {
			ctx, cancel := context.WithCancel(withToken(testenv.Context(t), "Bearer "+token))
			done := make(chan error, 1)
			go func() {
				_, err := sendTrain(ctx, e.client, fastOptions(true), trainingSamples(), 100)
				done <- err
			}()
			<-trainerEntered
			cancel()
			wantCode(t, <-done, codes.Canceled)
			select {
			case err := <-trainerLeft:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("the training ended with %v, want context.Canceled", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the training went on after its caller left")
			}
			waitTrainFree(t, e)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg.Model == nil {
				cfg.Model = mustDefaultModel(t)
			}
			cfg.Store, cfg.AdminToken, cfg.Logger = memStore(t), token, discardLogger()
			e := start(t, cfg)
			// A call first, so the client's connection and the server's
			// side of it are up before counting.
			if _, err := e.client.GetModel(testenv.Context(t), &artclassv1.GetModelRequest{}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
			baseline := runtime.NumGoroutine()
			peak, rounds := baseline, cmp.Or(tt.rounds, 10)
			for range rounds {
				tt.fault(t, e)
				peak = max(peak, runtime.NumGoroutine())
			}
			t.Logf("%d goroutines at the most during %d rounds", peak, rounds)
			waitGoroutines(t, baseline)
			// The server still answers.
			if _, err := e.client.Classify(testenv.Context(t), &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}}); err != nil {
				t.Errorf("Classify after the faults: %v", err)
			}
		})
	}
}

// stalledSends sends 4 KB articles on stream, without reading an answer,
// until a send has blocked for 200 ms, and returns how many it sent.
func stalledSends(t *testing.T, stream artclassv1.ClassifierService_ClassifyStreamClient) int {
	t.Helper()
	req := &artclassv1.ClassifyStreamRequest{Article: &artclassv1.Article{Text: strings.Repeat(electionText+" ", (4<<10)/(len(electionText)+1))}}
	var sent atomic.Int64
	go func() {
		for stream.Send(req) == nil {
			sent.Add(1)
		}
	}()
	begin, last, since := time.Now(), int64(-1), time.Now()
	for time.Since(since) < 200*time.Millisecond {
		if time.Since(begin) > 20*time.Second {
			t.Fatal("the client could always send; nothing held it back")
		}
		time.Sleep(20 * time.Millisecond)
		if n := sent.Load(); n != last {
			last, since = n, time.Now()
		}
	}
	t.Logf("%d sends of 4 KB, then the stream stalled (%v)", last, time.Since(begin).Round(time.Millisecond))
	return int(last)
}

// waitTrainFree waits until a Train is no longer refused as concurrent:
// the abandoned one has given the training slot back.
func waitTrainFree(t *testing.T, e *env) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		// Samples with an invalid label: a Train that gets the slot is
		// refused as invalid before it trains.
		_, err := sendTrain(withToken(testenv.Context(t), "Bearer "+token), e.client, fastOptions(true),
			[]*artclassv1.Sample{{Text: electionText, Labels: []string{"Not-A-Label"}}}, 1)
		switch status.Code(err) {
		case codes.InvalidArgument:
			return
		case codes.Aborted:
			if time.Now().After(deadline) {
				t.Fatal("the abandoned Train still holds the training slot after 10 s")
			}
			time.Sleep(5 * time.Millisecond)
		default:
			t.Fatalf("Train = %v, want InvalidArgument once the slot is free", err)
		}
	}
}

// TestShutdownFreesAStalledStream stops a server while a client that never
// reads holds a stream: Shutdown must give up waiting at its deadline,
// end the stream, and leave no goroutine of the server behind.
func TestShutdownFreesAStalledStream(t *testing.T) {
	baseline := runtime.NumGoroutine()
	srv, err := server.New(server.Config{Model: mustDefaultModel(t), Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	conn := dialCuttable(t, lis.Addr().String(), grpc.WithInitialWindowSize(1<<16), grpc.WithInitialConnWindowSize(1<<16))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := artclassv1.NewClassifierServiceClient(conn).ClassifyStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stalledSends(t, stream)

	sctx, scancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer scancel()
	start := time.Now()
	if err := srv.Shutdown(sctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want a forced stop after its deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Shutdown took %v with a 200 ms deadline", d)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	// The client learns that the stream is over.
	for {
		if _, err := stream.Recv(); err != nil {
			if errors.Is(err, io.EOF) || status.Code(err) == codes.OK {
				t.Errorf("the stalled stream ended cleanly (%v); want an error", err)
			}
			break
		}
	}
	cancel()
	conn.Close()
	waitGoroutines(t, baseline)
}

// TestTrainAfterInterruptedPublish trains over what a trainer killed in
// the middle of publishing the same version leaves in a directory store:
// the model file without its manifest, and a temporary file. The next
// Train must store the version whole, promote it and serve it.
func TestTrainAfterInterruptedPublish(t *testing.T) {
	t.Parallel()
	st, dir, u := fileStore(t)
	def, trained := mustDefaultModel(t), mustModels(t).clean1
	mustPublish(t, st, def)
	data, err := trained.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	vdir := filepath.Join(dir, "versions", trained.Version())
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string][]byte{
		fmt.Sprintf("model-%x.bin", sha256.Sum256(data)): data,
		".manifest.json.0123456789abcdef.tmp":            []byte(`{"vers`),
	} {
		if err := os.WriteFile(filepath.Join(vdir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The half-published version is invisible.
	if list, err := st.List(testenv.Context(t)); err != nil || len(list) != 1 {
		t.Fatalf("List before the Train = %v, %v; want the default model only", list, err)
	}
	e := start(t, server.Config{Model: def, Store: st, AdminToken: token, Train: fakeTrainer(trained)})
	resp, err := sendTrain(withToken(testenv.Context(t), "Bearer "+token), e.client, fastOptions(true), trainingSamples(), 100)
	if err != nil {
		t.Fatalf("Train: %v", err)
	}
	if resp.GetModel().GetVersion() != trained.Version() || e.srv.Model().Version() != trained.Version() {
		t.Errorf("trained %s, serving %s; want %s", resp.GetModel().GetVersion(), e.srv.Model().Version(), trained.Version())
	}
	other := openStore(t, u)
	if p, err := other.Active(testenv.Context(t)); err != nil || p.Version != trained.Version() {
		t.Errorf("active pointer %+v, %v; want %s", p, err, trained.Version())
	}
	if m, _, err := other.Load(testenv.Context(t), trained.Version()); err != nil || m.Version() != trained.Version() {
		t.Errorf("Load of the trained version: %v", err)
	}
}
