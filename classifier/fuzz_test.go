package classifier

import (
	"bytes"
	"errors"
	"math"
	"runtime/metrics"
	"slices"
	"strings"
	"testing"
)

// FuzzClassify checks that any title and text, valid UTF-8 or not, get an
// answer: no panic, every label once, confidences in [0, 1] and sorted,
// terms exactly for assigned labels, and the same answer twice.
func FuzzClassify(f *testing.F) {
	for _, seed := range [][2]string{
		{"", ""},
		{"Air strikes on Gaza", "Israeli warplanes struck targets in Gaza overnight."},
		{"F-35", "S-400 COP27 2024 re-elected west bank - -- --x x-"},
		{"\xff\xfe", "bad \xc3\x28 utf8 \x00 nul"},
		{"Ελλάδα", "東京 選挙 İstanbul Zürich 🗳️ مرحبا שלום"},
		{"<b>html</b>", "<p>Voters &amp; <i>polls</i></p>"},
		{"a", strings.Repeat("a ", 200)},
	} {
		f.Add(seed[0], seed[1])
	}
	m, err := Default()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, title, text string) {
		r := m.Classify(title, text)
		if len(r.Topics) != len(m.meta.Labels) {
			t.Fatalf("%d topics, want %d", len(r.Topics), len(m.meta.Labels))
		}
		seen := map[string]bool{}
		for i, tp := range r.Topics {
			if seen[tp.Label] {
				t.Fatalf("label %s twice", tp.Label)
			}
			seen[tp.Label] = true
			if !(tp.Confidence >= 0 && tp.Confidence <= 1) {
				t.Fatalf("confidence %v outside [0, 1]", tp.Confidence)
			}
			if i > 0 && tp.Confidence > r.Topics[i-1].Confidence {
				t.Fatalf("topics not sorted: %+v", r.Topics)
			}
			if len(tp.Terms) > 0 && !tp.Assigned || len(tp.Terms) > ExplainTerms {
				t.Fatalf("%s: %d terms, assigned %v", tp.Label, len(tp.Terms), tp.Assigned)
			}
			for _, term := range tp.Terms {
				if !(term.Weight > 0) || math.IsInf(term.Weight, 0) {
					t.Fatalf("term %q has weight %v", term.Term, term.Weight)
				}
			}
		}
		if again := m.Classify(title, text); !slices.EqualFunc(r.Topics, again.Topics, topicsEqual) {
			t.Fatalf("not deterministic: %+v then %+v", r.Topics, again.Topics)
		}
	})
}

// FuzzLoadModel checks that any bytes, including mutations of a real model
// file, decode to a valid model or an ErrModelFile error — never a panic —
// and that decoding never allocates far beyond what the input can justify
// (a header claiming 10¹² terms must not allocate for them).
func FuzzLoadModel(f *testing.F) {
	good, err := mustTrainSmall(f).MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:headerSize])
	f.Add([]byte("ARTCLSMD"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		before := allocatedBytes()
		m, err := Decode(data)
		allocated := allocatedBytes() - before
		if err != nil {
			if !errors.Is(err, ErrModelFile) {
				t.Fatalf("Decode error %v does not wrap ErrModelFile", err)
			}
		} else {
			// Whatever decodes must serve, and survive its own round trip.
			m.Classify("title", "some text about troops and voters")
			again, err := m.MarshalBinary()
			if err != nil {
				t.Fatalf("a decoded model does not encode: %v", err)
			}
			if m2, err := Decode(again); err != nil || m2.Version() != m.Version() {
				t.Fatalf("a decoded model does not survive a round trip: %v", err)
			}
		}
		// The decoded tables (and the scorer's, compiled from them) are a
		// small multiple of the file; 64× plus slack is far below what an
		// unchecked count would claim.
		if allocated > uint64(64*len(data))+8<<20 {
			t.Fatalf("decoding %d bytes allocated %d bytes", len(data), allocated)
		}
	})
}

// allocatedBytes is the heap allocated so far, read without stopping the
// world (runtime.ReadMemStats would, and would slow fuzzing a hundredfold).
func allocatedBytes() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// FuzzReadSamples checks that the JSONL reader never panics, and that every
// sample it yields is valid and every error names the source and a line.
func FuzzReadSamples(f *testing.F) {
	for _, seed := range []string{
		`{"title":"t","text":"x","labels":["defence"]}`,
		"{\"text\":\"a\"}\n\n{\"text\":\"b\",\"labels\":[]}\n",
		`{"text":"x","labels":[1]}`,
		`{"text":"x","labels":["Bad Label"]}`,
		"{\"text\":\"\xff\"}",
		`{"text":`,
		`[]`,
		"\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := 0
		err := ReadSamples(bytes.NewReader(data), "fuzz.jsonl", func(s Sample) error {
			lines++
			if verr := s.Validate(); verr != nil {
				t.Fatalf("ReadSamples yielded an invalid sample: %v", verr)
			}
			return nil
		})
		if err != nil {
			var se *SampleError
			if !errors.As(err, &se) || se.Source != "fuzz.jsonl" || se.Line < 1 {
				t.Fatalf("error %v is not a *SampleError naming the source and a line", err)
			}
			if !errors.Is(err, ErrInvalidSample) {
				t.Fatalf("error %v does not wrap ErrInvalidSample", err)
			}
		}
	})
}

// FuzzLexicon checks the default model's lexicon against a Go map of the
// same words, for every token the tokeniser finds in arbitrary text: the
// lexicon's packed short keys, tails and tags must find exactly the words
// it holds.
func FuzzLexicon(f *testing.F) {
	for _, seed := range []string{
		"missile missiles elections parliamentary re-elected F-35 COP27",
		"Ελλάδα 東京 İstanbul Zürich naïve café",
		"abcdefgh abcdefghi abcdefghijklmnop abcdefghijklmnopq " + strings.Repeat("x", maxTokenBytes),
		"the of and a-b-c-d --- x-y",
	} {
		f.Add(seed)
	}
	m, err := Default()
	if err != nil {
		f.Fatal(err)
	}
	want := map[string]int32{}
	for w := range m.tok.StopWords {
		want[w] = stopWord
	}
	for id, term := range m.terms {
		if !strings.Contains(term, " ") {
			want[term] = int32(id)
		}
	}
	f.Fuzz(func(t *testing.T, text string) {
		var buf []byte
		m.tok.scan(text, &buf, func(tok []byte, key tokenKey, _ bool) {
			id, ok := m.words.lookup(tok, key)
			wantID, wantOK := want[string(tok)]
			if ok != wantOK || id != wantID {
				t.Fatalf("lookup(%q) = %d, %t; want %d, %t", tok, id, ok, wantID, wantOK)
			}
		})
	})
}
