package modelstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/internal/s3test"
)

// smallSamples is a tiny invented training set, quick to train on.
func smallSamples() []classifier.Sample {
	var out []classifier.Sample
	add := func(labels []string, texts ...string) {
		for _, t := range texts {
			out = append(out, classifier.Sample{Text: t, Labels: labels})
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
	add(nil,
		"Football club wins the cup final", "Shares rise as the bank reports profit", "New phone goes on sale",
		"Chef opens restaurant downtown", "Film wins award at festival", "Storm delays flights at airport")
	return out
}

// models are the fixtures: the embedded default model and small trained
// ones, each a different version. They are built once per test binary,
// lazily, because training takes a moment.
var models = sync.OnceValues(func() ([]*classifier.Model, error) {
	def, err := classifier.Default()
	if err != nil {
		return nil, err
	}
	out := []*classifier.Model{def}
	for seed := range uint64(3) {
		m, err := trainSmall(seed+1, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
})

// trainSmall trains on smallSamples; the seed changes the folds and so the
// version, the creation time only the file.
func trainSmall(seed uint64, created time.Time) (*classifier.Model, error) {
	o := classifier.DefaultTrainOptions()
	o.MinDF = 1
	o.Folds = 3
	o.Seed = seed
	o.Created = created
	return classifier.Train(context.Background(), smallSamples(), o)
}

func mustModels(t testing.TB) []*classifier.Model {
	t.Helper()
	ms, err := models()
	if err != nil {
		t.Fatalf("fixtures: %v", err)
	}
	return ms
}

// backend is a store's bucket for tests: open returns a new Store on it
// (as another replica or process would), raw the bucket itself, for
// writing behind the store's back.
type backend struct {
	open func(t testing.TB) *Store
	raw  *blob.Bucket
}

// backendMaker makes a fresh, empty backend.
type backendMaker struct {
	name string
	make func(t testing.TB) backend
}

// backends are the stores every test runs against: memory, a directory,
// and SeaweedFS's S3 (skipped when there is no weed binary, or when
// ARTCLASS_SKIP_S3 is set, to save its start-up in a quick local run).
// Every S3 backend is a new prefix of one server.
func backends(t testing.TB) []backendMaker {
	mem := backendMaker{"mem", func(t testing.TB) backend {
		b := memblob.OpenBucket(nil)
		return backend{open: func(testing.TB) *Store { return New(b) }, raw: b}
	}}
	file := backendMaker{"file", func(t testing.TB) backend {
		u := (&url.URL{Scheme: "file", Path: filepath.ToSlash(t.TempDir())}).String()
		return backend{open: func(t testing.TB) *Store { return mustOpen(t, u) }, raw: mustRaw(t, u)}
	}}
	out := []backendMaker{mem, file}
	if os.Getenv("ARTCLASS_SKIP_S3") == "" {
		srv := s3test.New(t)
		var mu sync.Mutex
		n := 0
		out = append(out, backendMaker{"s3", func(t testing.TB) backend {
			mu.Lock()
			n++
			u := srv.URL(fmt.Sprintf("%s-%d/", strings.ReplaceAll(t.Name(), "/", "_"), n))
			mu.Unlock()
			return backend{open: func(t testing.TB) *Store { return mustOpen(t, u) }, raw: mustRaw(t, u)}
		}})
	}
	return out
}

func mustOpen(t testing.TB, u string) *Store {
	t.Helper()
	s, err := Open(context.Background(), u)
	if err != nil {
		t.Fatalf("Open(%s): %v", u, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// mustRaw opens the bucket under a store URL, prefix and all.
func mustRaw(t testing.TB, u string) *blob.Bucket {
	t.Helper()
	b, err := blob.OpenBucket(context.Background(), u)
	if err != nil {
		t.Fatalf("OpenBucket(%s): %v", u, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func mustPut(t testing.TB, s *Store, m *classifier.Model, parent string) Manifest {
	t.Helper()
	mf, err := s.Put(context.Background(), m, parent)
	if err != nil {
		t.Fatalf("Put(%s): %v", m.Version(), err)
	}
	return mf
}

func mustPromote(t testing.TB, s *Store, version string, expected Pointer) Pointer {
	t.Helper()
	p, err := s.Promote(context.Background(), version, expected)
	if err != nil {
		t.Fatalf("Promote(%s, gen %d): %v", version, expected.Generation, err)
	}
	return p
}

func mustActive(t testing.TB, s *Store) Pointer {
	t.Helper()
	p, err := s.Active(context.Background())
	if err != nil {
		t.Fatalf("Active: %v", err)
	}
	return p
}

func fileBytes(t testing.TB, m *classifier.Model) []byte {
	t.Helper()
	data, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestStore runs every store test against every backend.
func TestStore(t *testing.T) {
	mustModels(t) // train once, before the subtests run in parallel
	tests := []struct {
		name string
		run  func(t *testing.T, b backend)
	}{
		{"PutLoadList", testPutLoadList},
		{"PutIsIdempotent", testPutIsIdempotent},
		{"PromoteAndRollBack", testPromoteAndRollBack},
		{"ConcurrentPromotions", testConcurrentPromotions},
		{"PromoteRefuses", testPromoteRefuses},
		{"CorruptionRefused", testCorruptionRefused},
		{"CrashLeavesReadableStore", testCrashLeavesReadableStore},
		{"FollowerFollows", testFollowerFollows},
		{"FollowerRefusesBadVersion", testFollowerRefusesBadVersion},
	}
	for _, bm := range backends(t) {
		t.Run(bm.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, bm.make(t))
				})
			}
		})
	}
}

func testPutLoadList(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	ms := mustModels(t)
	if got, err := s.List(ctx); err != nil || len(got) != 0 {
		t.Fatalf("List of an empty store = %v, %v; want none", got, err)
	}
	var want []Manifest
	for i, m := range ms {
		parent := ""
		if i > 0 {
			parent = ms[i-1].Version()
		}
		mf := mustPut(t, s, m, parent)
		data := fileBytes(t, m)
		md := m.Metadata()
		if mf.Version != m.Version() || mf.Parent != parent || mf.Size != int64(len(data)) ||
			mf.Samples != md.Samples || mf.CV.MacroF1 != md.CV.MacroF1 || !mf.Created.Equal(md.Created) {
			t.Errorf("Put(%s) manifest = %+v; want version, parent %q, size %d, samples %d, macro-F1 %v, created %v from the model",
				m.Version(), mf, parent, len(data), md.Samples, md.CV.MacroF1, md.Created)
		}
		want = append(want, mf)
		time.Sleep(time.Millisecond) // distinct Stored times keep List's order the Put order
	}

	// Another Store on the same bucket, as another replica, sees them all.
	other := b.open(t)
	got, err := other.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("List gave %d versions, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Version != want[i].Version || got[i].Checksum != want[i].Checksum || !got[i].Stored.Equal(want[i].Stored) {
			t.Errorf("List[%d] = %s (%s), want %s (%s)", i, got[i].Version, got[i].Checksum, want[i].Version, want[i].Checksum)
		}
	}
	for _, m := range ms {
		loaded, mf, err := other.Load(ctx, m.Version())
		if err != nil {
			t.Fatalf("Load(%s): %v", m.Version(), err)
		}
		if !bytes.Equal(fileBytes(t, loaded), fileBytes(t, m)) || mf.Version != m.Version() {
			t.Errorf("Load(%s) gave a different model (version %s)", m.Version(), loaded.Version())
		}
	}
	if _, err := other.Manifest(ctx, "0123456789abcdef"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Manifest of a version never stored: err = %v, want ErrNotFound", err)
	}
}

func testPutIsIdempotent(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	m := mustModels(t)[1]
	first := mustPut(t, s, m, "")
	again := mustPut(t, b.open(t), m, "aaaa")
	if !reflectEqualJSON(t, first, again) {
		t.Errorf("second Put = %+v, want the first's manifest %+v", again, first)
	}
	// The same version trained again later: another file, same model.
	later, err := trainSmall(1, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if later.Version() != m.Version() || bytes.Equal(fileBytes(t, later), fileBytes(t, m)) {
		t.Fatalf("fixture: retraining gave version %s (want %s) and an identical file", later.Version(), m.Version())
	}
	mf := mustPut(t, s, later, "")
	if mf.Checksum != first.Checksum || !mf.Created.Equal(first.Created) {
		t.Errorf("Put of a retrained copy = checksum %s created %v, want the stored %s %v", mf.Checksum, mf.Created, first.Checksum, first.Created)
	}
	// Racing Puts of one version, from separate Stores, agree.
	var wg sync.WaitGroup
	results := make([]Manifest, 6)
	errs := make([]error, len(results))
	m2 := mustModels(t)[2]
	for i := range results {
		s := b.open(t)
		wg.Go(func() { results[i], errs[i] = s.Put(ctx, m2, "") })
	}
	wg.Wait()
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("racing Put %d: %v", i, errs[i])
		}
		if !reflectEqualJSON(t, results[i], results[0]) {
			t.Errorf("racing Put %d = %+v, want %+v", i, results[i], results[0])
		}
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 2 {
		t.Errorf("List after repeated Puts = %d versions, %v; want 2", len(list), err)
	}
}

func reflectEqualJSON(t testing.TB, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(ja, jb)
}

func testPromoteAndRollBack(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	ms := mustModels(t)
	v1, v2 := ms[1].Version(), ms[2].Version()
	none, err := s.Active(ctx)
	if !errors.Is(err, ErrNoActive) || none != (Pointer{}) {
		t.Fatalf("Active of a new store = %+v, %v; want the zero Pointer and ErrNoActive", none, err)
	}
	mustPut(t, s, ms[1], "")
	p1 := mustPromote(t, s, v1, none)
	mf2, p2, err := s.Publish(ctx, ms[2], p1)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if mf2.Parent != v1 {
		t.Errorf("Publish stored parent %q, want %q", mf2.Parent, v1)
	}
	// Roll back: promote the previous version again.
	p3 := mustPromote(t, s, p2.Previous, p2)
	for _, c := range []struct {
		got               Pointer
		gen               uint64
		version, previous string
	}{
		{p1, 1, v1, ""},
		{p2, 2, v2, v1},
		{p3, 3, v1, v2},
	} {
		if c.got.Generation != c.gen || c.got.Version != c.version || c.got.Previous != c.previous || c.got.Time.IsZero() {
			t.Errorf("pointer = %+v, want generation %d, version %s, previous %q", c.got, c.gen, c.version, c.previous)
		}
	}
	if got := mustActive(t, b.open(t)); got != p3 {
		t.Errorf("Active from another Store = %+v, want %+v", got, p3)
	}
	// A rollback racing a stale promotion: the stale one loses.
	_, err = s.Promote(ctx, v2, p2)
	var ce *ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, ErrConflict) || ce.Active != p3 || ce.Expected != p2 {
		t.Fatalf("Promote against a stale pointer: err = %v, want a *ConflictError naming %+v", err, p3)
	}
	if !strings.Contains(err.Error(), v1) {
		t.Errorf("conflict error %q does not name the active version %s", err, v1)
	}
	// Activate promotes like Promote and hands back the model it verified.
	m, p4, err := s.Activate(ctx, v2, p3)
	if err != nil || p4.Generation != 4 || p4.Version != v2 || m.Version() != v2 {
		t.Fatalf("Activate(%s) = model %v, pointer %+v, %v; want the model and generation 4", v2, m, p4, err)
	}
	if _, _, err := s.Activate(ctx, v1, p3); !errors.Is(err, ErrConflict) {
		t.Errorf("Activate against a stale pointer: %v, want ErrConflict", err)
	}
}

func testConcurrentPromotions(t *testing.T, b backend) {
	ctx := context.Background()
	ms := mustModels(t)
	setup := b.open(t)
	for _, m := range ms {
		mustPut(t, setup, m, "")
	}
	p, _ := setup.Active(ctx)
	const contenders = 8
	for round := range 3 {
		var wg sync.WaitGroup
		got := make([]Pointer, contenders)
		errs := make([]error, contenders)
		for i := range contenders {
			s := b.open(t) // each its own Store, as separate replicas
			version := ms[(round+i)%len(ms)].Version()
			wg.Go(func() { got[i], errs[i] = s.Promote(ctx, version, p) })
		}
		wg.Wait()
		var winner Pointer
		wins := 0
		for i, err := range errs {
			if err == nil {
				wins++
				winner = got[i]
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d of %d racing promotions won (errors %v), want exactly 1", round, wins, contenders, errs)
		}
		for i, err := range errs {
			if err == nil {
				continue
			}
			var ce *ConflictError
			if !errors.As(err, &ce) || ce.Active != winner {
				t.Errorf("round %d: loser %d: err = %v, want a conflict naming the winner %+v", round, i, err, winner)
			}
		}
		if now := mustActive(t, setup); now != winner || winner.Generation != p.Generation+1 {
			t.Fatalf("round %d: Active = %+v, want the winner %+v at generation %d", round, now, winner, p.Generation+1)
		}
		p = winner
	}
}

func testPromoteRefuses(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	ms := mustModels(t)
	mustPut(t, s, ms[1], "")
	p1 := mustPromote(t, s, ms[1].Version(), Pointer{})
	tests := []struct {
		name     string
		version  string
		expected Pointer
		want     error
	}{
		{"version never stored", ms[2].Version(), p1, ErrNotFound},
		{"malformed version", "../../etc", p1, ErrInvalid},
		{"empty version", "", p1, ErrInvalid},
		{"long version", strings.Repeat("a", 65), p1, ErrInvalid},
		{"pointer from nowhere", ms[1].Version(), Pointer{Generation: 7, Version: ms[1].Version()}, ErrInvalid},
		{"pointer with the wrong version", ms[1].Version(), Pointer{Generation: 1, Version: ms[2].Version()}, ErrInvalid},
		{"stale zero pointer", ms[1].Version(), Pointer{}, ErrConflict},
	}
	for _, tc := range tests {
		_, err := s.Promote(ctx, tc.version, tc.expected)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Promote err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if now := mustActive(t, s); now != p1 {
		t.Errorf("after refused promotions Active = %+v, want %+v", now, p1)
	}
}

func testCorruptionRefused(t *testing.T, b backend) {
	ctx := context.Background()
	ms := mustModels(t)
	good := fileBytes(t, ms[1])
	flipped := slices.Clone(good)
	flipped[len(flipped)/2] ^= 1
	// A model file whose bytes are self-consistent but belong to another
	// version: only the checksum in the manifest catches it.
	other := fileBytes(t, ms[2])
	tests := []struct {
		name   string
		damage func(t *testing.T, mf Manifest)
	}{
		{"garbage model file", func(t *testing.T, mf Manifest) {
			mustWrite(t, b.raw, modelKey(mf.Version, mf.Checksum), []byte("not a model"))
		}},
		{"one bit flipped", func(t *testing.T, mf Manifest) {
			mustWrite(t, b.raw, modelKey(mf.Version, mf.Checksum), flipped)
		}},
		{"another model's file", func(t *testing.T, mf Manifest) {
			mustWrite(t, b.raw, modelKey(mf.Version, mf.Checksum), other)
		}},
		{"model file missing", func(t *testing.T, mf Manifest) {
			if err := b.raw.Delete(ctx, modelKey(mf.Version, mf.Checksum)); err != nil {
				t.Fatal(err)
			}
		}},
		{"garbage manifest", func(t *testing.T, mf Manifest) {
			mustWrite(t, b.raw, manifestKey(mf.Version), []byte("{"))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := b.open(t)
			// Each case on its own prefix would need its own backend; the
			// cases run in turn and each restores the model file instead.
			mf := mustPut(t, s, ms[1], "")
			before, _ := s.Active(ctx)
			tc.damage(t, mf)
			if _, _, err := s.Load(ctx, mf.Version); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Load: err = %v, want ErrCorrupt", err)
			}
			if _, err := s.Promote(ctx, mf.Version, before); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Promote: err = %v, want ErrCorrupt", err)
			}
			if _, err := s.Put(ctx, ms[1], ""); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Put over a damaged copy: err = %v, want ErrCorrupt", err)
			}
			if after, _ := s.Active(ctx); after != before {
				t.Errorf("Active moved from %+v to %+v", before, after)
			}
			// Repair, by hand, as the error says.
			for _, key := range []string{manifestKey(mf.Version), modelKey(mf.Version, mf.Checksum)} {
				b.raw.Delete(ctx, key)
			}
		})
	}
}

func mustWrite(t testing.TB, b *blob.Bucket, key string, data []byte) {
	t.Helper()
	if err := b.WriteAll(context.Background(), key, data, nil); err != nil {
		t.Fatalf("write %s: %v", key, err)
	}
}

func testCrashLeavesReadableStore(t *testing.T, b backend) {
	ctx := context.Background()
	ms := mustModels(t)
	s := b.open(t)
	mustPut(t, s, ms[1], "")
	p1 := mustPromote(t, s, ms[1].Version(), Pointer{})

	// A trainer died after writing the model file, before the manifest.
	data := fileBytes(t, ms[2])
	orphan := manifestOf(ms[2], data, "", time.Now())
	mustWrite(t, b.raw, modelKey(orphan.Version, orphan.Checksum), data)
	// A trainer died halfway through writing a file of a directory store;
	// its temporary file is left (no such thing exists on S3 or memory).
	mustWrite(t, b.raw, "versions/"+ms[3].Version()+"/.manifest.json.0123.tmp", []byte(`{"vers`))
	mustWrite(t, b.raw, "active/.00000000000000000002.json.0123.tmp", []byte(`{"gen`))
	// A trainer died after a complete Put, before Promote.
	mustPut(t, b.open(t), ms[0], p1.Version)

	r := b.open(t)
	if got := mustActive(t, r); got != p1 {
		t.Errorf("Active = %+v, want %+v", got, p1)
	}
	if _, _, err := r.Load(ctx, p1.Version); err != nil {
		t.Errorf("Load of the active version: %v", err)
	}
	list, err := r.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var versions []string
	for _, mf := range list {
		versions = append(versions, mf.Version)
	}
	if !slices.Equal(versions, []string{ms[1].Version(), ms[0].Version()}) {
		t.Errorf("List = %v, want only the committed %s and %s", versions, ms[1].Version(), ms[0].Version())
	}
	if _, _, err := r.Load(ctx, orphan.Version); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load of a version without a manifest: err = %v, want ErrNotFound", err)
	}
	if _, err := r.Promote(ctx, orphan.Version, p1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Promote of a version without a manifest: err = %v, want ErrNotFound", err)
	}
	// The interrupted Put can be done again, and promoted.
	mustPut(t, r, ms[2], p1.Version)
	mustPromote(t, r, ms[2].Version(), p1)
}

// TestDirectoryCreateIsAtomic races writers of one name: exactly one
// creates it, and the file holds that writer's bytes whole.
func TestDirectoryCreateIsAtomic(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "active", "00000000000000000001.json")
	for round := range 20 {
		const writers = 8
		created := make([]bool, writers)
		errs := make([]error, writers)
		data := make([][]byte, writers)
		var wg sync.WaitGroup
		for i := range writers {
			data[i] = bytes.Repeat([]byte{byte('a' + i)}, 64<<10)
			wg.Go(func() { created[i], errs[i] = createFile(path, data[i]) })
		}
		wg.Wait()
		winner := -1
		for i := range writers {
			if errs[i] != nil {
				t.Fatalf("round %d: writer %d: %v", round, i, errs[i])
			}
			if created[i] {
				if winner >= 0 {
					t.Fatalf("round %d: writers %d and %d both created the file", round, winner, i)
				}
				winner = i
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no writer created the file", round)
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, data[winner]) {
			t.Fatalf("round %d: file holds %d bytes (%v), want writer %d's %d", round, len(got), err, winner, len(data[winner]))
		}
		entries, _ := os.ReadDir(filepath.Dir(path))
		if len(entries) != 1 {
			t.Fatalf("round %d: directory holds %d entries, want the file alone (no temporary files left)", round, len(entries))
		}
		os.Remove(path)
	}
}

func TestOpenRejects(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name, url, want string
	}{
		{"bad URL", "://", "model store URL"},
		{"unknown scheme", "gs2://bucket", "open model store"},
		{"absolute prefix", "mem://?prefix=/abs", "prefix"},
		{"prefix escaping", "file://" + dir + "?prefix=a/../../b", "prefix"},
		{"unknown file parameter", "file://" + dir + "?colour=red", "open model store"},
		{"unknown s3 parameter", "s3://bucket?region=x&colour=red", "open model store"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(context.Background(), tc.url)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", tc.url)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open(%q) = %v, want it to mention %q", tc.url, err, tc.want)
			}
		})
	}
}

