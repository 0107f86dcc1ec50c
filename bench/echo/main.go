// Echo is the baseline for bench/grpc.sh: a bare gRPC server that takes the
// same ClassifyRequest as artclassd and answers at once, without a model,
// interceptors, logs or metrics. It registers reflection so ghz can call it.
//
// Usage:
//
//	go run ./bench/echo [--listen ADDR]
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"

	artclassv1 "github.com/artclass/artclass/proto/artclass/v1"
)

type echoService struct {
	artclassv1.UnimplementedClassifierServiceServer
}

var _ artclassv1.ClassifierServiceServer = echoService{}

// Classify answers with one topic whose label is the title, so the payload
// is read and a response of a realistic shape is written.
func (echoService) Classify(_ context.Context, req *artclassv1.ClassifyRequest) (*artclassv1.ClassifyResponse, error) {
	return &artclassv1.ClassifyResponse{
		Topics:       []*artclassv1.Topic{{Label: req.GetTitle(), Confidence: float64(len(req.GetText()))}},
		ModelVersion: "echo",
	}, nil
}

func main() {
	listen := flag.String("listen", "127.0.0.1:50052", "serve on `ADDR`")
	flag.Parse()
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
	s := grpc.NewServer()
	artclassv1.RegisterClassifierServiceServer(s, echoService{})
	reflection.Register(s)
	go func() {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		<-ctx.Done()
		s.Stop()
	}()
	fmt.Println("echo: listening on", lis.Addr())
	if err := s.Serve(lis); err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}
