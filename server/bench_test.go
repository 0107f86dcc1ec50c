package server_test

import (
	"encoding/json"
	"os"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	artclassv1 "github.com/artclass/artclass/proto/artclass/v1"
	"github.com/artclass/artclass/server"
)

// benchArticle is the payload of bench/grpc.sh, or a stand-in without it.
func benchArticle(b *testing.B) *artclassv1.ClassifyRequest {
	req := &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Title: "Election", Text: electionText}}
	if data, err := os.ReadFile("../bench/out/payload.json"); err == nil {
		if err := json.Unmarshal(data, req); err != nil {
			b.Fatal(err)
		}
	}
	return req
}

// BenchmarkClassify measures a Classify call end to end over loopback,
// with every interceptor, the logger at warn (as in bench/grpc.sh) and the
// metrics.
func BenchmarkClassify(b *testing.B) {
	e := start(b, server.Config{Model: mustDefaultModel(b), Logger: discardLogger()},
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	req := benchArticle(b)
	b.SetBytes(int64(len(req.GetArticle().GetText())))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.client.Classify(b.Context(), req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkModelClassify is the model alone, for comparison.
func BenchmarkModelClassify(b *testing.B) {
	m := mustDefaultModel(b)
	req := benchArticle(b)
	b.ReportAllocs()
	for b.Loop() {
		m.Classify(req.GetArticle().GetTitle(), req.GetArticle().GetText())
	}
}
