package modelstore

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gocloud.dev/blob/memblob"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/internal/s3test"
)

// waitFor is how long a test waits for something a Follower will do within
// a few poll intervals; it bounds a hung test, it asserts no speed.
const waitFor = 60 * time.Second

// follow starts a Follower on s and returns its updates and status; the
// Follower stops, and the test checks that Run returned, when the test
// ends.
func follow(t *testing.T, s *Store, opts FollowOptions, swap func(Update) error) (<-chan Update, *Follower) {
	t.Helper()
	updates := make(chan Update, 16)
	if swap == nil {
		swap = func(Update) error { return nil }
	}
	f, err := NewFollower(s, func(u Update) error {
		if err := swap(u); err != nil {
			return err
		}
		updates <- u
		return nil
	}, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(waitFor):
			t.Error("Follower.Run did not return after its context was cancelled")
		}
	})
	return updates, f
}

func nextUpdate(t *testing.T, updates <-chan Update, want string) Update {
	t.Helper()
	select {
	case u := <-updates:
		if u.Model.Version() != want || u.Manifest.Version != want {
			t.Fatalf("follower handed over %s (manifest %s), want %s", u.Model.Version(), u.Manifest.Version, want)
		}
		return u
	case <-time.After(waitFor):
		t.Fatalf("follower did not hand over %s", want)
		return Update{}
	}
}

// nextUpdateAfter is nextUpdate, allowing updates from the store to
// version before first.
func nextUpdateAfter(t *testing.T, updates <-chan Update, want, before string) Update {
	t.Helper()
	for {
		select {
		case u := <-updates:
			if u.Model.Version() == want {
				return u
			}
			if u.Model.Version() != before || u.FromCache {
				t.Fatalf("follower handed over %s (from cache %v), want %s", u.Model.Version(), u.FromCache, want)
			}
		case <-time.After(waitFor):
			t.Fatalf("follower did not hand over %s", want)
		}
	}
}

