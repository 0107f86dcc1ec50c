package server

import (
	"context"
	"log/slog"
	"time"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// callInfo is what a handler tells the request log about its call. It is
// hand-rolled rather than go-grpc-middleware's logging interceptor because
// that one takes its fields when the call starts, and the model version and
// text size are known only inside the handler. Plain fields suffice: the
// handler's goroutine writes them and, once the handler has returned, the
// same goroutine logs them.
type callInfo struct {
	modelVersion string
	textBytes    int64
}

type callInfoKey struct{}

// noteCall records the model and text size of (part of) a call for its
// request log line. It does nothing outside an intercepted call.
func noteCall(ctx context.Context, version string, textBytes int) {
	if ci, ok := ctx.Value(callInfoKey{}).(*callInfo); ok {
		ci.modelVersion = version
		ci.textBytes += int64(textBytes)
	}
}

func (s *Server) logUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ci := new(callInfo)
	start := time.Now()
	resp, err := handler(context.WithValue(ctx, callInfoKey{}, ci), req)
	s.logCall(ctx, info.FullMethod, start, ci, err)
	return resp, err
}

func (s *Server) logStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ci := new(callInfo)
	start := time.Now()
	w := middleware.WrapServerStream(ss)
	w.WrappedContext = context.WithValue(ss.Context(), callInfoKey{}, ci)
	err := handler(srv, w)
	s.logCall(ss.Context(), info.FullMethod, start, ci, err)
	return err
}

// logCall writes one request log line. It never logs request content or
// metadata, so neither article text nor the admin token reaches the log.
func (s *Server) logCall(ctx context.Context, method string, start time.Time, ci *callInfo, err error) {
	code := status.Code(err)
	// go-grpc-middleware's mapping: a caller's mistake or cancellation is
	// Info, a refusal or overload Warn, and only the server's own failure
	// (Internal, Unknown, DataLoss, Unimplemented) Error.
	level := slog.Level(logging.DefaultServerCodeToLevel(code))
	if !s.log.Enabled(ctx, level) {
		return
	}
	s.log.LogAttrs(ctx, level, "rpc",
		slog.String("method", method),
		slog.String("code", code.String()),
		// A string with its unit ("1.2ms"): the JSON handler would write bare
		// nanoseconds.
		slog.String("duration", time.Since(start).String()),
		slog.String("model_version", ci.modelVersion),
		slog.Int64("text_bytes", ci.textBytes),
	)
}
