package server

import (
	"context"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// healthService is grpc-go's health server with one change: Watch streams
// end when the server shuts down. grpc-go's Watch runs until its client
// leaves, and GracefulStop waits for every stream, so a single client that
// watches health (as gRPC's client-side health checking does) would hold a
// graceful stop until its timeout.
type healthService struct {
	*health.Server
	stopping context.Context // done once Shutdown begins
}

func (h *healthService) Watch(req *healthpb.HealthCheckRequest, stream grpc.ServerStreamingServer[healthpb.HealthCheckResponse]) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	stop := context.AfterFunc(h.stopping, cancel)
	defer stop()
	w := middleware.WrapServerStream(stream)
	w.WrappedContext = ctx
	err := h.Server.Watch(req, &grpc.GenericServerStream[healthpb.HealthCheckRequest, healthpb.HealthCheckResponse]{ServerStream: w})
	if h.stopping.Err() != nil && stream.Context().Err() == nil {
		// Say NOT_SERVING for certain before the stream ends, whichever of
		// the status change and the cancellation Watch saw first.
		_ = stream.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_NOT_SERVING})
		return status.Error(codes.Unavailable, "the server is shutting down")
	}
	return err
}
