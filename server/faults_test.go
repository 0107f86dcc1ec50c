package server_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
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
	artclassv1 "github.com/artclass/artclass/proto/artclass/v1"
	"github.com/artclass/artclass/server"
)

// unwritableModel is a trained model whose file cannot be written as it
// should: write stands in for WriteFile, as a full or read-only disk would.
type unwritableModel struct {
	*stubModel
	write func(path string) error
}

func (m *unwritableModel) WriteFile(path string) error { return m.write(path) }

// dirSnapshot maps each entry of dir to a digest of its content ("dir" for
// a directory), so a test can tell that nothing in it changed.
func dirSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		out[""] = err.Error()
		return out
	}
	for _, de := range entries {
		if de.IsDir() {
			out[de.Name()] = "dir"
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[de.Name()] = fmt.Sprintf("%x", sha256.Sum256(b))
	}
	return out
}

// TestTrainWriteFaults makes the model write fail in every way a disk can
// fail it: Train must answer INTERNAL with nothing but "internal error",
// log the cause, count the failure, leave the model directory as it was
// (no temporary file either) and keep serving the active model.
func TestTrainWriteFaults(t *testing.T) {
	t.Parallel()
	diskFull := fmt.Errorf("write model: %w", syscall.ENOSPC)
	tests := []struct {
		name string
		// setup prepares the model directory dir and returns the
		// ModelDir to configure (dir itself unless the fault is the path)
		// and the trained model's WriteFile; nil writes the real file.
		setup func(t *testing.T, dir string) (modelDir string, write func(path string) error)
		// logged is the cause the log must hold.
		logged string
		root   bool // whether the fault holds for root, which ignores permissions
	}{
		{name: "disk full", logged: "no space left on device", root: true,
			setup: func(t *testing.T, dir string) (string, func(string) error) {
				return dir, func(string) error { return diskFull }
			}},
		{name: "disk full half way through the file", logged: "no space left on device", root: true,
			setup: func(t *testing.T, dir string) (string, func(string) error) {
				return dir, func(path string) error {
					b, err := mustDefaultModel(t).MarshalBinary()
					if err != nil {
						return err
					}
					if err := os.WriteFile(path, b[:len(b)/2], 0o644); err != nil {
						return err
					}
					return diskFull
				}
			}},
		{name: "a write that reports success but leaves garbage", logged: "verify trained model", root: true,
			setup: func(t *testing.T, dir string) (string, func(string) error) {
				return dir, func(path string) error { return os.WriteFile(path, []byte("ARTCLASS but not a model"), 0o644) }
			}},
		{name: "model directory read-only (chmod 0500)", logged: "permission denied", root: false,
			setup: func(t *testing.T, dir string) (string, func(string) error) {
				if err := os.Chmod(dir, 0o500); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.Chmod(dir, 0o755) })
				return dir, nil
			}},
		{name: "model directory path is a file", logged: "not a directory", root: true,
			setup: func(t *testing.T, dir string) (string, func(string) error) {
				return filepath.Join(dir, server.ActiveModelFile), nil
			}},
		{name: "model directory removed", logged: "no such file or directory", root: true,
			setup: func(t *testing.T, dir string) (string, func(string) error) {
				return filepath.Join(dir, "gone"), nil
			}},
		{name: "the rename over the active file fails", logged: "file exists", root: true,
			setup: func(t *testing.T, dir string) (string, func(string) error) {
				// A non-empty directory where the active file would go
				// cannot be renamed over.
				sub := filepath.Join(dir, "renamed")
				if err := os.MkdirAll(filepath.Join(sub, server.ActiveModelFile, "x"), 0o755); err != nil {
					t.Fatal(err)
				}
				return sub, nil
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if !tt.root && os.Geteuid() == 0 {
				t.Skip("root ignores file permissions; the injected faults cover the failed write")
			}
			dir := t.TempDir()
			// The directory holds the active model, as after an earlier
			// Train.
			if err := mustDefaultModel(t).WriteFile(filepath.Join(dir, server.ActiveModelFile)); err != nil {
				t.Fatal(err)
			}
			modelDir, write := tt.setup(t, dir)
			trained := newStub(t, "trained-v", 0.95)
			var m server.Model = trained
			if write != nil {
				m = &unwritableModel{stubModel: trained, write: write}
			}
			e := start(t, server.Config{Model: newStub(t, "active-v", 0.9), ModelDir: modelDir, AdminToken: token, Train: fakeTrainer(m)})
			before, beforeDir := dirSnapshot(t, dir), dirSnapshot(t, modelDir)

			_, err := sendTrain(withToken(ctxT(t), "Bearer "+token), e.client, fastOptions(true), trainingSamples(), 100)
			if st := wantCode(t, err, codes.Internal); st.Message() != "internal error" {
				t.Errorf("message %q, want only \"internal error\"", st.Message())
			}
			got, err := e.client.GetModel(ctxT(t), &artclassv1.GetModelRequest{})
			if err != nil || got.GetModel().GetVersion() != "active-v" {
				t.Errorf("GetModel after the failed Train = %v, %v; want active-v", got.GetModel().GetVersion(), err)
			}
			if _, err := e.client.Classify(ctxT(t), &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}}); err != nil {
				t.Errorf("Classify after the failed Train: %v", err)
			}
			for name, snap := range map[string][2]map[string]string{dir: {before, dirSnapshot(t, dir)}, modelDir: {beforeDir, dirSnapshot(t, modelDir)}} {
				if fmt.Sprint(snap[0]) != fmt.Sprint(snap[1]) {
					t.Errorf("%s changed:\nbefore %v\nafter  %v", name, snap[0], snap[1])
				}
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
	blockingTrainer := func(ctx context.Context, _ []classifier.Sample, _ classifier.TrainOptions) (server.Model, error) {
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
			stream, err := artclassv1.NewClassifierServiceClient(conn).ClassifyStream(ctxT(t))
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
			stream, err := artclassv1.NewClassifierServiceClient(conn).ClassifyStream(ctxT(t))
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
			stream, err := artclassv1.NewClassifierServiceClient(conn).Train(withToken(ctxT(t), "Bearer "+token))
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
			ctx, cancel := context.WithCancel(withToken(ctxT(t), "Bearer "+token))
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
			cfg.ModelDir, cfg.AdminToken, cfg.Logger = t.TempDir(), token, discardLogger()
			e := start(t, cfg)
			// A call first, so the client's connection and the server's
			// side of it are up before counting.
			if _, err := e.client.GetModel(ctxT(t), &artclassv1.GetModelRequest{}); err != nil {
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
			if _, err := e.client.Classify(ctxT(t), &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Text: electionText}}); err != nil {
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
		_, err := sendTrain(withToken(ctxT(t), "Bearer "+token), e.client, fastOptions(true),
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

// TestTrainLeftoverStagedFileIsReplaced checks that a staged file left by
// an interrupted Train (which artclassd removes at start, but a Server
// used as a library may meet) does not block or leak into the next Train.
func TestTrainLeftoverStagedFileIsReplaced(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	staged := filepath.Join(dir, server.ActiveModelFile+".staged.tmp")
	if err := os.WriteFile(staged, []byte("half a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := start(t, server.Config{Model: mustDefaultModel(t), ModelDir: dir, AdminToken: token})
	resp, err := sendTrain(withToken(ctxT(t), "Bearer "+token), e.client, fastOptions(true), trainingSamples(), 100)
	if err != nil {
		t.Fatalf("Train: %v", err)
	}
	onDisk, err := classifier.LoadFile(filepath.Join(dir, server.ActiveModelFile))
	if err != nil || onDisk.Version() != resp.GetModel().GetVersion() {
		t.Fatalf("active file after Train: %v, %v; want version %s", onDisk, err, resp.GetModel().GetVersion())
	}
	if b, err := os.ReadFile(staged); err == nil && bytes.Equal(b, []byte("half a model")) {
		t.Errorf("the leftover staged file is still there")
	}
}
