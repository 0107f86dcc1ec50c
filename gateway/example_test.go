package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/gateway"
	"github.com/artclass/artclass/server"
)

// The gateway in front of a gRPC server: artclassd does the same with its
// --http-listen address and an in-process connection.
func ExampleNew() {
	ctx := context.Background()
	model, err := classifier.Default()
	if err != nil {
		log.Fatal(err)
	}
	srv, err := server.New(server.Config{Model: model, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(lis)
	defer srv.Shutdown(ctx)

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	h, err := gateway.New(ctx, conn, gateway.Options{})
	if err != nil {
		log.Fatal(err)
	}
	web := httptest.NewServer(h)
	defer web.Close()

	resp, err := http.Post(web.URL+"/v1/classify", "application/json",
		strings.NewReader(`{"article": {"title": "Polls close", "text": "Voters queued at polling stations."}}`))
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var verdict struct {
		Labels       []string `json:"labels"`
		ModelVersion string   `json:"model_version"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&verdict); err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Status, verdict.Labels, verdict.ModelVersion == model.Version())
	// Output: 200 OK [elections] true
}