// waitStatus polls f's status until ok holds.
func waitStatus(t *testing.T, f *Follower, what string, ok func(Status) bool) Status {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		st := f.Status()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("follower never reached %s; status %+v", what, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testFollowerFollows(t *testing.T, b backend) {
	ms := mustModels(t)
	s := b.open(t)
	updates, f := follow(t, b.open(t), FollowOptions{Interval: 10 * time.Millisecond}, nil)
	// Nothing active: the follower polls and hands over nothing.
	waitStatus(t, f, "two polls", func(st Status) bool { return st.Polls >= 2 })
	select {
	case u := <-updates:
		t.Fatalf("follower handed over %s with nothing active", u.Model.Version())
	default:
	}
	mustPut(t, s, ms[1], "")
	p1 := mustPromote(t, s, ms[1].Version(), Pointer{})
	if u := nextUpdate(t, updates, ms[1].Version()); u.Pointer != p1 || u.FromCache {
		t.Errorf("update pointer = %+v (from cache %v), want %+v", u.Pointer, u.FromCache, p1)
	}
	_, p2, err := s.Publish(context.Background(), ms[2], p1)
	if err != nil {
		t.Fatal(err)
	}
	nextUpdate(t, updates, ms[2].Version())
	st := waitStatus(t, f, "agreement with generation 2", func(st Status) bool {
		return st.Active == p2 && st.Serving == ms[2].Version() && !st.LastAgreed.IsZero()
	})
	if st.Swaps != 2 || st.Refused != 0 || st.PollErrors != 0 {
		t.Errorf("status = %+v; want 2 swaps, no refusals, no poll errors", st)
	}
	// A rollback is followed like any promotion.
	mustPromote(t, s, p2.Previous, p2)
	nextUpdate(t, updates, ms[1].Version())
}

// TestFollowerWake checks Wake makes a follower that would wait an hour
// poll at once.
func TestFollowerWake(t *testing.T) {
	t.Parallel()
	ms := mustModels(t)
	s := New(memblob.OpenBucket(nil))
	updates, f := follow(t, s, FollowOptions{Interval: time.Hour}, nil)
	waitStatus(t, f, "the first poll", func(st Status) bool { return st.Polls == 1 })
	_, p1, err := s.Publish(context.Background(), ms[1], Pointer{})
	if err != nil {
		t.Fatal(err)
	}
	f.Wake()
	if u := nextUpdate(t, updates, ms[1].Version()); u.Pointer != p1 {
		t.Errorf("woken follower handed over pointer %+v, want %+v", u.Pointer, p1)
	}
}

func testFollowerRefusesBadVersion(t *testing.T, b backend) {
	ctx := context.Background()
	ms := mustModels(t)
	s := b.open(t)
	mustPut(t, s, ms[1], "")
	p1 := mustPromote(t, s, ms[1].Version(), Pointer{})
	// The swap function refuses one version, as a server would a model
	// with the wrong labels.
	refuse := ms[3].Version()
	updates, f := follow(t, b.open(t), FollowOptions{Interval: 10 * time.Millisecond}, func(u Update) error {
		if u.Model.Version() == refuse {
			return errors.New("labels do not match")
		}
		return nil
	})
	nextUpdate(t, updates, ms[1].Version())

	// A version damaged after its promotion (bit rot, a hand edit): the
	// pointer names it, its file fails verification.
	mf2 := mustPut(t, s, ms[2], p1.Version)
	p2 := mustPromote(t, s, mf2.Version, p1)
	mustWrite(t, b.raw, modelKey(mf2.Version, mf2.Checksum), []byte("garbage"))
	// It may have been loaded before the damage; then the rest of this
	// case checks nothing about refusal, so make that visible.
	st := waitStatus(t, f, "generation 2 read", func(st Status) bool { return st.Active == p2 })
	if st.Serving == mf2.Version {
		t.Skip("the follower loaded generation 2 before it was damaged")
	}
	if st.Refused != 1 || !errors.Is(st.LastError, ErrCorrupt) || st.Serving != ms[1].Version() {
		t.Fatalf("status = %+v; want one refusal for ErrCorrupt, still serving %s", st, ms[1].Version())
	}
	// Remembered: more polls, no second download or refusal.
	polls := st.Polls
	st = waitStatus(t, f, "five more polls", func(st Status) bool { return st.Polls >= polls+5 })
	if st.Refused != 1 || st.Swaps != 1 {
		t.Errorf("after more polls status = %+v; want still 1 refusal, 1 swap", st)
	}

	// The swap function's refusal counts the same way.
	mustPut(t, s, ms[3], "")
	p3 := mustPromote(t, s, refuse, p2)
	st = waitStatus(t, f, "generation 3 refused", func(st Status) bool { return st.Active == p3 && st.Refused == 2 })
	if st.Serving != ms[1].Version() {
		t.Errorf("serving %s after a refusal, want %s", st.Serving, ms[1].Version())
	}
	// A good promotion after the bad ones is followed.
	_, p4, err := s.Publish(ctx, ms[0], p3)
	if err != nil {
		t.Fatal(err)
	}
	nextUpdate(t, updates, ms[0].Version())
	waitStatus(t, f, "agreement", func(st Status) bool { return st.Active == p4 && st.LastError == nil })
}

// TestFollowerSurvivesS3Outage stops the S3 server under a follower: it
// keeps its model and counts errors; a replica started during the outage
// serves its cached copy; both catch up once the server is back.
func TestFollowerSurvivesS3Outage(t *testing.T) {
	srv := s3test.New(t)
	ms := mustModels(t)
	url := srv.URL("outage/")
	s := mustOpen(t, url)
	mustPut(t, s, ms[1], "")
	p1 := mustPromote(t, s, ms[1].Version(), Pointer{})
	cache := filepath.Join(t.TempDir(), "cache")
	opts := FollowOptions{Interval: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, CacheDir: cache}
	updates, f := follow(t, mustOpen(t, url), opts, nil)
	nextUpdate(t, updates, p1.Version)
	// The cache is written just after the swap.
	for deadline := time.Now().Add(waitFor); ; time.Sleep(5 * time.Millisecond) {
		m, err := classifier.LoadFile(filepath.Join(cache, cacheFile))
		if err == nil && m.Version() == p1.Version {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cache holds %v, %v; want version %s", m, err, p1.Version)
		}
	}

	srv.Stop()
	st := waitStatus(t, f, "three poll errors", func(st Status) bool { return st.PollErrors >= 3 })
	if st.Serving != p1.Version || st.Swaps != 1 {
		t.Errorf("during the outage status = %+v; want still serving %s", st, p1.Version)
	}
	// A replica (re)started during the outage serves the cached copy.
	late, lf := follow(t, mustOpen(t, url), opts, nil)
	if u := nextUpdate(t, late, p1.Version); !u.FromCache || u.Pointer != (Pointer{}) {
		t.Errorf("late replica's first update: from cache %v, pointer %+v; want the cache's copy", u.FromCache, u.Pointer)
	}
	// The status is recorded once the swap has returned, so wait for it
	// rather than read it at once.
	waitStatus(t, lf, "serving from the cache after a poll error", func(st Status) bool {
		return st.ServingFromCache && st.PollErrors > 0
	})

	srv.Start()
	_, p2, err := s.Publish(context.Background(), ms[2], p1)
	if err != nil {
		t.Fatalf("Publish after the restart: %v", err)
	}
	nextUpdate(t, updates, ms[2].Version())
	// The late replica may poll between the restart and the Publish, and
	// replace its cached copy with the store's p1 first.
	u := nextUpdateAfter(t, late, ms[2].Version(), p1.Version)
	if u.FromCache || u.Pointer != p2 {
		t.Errorf("late replica's update after the outage: from cache %v, pointer %+v; want %+v from the store", u.FromCache, u.Pointer, p2)
	}
	for _, f := range []*Follower{f, lf} {
		waitStatus(t, f, "agreement", func(st Status) bool { return st.Active == p2 && !st.ServingFromCache && st.LastError == nil })
	}
}

func TestNewFollowerRejects(t *testing.T) {
	t.Parallel()
	s := New(nil)
	ok := func(Update) error { return nil }
	tests := []struct {
		name  string
		store *Store
		swap  func(Update) error
		opts  FollowOptions
	}{
		{"no store", nil, ok, FollowOptions{}},
		{"no swap", s, nil, FollowOptions{}},
		{"negative interval", s, ok, FollowOptions{Interval: -time.Second}},
		{"negative backoff", s, ok, FollowOptions{MaxBackoff: -time.Second}},
		{"negative timeout", s, ok, FollowOptions{Timeout: -time.Second}},
	}
	for _, tc := range tests {
		if _, err := NewFollower(tc.store, tc.swap, tc.opts); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tc.name, err)
		}
	}
}

// TestFollowerNoticesDirectoryGone: a follower that knows a generation
// reads only the next one each poll, and a directory store whose root has
// gone answers that read with "not found", like a store where nothing
// changed. The poll must count as failed, so the replica's lag shows.
func TestFollowerNoticesDirectoryGone(t *testing.T) {
	t.Parallel()
	ms := mustModels(t)
	dir := filepath.Join(t.TempDir(), "store")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String())
	if _, _, err := s.Publish(context.Background(), ms[1], Pointer{}); err != nil {
		t.Fatal(err)
	}
	updates, f := follow(t, s, FollowOptions{Interval: 20 * time.Millisecond}, nil)
	nextUpdate(t, updates, ms[1].Version())
	if err := os.Rename(dir, dir+".moved"); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, f, "a failed poll", func(st Status) bool { return st.PollErrors > 0 })
	if err := os.Rename(dir+".moved", dir); err != nil {
		t.Fatal(err)
	}
	before := f.Status().PollErrors
	waitStatus(t, f, "a good poll after the directory is back", func(st Status) bool {
		return st.Polls > 0 && st.PollErrors == before && !st.LastAgreed.IsZero() && time.Since(st.LastAgreed) < time.Second
	})
}
