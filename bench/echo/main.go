// Echo is the baseline for bench/grpc.sh: a bare gRPC server that takes the
// same ClassifyRequest as artclassd and answers at once, without a model,
// interceptors, logs or metrics. It registers reflection so ghz can call it.
//
// By default it answers with one topic whose label is the title, so the
// payload is read and a small response is written. With --reply FILE it
// answers every call with the ClassifyResponse in FILE (protojson, as
// grpcurl prints it): given artclassd's own answer to the benchmark's
// payload, the two servers then send identical bytes, and the difference
// in throughput is artclassd's work alone rather than that plus the cost,
// to the load generator, of decoding a larger response.
//
// Usage:
//
//	go run ./bench/echo [--listen ADDR] [--reply FILE]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/encoding/protojson"

	artclassv1 "github.com/artclass/artclass/proto/artclass/v1"
)

type echoService struct {
	artclassv1.UnimplementedClassifierServiceServer
	reply *artclassv1.ClassifyResponse // nil: answer from the request
}

var _ artclassv1.ClassifierServiceServer = echoService{}

func (e echoService) Classify(_ context.Context, req *artclassv1.ClassifyRequest) (*artclassv1.ClassifyResponse, error) {
	if e.reply != nil {
		return e.reply, nil
	}
	return &artclassv1.ClassifyResponse{
		Topics:       []*artclassv1.Topic{{Label: req.GetArticle().GetTitle(), Confidence: float64(len(req.GetArticle().GetText()))}},
		ModelVersion: "echo",
	}, nil
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:50052", "serve on `ADDR`")
	replyFile := fs.String("reply", "", "answer every call with the ClassifyResponse in `FILE` (protojson)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var svc echoService
	if *replyFile != "" {
		data, err := os.ReadFile(*replyFile)
		if err != nil {
			return err
		}
		svc.reply = new(artclassv1.ClassifyResponse)
		if err := protojson.Unmarshal(data, svc.reply); err != nil {
			return fmt.Errorf("%s: %w", *replyFile, err)
		}
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	s := grpc.NewServer()
	artclassv1.RegisterClassifierServiceServer(s, svc)
	reflection.Register(s)
	go func() {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		<-ctx.Done()
		s.Stop()
	}()
	fmt.Fprintln(stdout, "echo: listening on", lis.Addr())
	return s.Serve(lis)
}
