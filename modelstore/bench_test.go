package modelstore

import (
	"context"
	"testing"
)

// BenchmarkStore measures, on each backend, what a replica pays per poll
// when nothing changed (one read of the next generation), what Active
// pays with 1,000 generations in the log, and loading (download, checksum,
// decode) the default model.
func BenchmarkStore(b *testing.B) {
	ctx := context.Background()
	ms := mustModels(b)
	for _, bm := range backends(b) {
		benchStore(b, ctx, bm.name, bm.make(b), ms[0].Version())
	}
}

func benchStore(b *testing.B, ctx context.Context, name string, be backend, version string) {
	s := be.open(b)
	ms := mustModels(b)
	mustPut(b, s, ms[0], "")
	mustPut(b, s, ms[1], "")
	mustPut(b, s, ms[2], "")
	p := mustPromote(b, s, version, Pointer{})
	b.Run(name+"/poll", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.advance(ctx, p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(name+"/load-default-model", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := s.Load(ctx, version); err != nil {
				b.Fatal(err)
			}
		}
	})
	for p.Generation < 1000 {
		v := ms[1+int(p.Generation)%2].Version() // small models: quick to verify
		p = mustPromote(b, s, v, p)
	}
	b.Run(name+"/active-of-1000-generations", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Active(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
