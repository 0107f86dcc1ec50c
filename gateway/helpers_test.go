package gateway_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/artclass/artclass/gateway"
	"github.com/artclass/artclass/internal/testenv"
	"github.com/artclass/artclass/modelstore"
	"github.com/artclass/artclass/server"
)

// stack is artclassd's gRPC server on a loopback port, a real gRPC
// connection to it, and the gateway over that connection served by an
// HTTP server on another loopback port.
type stack struct {
	conn *grpc.ClientConn // the gateway's connection to the server
	url  string

	mu      sync.Mutex
	methods []string      // the gRPC methods the server was called with
	md      []metadata.MD // and the metadata of each call
}

// metadata returns the metadata of the last call the server received.
func (s *stack) lastMetadata() metadata.MD {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.md) == 0 {
		return nil
	}
	return s.md[len(s.md)-1]
}

// called returns the gRPC methods the server has been called with, in
// order.
func (s *stack) called() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.methods...)
}

// withModel is a server config serving the embedded model.
func withModel(t testing.TB) server.Config {
	return server.Config{Model: testenv.DefaultModel(t)}
}

// start serves cfg and the gateway with opts until the test ends. The
// server logs nowhere unless cfg says otherwise.
func start(t testing.TB, cfg server.Config, opts gateway.Options) *stack {
	t.Helper()
	s := &stack{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	note := func(ctx context.Context, method string) {
		md, _ := metadata.FromIncomingContext(ctx)
		s.mu.Lock()
		s.methods = append(s.methods, method)
		s.md = append(s.md, md)
		s.mu.Unlock()
	}
	cfg.ServerOptions = append(cfg.ServerOptions,
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			note(ctx, info.FullMethod)
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			note(ss.Context(), info.FullMethod)
			return h(srv, ss)
		}))
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	h, err := gateway.New(testenv.Context(t), conn, opts)
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	hs := httptest.NewServer(h)
	// Cleanups run last-registered first: the HTTP server stops, then the
	// connection closes, then the gRPC server.
	t.Cleanup(func() { conn.Close() })
	t.Cleanup(hs.Close)
	s.url, s.conn = hs.URL, conn
	return s
}

// response is an HTTP response with its body read.
type response struct {
	status int
	header http.Header
	body   string
}

// do sends a request to the gateway; headers are name, value pairs.
func (s *stack) do(t testing.TB, method, path, body string, headers ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(testenv.Context(t), method, s.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// errorStatus decodes an error response's google.rpc.Status, failing the
// test if the body is not one.
func errorStatus(t testing.TB, r response) *status.Status {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type = %q, want application/json", ct)
	}
	var st spb.Status
	if err := protojson.Unmarshal([]byte(r.body), &st); err != nil {
		t.Fatalf("error body is not a google.rpc.Status: %v\n%s", err, r.body)
	}
	return status.FromProto(&st)
}

// memStore returns an empty model store in memory.
func memStore(t testing.TB) *modelstore.Store {
	t.Helper()
	st, err := modelstore.Open(testenv.Context(t), "mem://")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
