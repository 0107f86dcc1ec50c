// Package testenv provides what the tests of artclass's servers, client and
// CLI need around the code under test: a real artclassd on a loopback port
// (server.New and Serve, in-process), a certificate authority with server
// and client certificates for TLS and mutual TLS, a buffer safe for
// concurrent writers, and a test-scoped context. It is for tests only.
package testenv

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/server"
)

// defaultModel decodes the embedded model once per test binary: every test
// shares the same read-only *classifier.Model.
var defaultModel = sync.OnceValues(classifier.Default)

// DefaultModel returns the embedded default model, failing t if it does not
// load.
func DefaultModel(t testing.TB) *classifier.Model {
	t.Helper()
	m, err := defaultModel()
	if err != nil {
		t.Fatalf("default model: %v", err)
	}
	return m
}

// Context returns a context that ends with the test or after 30 seconds,
// whichever is first, so that a hung call fails the test instead of the
// whole run.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Server is an artclassd serving on a loopback address in this process.
type Server struct {
	// Srv is the server, for SetModel, Reload and the like.
	Srv *server.Server
	// Addr is the address it listens on, host:port.
	Addr string

	calls  atomic.Int64
	served chan error
}

// Calls returns how many unary calls the server has answered.
func (s *Server) Calls() int64 { return s.calls.Load() }

// StartServer serves cfg on addr ("127.0.0.1:0" for any free port) until
// Stop or the end of the test. cfg.Model defaults to the embedded model and
// cfg.Logger to one that discards.
func StartServer(t testing.TB, addr string, cfg server.Config) *Server {
	t.Helper()
	ts := &Server{served: make(chan error, 1)}
	if cfg.Model == nil {
		cfg.Model = DefaultModel(t)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.ServerOptions = append(cfg.ServerOptions, grpc.ChainUnaryInterceptor(
		func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			ts.calls.Add(1)
			return h(ctx, req)
		}))
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	var lis net.Listener
	// A port a stopped server has just given up may take a moment to bind
	// again (a restart test reuses it).
	for i := 0; ; i++ {
		if lis, err = net.Listen("tcp", addr); err == nil || i == 100 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	ts.Srv, ts.Addr = srv, lis.Addr().String()
	go func() { ts.served <- srv.Serve(lis) }()
	t.Cleanup(ts.Stop)
	return ts
}

// Stop shuts the server down and waits for Serve to return; a second call
// does nothing.
func (s *Server) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.Srv.Shutdown(ctx)
	err := <-s.served
	s.served <- err
}

// Buffer is a bytes.Buffer that goroutines may write and read at once: a
// server's log, a command's standard error.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what has been written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