// TestOpenPrefix checks a prefix keeps stores apart in one bucket, and
// that a directory store puts its objects where fileblob reads them.
func TestOpenPrefix(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	ms := mustModels(t)
	a := mustOpen(t, "file://"+dir+"?prefix=a")
	bs := mustOpen(t, "file://"+dir+"?prefix=b/")
	mf := mustPut(t, a, ms[1], "")
	if _, err := os.Stat(filepath.Join(dir, "a", "versions", mf.Version, "manifest.json")); err != nil {
		t.Errorf("manifest not under the prefix: %v", err)
	}
	if list, err := bs.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("List under another prefix = %v, %v; want none", list, err)
	}
}

// TestPromoteAcrossProcesses races promotions of one directory store from
// separate processes (this test binary, run again as helpers): exactly one
// wins, the rest get a conflict naming it.
func TestPromoteAcrossProcesses(t *testing.T) {
	if u := os.Getenv("MODELSTORE_HELPER_URL"); u != "" {
		promoteHelper(t, u)
		return
	}
	t.Parallel()
	ms := mustModels(t)
	dir := t.TempDir()
	u := "file://" + dir
	s := mustOpen(t, u)
	for _, m := range ms {
		mustPut(t, s, m, "")
	}
	p := mustPromote(t, s, ms[0].Version(), Pointer{})
	const helpers = 6
	gate := filepath.Join(t.TempDir(), "go")
	cmds := make([]*exec.Cmd, helpers)
	outs := make([]*bytes.Buffer, helpers)
	for i := range helpers {
		expected, _ := json.Marshal(p)
		cmd := exec.Command(os.Args[0], "-test.run=^TestPromoteAcrossProcesses$", "-test.v")
		cmd.Env = append(os.Environ(),
			"MODELSTORE_HELPER_URL="+u,
			"MODELSTORE_HELPER_VERSION="+ms[1+i%(len(ms)-1)].Version(),
			"MODELSTORE_HELPER_EXPECTED="+string(expected),
			"MODELSTORE_HELPER_GATE="+gate)
		outs[i] = new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = outs[i], outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	// Open the gate once all have started, so that their promotions overlap.
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	wins, conflicts := 0, 0
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper %d: %v\n%s", i, err, outs[i])
		}
		switch out := outs[i].String(); {
		case strings.Contains(out, "RESULT won"):
			wins++
		case strings.Contains(out, "RESULT conflict"):
			conflicts++
		default:
			t.Errorf("helper %d gave no result:\n%s", i, out)
		}
	}
	now := mustActive(t, s)
	if wins != 1 || conflicts != helpers-1 || now.Generation != p.Generation+1 {
		t.Errorf("%d wins, %d conflicts, active generation %d; want 1 win, %d conflicts, generation %d",
			wins, conflicts, now.Generation, helpers-1, p.Generation+1)
	}
	for i := range cmds {
		if out := outs[i].String(); strings.Contains(out, "RESULT conflict") && !strings.Contains(out, "RESULT conflict "+now.Version) {
			t.Errorf("helper %d's conflict does not name the winner %s:\n%s", i, now.Version, out)
		}
	}
}

// promoteHelper is one process of TestPromoteAcrossProcesses.
func promoteHelper(t *testing.T, u string) {
	var expected Pointer
	if err := json.Unmarshal([]byte(os.Getenv("MODELSTORE_HELPER_EXPECTED")), &expected); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, u)
	for deadline := time.Now().Add(waitFor); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(os.Getenv("MODELSTORE_HELPER_GATE")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the gate never opened")
		}
	}
	_, err := s.Promote(context.Background(), os.Getenv("MODELSTORE_HELPER_VERSION"), expected)
	var ce *ConflictError
	switch {
	case err == nil:
		fmt.Println("RESULT won")
	case errors.As(err, &ce):
		fmt.Println("RESULT conflict " + ce.Active.Version)
	default:
		t.Fatal(err)
	}
}
