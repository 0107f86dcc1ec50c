package classifier

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/james-bowman/sparse"
)

// repoRoot is where the corpus lives, relative to this package.
const repoRoot = ".."

// sharedData is the evaluation data beside the repository, absent on
// machines that only have the project.
var sharedData = filepath.Join(repoRoot, "..", "shared", "data")

// corpusTraining trains the default model's recipe once per test binary:
// several tests need it and it is the slowest step under -race.
var corpusTraining = sync.OnceValues(func() (*trained, error) {
	def, err := Default()
	if err != nil {
		return nil, err
	}
	var samples []Sample
	for _, p := range DefaultCorpus {
		s, err := ReadSamplesFile(filepath.Join(repoRoot, p))
		if err != nil {
			return nil, err
		}
		samples = append(samples, s...)
	}
	opts := DefaultTrainOptions()
	opts.Created = def.meta.Created
	m, fp, err := train(context.Background(), samples, opts)
	return &trained{m, fp, samples}, err
})

type trained struct {
	model    *Model
	pipeline *featurePipeline
	samples  []Sample
}

func mustCorpusModel(t testing.TB) *trained {
	t.Helper()
	tr, err := corpusTraining()
	if err != nil {
		t.Fatalf("training on the corpus: %v", err)
	}
	return tr
}

// update rewrites the embedded default.model from the corpus, as
// `go generate ./classifier` does through the CLI.
var update = flag.Bool("update", false, "rewrite default.model from the corpus")

// TestDefaultModelMatchesCorpus proves the embedded model is exactly what
// training the committed corpus with DefaultTrainOptions yields, so the two
// cannot drift apart. With -update it writes that model instead.
func TestDefaultModelMatchesCorpus(t *testing.T) {
	tr := mustCorpusModel(t)
	got, err := tr.model.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := tr.model.WriteFile("default.model"); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote default.model, version %s", tr.model.Version())
		return
	}
	if !bytes.Equal(got, defaultModel) {
		t.Fatalf("the embedded default.model (version %s) differs from training the corpus (version %s); run `go generate ./classifier`",
			mustDefault(t).Version(), tr.model.Version())
	}
}

func mustDefault(t testing.TB) *Model {
	t.Helper()
	m, err := Default()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	return m
}

// TestCompiledScorerMatchesPipeline checks that the compiled scorer yields
// the TF-IDF vector and the raw scores of the nlp pipeline it was compiled
// from, on every corpus article and every dev article where present.
func TestCompiledScorerMatchesPipeline(t *testing.T) {
	tr := mustCorpusModel(t)
	samples := tr.samples
	if dev, err := ReadSamplesFile(filepath.Join(sharedData, "news", "dev.jsonl")); err == nil {
		samples = append(slices.Clone(samples), dev...)
	} else {
		t.Logf("skipping dev.jsonl (%v): ../shared is absent", err)
	}
	docs := make([]string, len(samples))
	for i, s := range samples {
		docs[i] = docText(s.Title, s.Text)
	}
	X, err := tr.pipeline.transform(docs)
	if err != nil {
		t.Fatal(err)
	}
	m := tr.model
	L := len(m.meta.Labels)
	sc := m.scratch.Get().(*scratch)
	const tol = 1e-9
	for i, s := range samples {
		norm := m.score(sc, s.Title, s.Text)
		want := map[int]float64{}
		X.DoRowNonZero(i, func(_, j int, v float64) { want[j] = v })
		if len(sc.tf) != len(want) {
			t.Fatalf("article %d: compiled vector has %d terms, pipeline %d", i, len(sc.tf), len(want))
		}
		for _, tc := range sc.tf {
			got := tc.tf * m.idf[tc.id] / norm
			if math.Abs(got-want[int(tc.id)]) > tol {
				t.Fatalf("article %d term %q: compiled %v, pipeline %v", i, m.terms[tc.id], got, want[int(tc.id)])
			}
		}
		for l := range L {
			wantScore := m.bias[l]
			X.DoRowNonZero(i, func(_, j int, v float64) { wantScore += v * m.coef[j*L+l] })
			got := m.bias[l]
			if norm > 0 {
				got += sc.acc[l] / norm
			}
			if math.Abs(got-wantScore) > tol {
				t.Fatalf("article %d label %s: compiled score %v, pipeline %v", i, m.meta.Labels[l], got, wantScore)
			}
		}
	}
	t.Logf("compared %d articles", len(samples))
}

