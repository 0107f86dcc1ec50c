package classifier

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// article4KB is about 4 KB of news prose from the corpus.
func article4KB(tb testing.TB) (title, text string) {
	tb.Helper()
	samples, err := ReadSamplesFile(filepath.Join(repoRoot, "testdata", "corpus", "middle-east.jsonl"))
	if err != nil {
		tb.Fatal(err)
	}
	var b strings.Builder
	for _, s := range samples {
		if b.Len() >= 4096 {
			break
		}
		b.WriteString(s.Text)
		b.WriteString("\n")
	}
	return samples[0].Title, b.String()[:4096]
}

func BenchmarkClassify4KB(b *testing.B) {
	m := mustDefault(b)
	title, text := article4KB(b)
	b.SetBytes(int64(len(title) + len(text)))
	b.ReportAllocs()
	for b.Loop() {
		m.Classify(title, text)
	}
}

func BenchmarkClassify4KBParallel(b *testing.B) {
	m := mustDefault(b)
	title, text := article4KB(b)
	b.SetBytes(int64(len(title) + len(text)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Classify(title, text)
		}
	})
}

func sharedTrain(b *testing.B) []Sample {
	samples, err := ReadSamplesFile(filepath.Join(sharedData, "news", "train.jsonl"))
	if err != nil {
		b.Skipf("../shared/data/news/train.jsonl is absent: %v", err)
	}
	return samples
}

// BenchmarkTrainShared trains on train.jsonl with the default options,
// 5-fold cross-validation of both algorithms included.
func BenchmarkTrainShared(b *testing.B) {
	samples := sharedTrain(b)
	for b.Loop() {
		if _, err := Train(context.Background(), samples, DefaultTrainOptions()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeShared loads a model trained on train.jsonl.
func BenchmarkDecodeShared(b *testing.B) {
	m, err := Train(context.Background(), sharedTrain(b), DefaultTrainOptions())
	if err != nil {
		b.Fatal(err)
	}
	data, err := m.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(data)), "file-bytes")
	b.ResetTimer()
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeDefault(b *testing.B) {
	b.ReportMetric(float64(len(defaultModel)), "file-bytes")
	for b.Loop() {
		if _, err := Decode(defaultModel); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClassifySeed scores the second seed article (4.5 KB), the
// payload of bench/grpc.sh, so the scorer's share of a gRPC call can be
// read off directly.
func BenchmarkClassifySeed(b *testing.B) {
	m, s := mustDefault(b), secondSeed(b)
	b.SetBytes(int64(len(s.Title) + len(s.Text)))
	b.ReportAllocs()
	for b.Loop() {
		m.Classify(s.Title, s.Text)
	}
}

// BenchmarkClassifySeedColdCache is BenchmarkClassifySeed with the CPU
// caches flushed before each call (outside the timer), closer to a server
// where the network stack and the load generator share the cores: there
// the scorer's table lookups miss the cache.
func BenchmarkClassifySeedColdCache(b *testing.B) {
	m, s := mustDefault(b), secondSeed(b)
	junk := make([]byte, 8<<20) // larger than the last-level cache a core sees
	b.SetBytes(int64(len(s.Title) + len(s.Text)))
	for b.Loop() {
		b.StopTimer()
		for i := 0; i < len(junk); i += 64 {
			junk[i]++
		}
		b.StartTimer()
		m.Classify(s.Title, s.Text)
	}
}

// secondSeed is the second article of ../shared/data/seed/articles.jsonl.
func secondSeed(b *testing.B) Sample {
	seeds, err := ReadSamplesFile(filepath.Join(sharedData, "seed", "articles.jsonl"))
	if err != nil || len(seeds) < 2 {
		b.Skipf("../shared/data/seed/articles.jsonl is absent or short: %v", err)
	}
	return seeds[1]
}
