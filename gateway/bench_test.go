package gateway_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/artclass/artclass/gateway"
	"github.com/artclass/artclass/internal/testenv"
	artclassv1 "github.com/artclass/artclass/proto/artclass/v1"
)

// seedLike is an article of about the seed article's 4.5 KB.
var seedLike = func() string {
	var b bytes.Buffer
	for b.Len() < 4500 {
		b.WriteString(electionText + " ")
	}
	return b.String()
}()

// BenchmarkClassifyHTTP is one Classify call through the gateway and the
// gRPC server on loopback, against the same call made on gRPC directly:
// the difference is the gateway's cost per call (JSON in and out, and the
// extra gRPC hop). bench/http.sh measures the same under load.
func BenchmarkClassifyHTTP(b *testing.B) {
	s := start(b, withModel(b), gateway.Options{})
	body := []byte(fmt.Sprintf(`{"article": {"title": "Polls close", "text": %q}}`, seedLike))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		resp, err := http.Post(s.url+"/v1/classify", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("status %d, %v", resp.StatusCode, err)
		}
	}
}

// BenchmarkClassifyGRPC is BenchmarkClassifyHTTP's call made on gRPC.
func BenchmarkClassifyGRPC(b *testing.B) {
	s := start(b, withModel(b), gateway.Options{})
	client := artclassv1.NewClassifierServiceClient(s.conn)
	req := &artclassv1.ClassifyRequest{Article: &artclassv1.Article{Title: "Polls close", Text: seedLike}}
	ctx := testenv.Context(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := client.Classify(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