// smallSamples is a tiny invented training set, quick to train on.
func smallSamples() []Sample {
	var out []Sample
	add := func(labels []string, texts ...string) {
		for _, t := range texts {
			out = append(out, Sample{Text: t, Labels: labels})
		}
	}
	add([]string{"war"},
		"Troops shelled the town as the army advanced", "Missile strike hits army base", "Soldiers killed in rebel attack",
		"The army ordered new tanks and missiles", "Air strike on militant positions", "Navy frigate fires missile in drill",
		"Rebels attack army convoy near border", "Defence ministry buys fighter jets")
	add([]string{"vote"},
		"Voters go to the polls in the general election", "Candidate wins the party primary vote", "Election turnout hits record",
		"Opinion poll puts the opposition ahead before the vote", "Ballots counted after the election", "Party leader concedes the election",
		"Referendum vote on the new constitution", "Campaign rally draws voters before polling day")
	add([]string{"war", "vote"},
		"Soldiers vote in the election at the army base", "Election campaign dominated by the war and the army",
		"Troops guard polling stations as voters cast ballots")
	add(nil,
		"Football club wins the cup final", "Shares rise as the bank reports profit", "New phone goes on sale",
		"Chef opens restaurant downtown", "Film wins award at festival", "Storm delays flights at airport",
		"School exam results improve", "Scientists find new planet", "Court jails fraudster", "Band announces tour")
	return out
}

func smallOptions() TrainOptions {
	o := DefaultTrainOptions()
	o.MinDF = 1
	o.Folds = 3
	o.Created = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return o
}

func mustTrainSmall(t testing.TB) *Model {
	t.Helper()
	m, err := Train(context.Background(), smallSamples(), smallOptions())
	if err != nil {
		t.Fatalf("Train: %v", err)
	}
	return m
}

func TestTrainIsDeterministic(t *testing.T) {
	t.Parallel()
	a, b := mustTrainSmall(t), mustTrainSmall(t)
	ab, _ := a.MarshalBinary()
	bb, _ := b.MarshalBinary()
	if !bytes.Equal(ab, bb) {
		t.Fatal("two trainings on the same samples and options gave different files")
	}
	opts := smallOptions()
	opts.Created = opts.Created.Add(time.Hour)
	c, err := Train(context.Background(), smallSamples(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if c.Version() != a.Version() {
		t.Errorf("version changed with the creation time alone: %s vs %s", c.Version(), a.Version())
	}
	if !c.Metadata().Created.Equal(opts.Created) {
		t.Errorf("created = %v, want %v", c.Metadata().Created, opts.Created)
	}
}

func TestTrainErrors(t *testing.T) {
	t.Parallel()
	good := smallSamples()
	withBad := slices.Clone(good)
	withBad[3] = Sample{Text: "  ", Labels: []string{"war"}}
	badLabel := slices.Clone(good)
	badLabel[5] = Sample{Text: "x", Labels: []string{"War"}}
	oneLabel := []Sample{}
	for i := range 10 {
		oneLabel = append(oneLabel, Sample{Text: "army troops " + strings.Repeat("x", i), Labels: []string{"war"}})
	}
	badOpts := smallOptions()
	badOpts.Folds = 1
	tests := []struct {
		name    string
		samples []Sample
		opts    TrainOptions
		is      error
		want    string
	}{
		{"blank text", withBad, smallOptions(), ErrInvalidSample, "sample 3: invalid sample: text is missing or empty"},
		{"bad label", badLabel, smallOptions(), ErrInvalidSample, "sample 5: label 0"},
		{"no samples", nil, smallOptions(), ErrTooLittleData, "no sample carries a label"},
		{"no negatives", oneLabel, smallOptions(), ErrTooLittleData, `label "war" has 10 positive and 0 negative`},
		{"bad options", good, badOpts, nil, "folds 1 is not in [2, 20]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Train(context.Background(), tc.samples, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Train error = %v, want it to contain %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
		})
	}
}

func TestTrainHonoursContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Train(ctx, smallSamples(), smallOptions()); !errors.Is(err, context.Canceled) {
		t.Errorf("Train with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	m := mustDefault(t)
	tests := []struct {
		name, title, text string
		want              []string
	}{
		{"air strike in Syria", "Air strikes pound rebel-held Idlib", "Syrian and Russian warplanes bombed towns in Idlib province, killing fighters and civilians, as government troops pushed north towards the Turkish border.", []string{"defence", "middle-east"}},
		{"election", "Polls open in tight presidential race", "Voters queued at polling stations from dawn as the two candidates, neck and neck in opinion polls, made final appeals for turnout.", []string{"elections"}},
		{"climate", "Glaciers melting faster, study finds", "Rising temperatures driven by carbon emissions are shrinking mountain glaciers twice as fast as two decades ago, threatening rivers that millions depend on.", []string{"environment"}},
		{"football battle is no topic", "United win battle of the bottom two", "A late penalty settled a scrappy relegation battle as the home side's defence held firm in the closing minutes.", nil},
		{"no known words", "", "zzzqx vvbnm", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := m.Classify(tc.title, tc.text)
			if got := r.Labels(); !slices.Equal(got, tc.want) {
				t.Errorf("labels = %v, want %v (topics %+v)", got, tc.want, r.Topics)
			}
			if len(r.Topics) != 4 {
				t.Fatalf("%d topics, want all 4 labels", len(r.Topics))
			}
			for i, tp := range r.Topics {
				if tp.Confidence < 0 || tp.Confidence > 1 {
					t.Errorf("confidence %v outside [0, 1]", tp.Confidence)
				}
				if i > 0 && tp.Confidence > r.Topics[i-1].Confidence {
					t.Errorf("topics not sorted by confidence: %+v", r.Topics)
				}
				if tp.Assigned != (len(tp.Terms) > 0) {
					t.Errorf("%s: assigned=%v with %d terms; want terms exactly for assigned labels", tp.Label, tp.Assigned, len(tp.Terms))
				}
			}
		})
	}
}

func TestClassifySeedArticles(t *testing.T) {
	t.Parallel()
	seed, err := ReadSamplesFile(filepath.Join(sharedData, "seed", "articles.jsonl"))
	if err != nil {
		t.Skipf("../shared/data/seed is absent: %v", err)
	}
	m := mustDefault(t)
	for _, s := range seed {
		r := m.Classify(s.Title, s.Text)
		if r.Topics[0].Label != s.Labels[0] || !r.Topics[0].Assigned {
			t.Errorf("%q: top label %s (%.2f, assigned %v), want %s assigned", s.Title, r.Topics[0].Label, r.Topics[0].Confidence, r.Topics[0].Assigned, s.Labels[0])
		}
		if r.Warning != NoWarning {
			t.Errorf("%q: warning %q (coverage %+v), want none on an English news article", s.Title, r.Warning, r.Coverage)
		}
	}
}

func TestClassifyConcurrent(t *testing.T) {
	t.Parallel()
	m := mustDefault(t)
	texts := []string{
		"Troops shelled the city overnight as the army pressed its offensive.",
		"Voters head to the polls in a tight race.",
		strings.Repeat("Carbon emissions and climate change threaten coral reefs. ", 50),
		"",
	}
	want := make([]Result, len(texts))
	for i, s := range texts {
		want[i] = m.Classify("", s)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 200 {
				i := (g + k) % len(texts)
				got := m.Classify("", texts[i])
				if !slices.EqualFunc(got.Topics, want[i].Topics, topicsEqual) {
					t.Errorf("concurrent Classify(%d) = %+v, want %+v", i, got.Topics, want[i].Topics)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func topicsEqual(a, b Topic) bool {
	return a.Label == b.Label && a.Confidence == b.Confidence && a.Assigned == b.Assigned && slices.Equal(a.Terms, b.Terms)
}

func TestClassifyAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race: sync.Pool drops items on purpose")
	}
	m := mustDefault(t)
	text := strings.Repeat("Israeli air strikes hit Gaza as troops mass on the border. ", 60)
	m.Classify("", text) // warm the scratch pool
	allocs := testing.AllocsPerRun(100, func() { m.Classify("Strikes on Gaza", text) })
	if allocs > 2 {
		t.Errorf("Classify made %.1f allocations per call, want at most 2 (the result's slices)", allocs)
	}
}

func TestModelFileRoundTrip(t *testing.T) {
	t.Parallel()
	m := mustTrainSmall(t)
	path := filepath.Join(t.TempDir(), "m.model")
	if err := m.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	got, err := LoadFile(path)
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	if got.Version() != m.Version() {
		t.Errorf("version %s after round trip, want %s", got.Version(), m.Version())
	}
	for _, text := range []string{"Army troops attack", "Voters at the polls", "Band tour"} {
		a, b := m.Classify("", text), got.Classify("", text)
		if !slices.EqualFunc(a.Topics, b.Topics, topicsEqual) {
			t.Errorf("%q: %+v after round trip, want %+v", text, b.Topics, a.Topics)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after WriteFile, want only the model (no temp files)", len(entries))
	}
}

func TestDecodeRejectsBadFiles(t *testing.T) {
	t.Parallel()
	good, err := mustTrainSmall(t).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// reseal recomputes the checksum so a change reaches the payload checks.
	reseal := func(b []byte) []byte {
		binary.LittleEndian.PutUint64(b[12:], uint64(len(b)-headerSize))
		sum := sha256.Sum256(b[headerSize:])
		copy(b[20:], sum[:])
		return b
	}
	edit := func(f func(b []byte) []byte) []byte { return f(slices.Clone(good)) }
	metaLen, n := binary.Uvarint(good[headerSize:])
	termCountAt := headerSize + n + int(metaLen)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"short header", good[:20], "truncated"},
		{"foreign file", []byte("%PDF-1.7 lorem ipsum dolor sit amet consectetur adipiscing elit sed do"), "not an artclass model"},
		{"future version", edit(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 7); return b }), "format version 7 is newer"},
		{"version zero", edit(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 0); return b }), "unsupported format version 0"},
		{"format 1 with passages", edit(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 1); return b }), "format 1 has no passages"},
		{"passage length out of range", edit(func(b []byte) []byte {
			return reseal(bytes.Replace(b, []byte(`"passage_words":100`), []byte(`"passage_words":  1`), 1))
		}), "passage_words 1 is neither 0 nor in"},
		{"truncated payload", good[:len(good)-10], "truncated"},
		{"trailing data", append(slices.Clone(good), 0), "trailing data"},
		{"huge announced length", edit(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[12:], 1<<62); return b }), "truncated"},
		{"flipped byte", edit(func(b []byte) []byte { b[len(b)-3] ^= 0x40; return b }), "checksum mismatch"},
		{"bad metadata JSON", edit(func(b []byte) []byte { b[headerSize+n] = '['; return reseal(b) }), "metadata"},
		{"term count of 10^12", edit(func(b []byte) []byte {
			tail := slices.Clone(b[termCountAt:])
			_, k := binary.Uvarint(tail)
			return reseal(append(binary.AppendUvarint(b[:termCountAt], 1e12), tail[k:]...))
		}), "exceeds"},
		{"tables cut short", edit(func(b []byte) []byte { return reseal(b[:len(b)-8]) }), "truncated label parameters"},
		{"extra table bytes", edit(func(b []byte) []byte { return reseal(append(b, 1, 2, 3, 4, 5, 6, 7, 8)) }), "unread bytes"},
		{"non-finite weight", edit(func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[len(b)-8:], math.Float64bits(math.NaN()))
			return reseal(b)
		}), "non-finite"},
		{"threshold out of range", edit(func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[len(b)-8:], math.Float64bits(3))
			return reseal(b)
		}), "outside [0, 1]"},
		{"weights changed under the same version", edit(func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[len(b)-40:], math.Float64bits(0.123))
			return reseal(b)
		}), "does not match the content"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode(tc.data)
			if err == nil {
				t.Fatal("Decode accepted a bad file")
			}
			if !errors.Is(err, ErrModelFile) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Decode error = %q, want ErrModelFile containing %q", err, tc.want)
			}
		})
	}
	for cut := range len(good) {
		if _, err := Decode(good[:cut]); err == nil {
			t.Fatalf("Decode accepted the file cut to %d bytes", cut)
		}
	}
}

func TestLoadFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := LoadFile(filepath.Join(dir, "missing.model")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile(missing) = %v, want os.ErrNotExist", err)
	}
	p := filepath.Join(dir, "junk.model")
	os.WriteFile(p, []byte("junk"), 0o644)
	if _, err := LoadFile(p); !errors.Is(err, ErrModelFile) || !strings.Contains(err.Error(), p) {
		t.Errorf("LoadFile(junk) = %v, want ErrModelFile naming the file", err)
	}
}

func TestBestThreshold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		probs []float64
		y     []bool
		want  float64
	}{
		{"separable", []float64{0.9, 0.8, 0.3, 0.1}, []bool{true, true, false, false}, 0.55},
		{"one overlap", []float64{0.9, 0.6, 0.5, 0.1}, []bool{true, false, true, false}, 0.3},
		{"ties are not split", []float64{0.7, 0.7, 0.2}, []bool{true, false, false}, 0.45},
	}
	for _, tc := range tests {
		if got := bestThreshold(tc.probs, tc.y); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: bestThreshold = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestCalibrateSyntheticScores draws labels from a known logistic curve of
// the score and checks that Platt scaling recovers it and is calibrated.
func TestCalibrateSyntheticScores(t *testing.T) {
	t.Parallel()
	const a, b = 2.0, -1.0
	var scores []float64
	var y []bool
	// A deterministic stand-in for sampling: at each score, the share of
	// positives equals the true probability.
	for i := range 200 {
		s := -3 + 6*float64(i)/199
		p := sigmoid(a*s + b)
		for k := range 50 {
			scores = append(scores, s)
			y = append(y, float64(k)+0.5 < p*50)
		}
	}
	c := calibrate(scores, scores, y, false)
	if math.Abs(c.a-a) > 0.1 || math.Abs(c.b-b) > 0.1 {
		t.Errorf("Platt fit a=%.3f b=%.3f, want about %.1f and %.1f", c.a, c.b, a, b)
	}
	conf := make([][]float64, len(scores))
	truth := make([][]bool, len(scores))
	assigned := make([][]bool, len(scores))
	for i, s := range scores {
		conf[i] = []float64{sigmoid(c.a*s + c.b)}
		truth[i] = []bool{y[i]}
		assigned[i] = []bool{conf[i][0] >= c.threshold}
	}
	if r := newReport([]string{"x"}, truth, assigned, conf); r.ECE > 0.02 {
		t.Errorf("ECE after calibration = %.4f, want ≤ 0.02", r.ECE)
	}
}

func TestReportMetrics(t *testing.T) {
	t.Parallel()
	truth := [][]bool{{true, false}, {true, true}, {false, false}, {false, true}}
	assigned := [][]bool{{true, false}, {true, false}, {true, false}, {false, true}}
	conf := [][]float64{{0.95, 0.05}, {0.85, 0.45}, {0.55, 0.05}, {0.05, 0.95}}
	r := newReport([]string{"a", "b"}, truth, assigned, conf)
	// a: tp 2, fp 1, fn 0 → P 2/3, R 1, F1 0.8. b: tp 1, fp 0, fn 1 → F1 2/3.
	checks := []struct {
		name      string
		got, want float64
	}{
		{"precision a", r.PerLabel[0].Precision, 2.0 / 3},
		{"recall b", r.PerLabel[1].Recall, 0.5},
		{"F1 a", r.PerLabel[0].F1, 0.8},
		{"macro F1", r.MacroF1, (0.8 + 2.0/3) / 2},
		{"micro F1", r.MicroF1, 6.0 / 8},
		{"exact match", r.ExactMatch, 2.0 / 4},
		{"hamming loss", r.HammingLoss, 2.0 / 8},
		// bins: 0.0x: 3 pairs (y 0,0,0) conf 0.05 → 0.05·3/8;
		// 0.4x: 1 (y 1) |1-0.45|·1/8; 0.5x: 1 (y 0) 0.55/8;
		// 0.8x: 1 (y 1) 0.15/8; 0.9x: 2 (y 1,1) 0.05·2/8.
		{"ECE", r.ECE, (0.15 + 0.55 + 0.55 + 0.15 + 0.10) / 8},
	}
	for _, c := range checks {
		if math.Abs(c.got-c.want) > 1e-12 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if r.PerLabel[1].Support != 2 {
		t.Errorf("support b = %d, want 2", r.PerLabel[1].Support)
	}
}

func TestDocRowsSortsTerms(t *testing.T) {
	t.Parallel()
	// Term-by-document counts with entries set out of order.
	m := sparse.NewDOK(3, 2)
	m.Set(2, 0, 5)
	m.Set(0, 1, 1)
	m.Set(0, 0, 3)
	m.Set(1, 1, 2)
	rows := docRows(m)
	var got [][2]int
	rows.DoNonZero(func(i, j int, v float64) { got = append(got, [2]int{i, j}) })
	want := [][2]int{{0, 0}, {0, 2}, {1, 0}, {1, 1}}
	if !slices.Equal(got, want) || rows.At(0, 2) != 5 || rows.At(1, 1) != 2 {
		t.Errorf("docRows order %v, want %v", got, want)
	}
}

// TestDecodeKeepsUnknownMetadata checks that a file written by a later
// build, whose metadata has a key this build does not know, still decodes:
// the version is a hash of the stored metadata, not of this build's type.
func TestDecodeKeepsUnknownMetadata(t *testing.T) {
	t.Parallel()
	m := mustTrainSmall(t)
	meta, err := json.Marshal(m.meta)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	json.Unmarshal(meta, &fields)
	fields["added_by_a_later_build"] = map[string]int{"x": 1}
	tables := m.tables()
	withExtra, _ := json.Marshal(fields)
	v, err := contentVersion(withExtra, tables)
	if err != nil {
		t.Fatal(err)
	}
	fields["version"] = v
	js, _ := json.Marshal(fields)
	payload := append(binary.AppendUvarint(nil, uint64(len(js))), js...)
	payload = append(payload, tables...)
	file := make([]byte, headerSize, headerSize+len(payload))
	copy(file, magic)
	binary.LittleEndian.PutUint32(file[8:], FormatVersion)
	binary.LittleEndian.PutUint64(file[12:], uint64(len(payload)))
	sum := sha256.Sum256(payload)
	copy(file[20:], sum[:])
	got, err := Decode(append(file, payload...))
	if err != nil {
		t.Fatalf("Decode of a file with an unknown metadata key: %v", err)
	}
	if got.Version() != v {
		t.Errorf("version %s, want %s", got.Version(), v)
	}
}
