package modelstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/renameio/v2"

	"github.com/artclass/artclass/classifier"
)

// DefaultPollInterval is how often a Follower reads the active pointer
// unless told otherwise.
const DefaultPollInterval = 5 * time.Second

// cacheFile is the name of the model file a Follower keeps in its cache
// directory.
const cacheFile = "active.model"

// FollowOptions configures a Follower. The zero value polls every
// DefaultPollInterval, keeps no local copy and logs nothing.
type FollowOptions struct {
	// Interval is the time between two reads of the active pointer;
	// 0 means DefaultPollInterval. Each wait is drawn from
	// [0.9·Interval, Interval] so that a fleet's polls spread out, and a
	// promotion reaches every replica within one Interval plus the time to
	// load the model.
	Interval time.Duration
	// MaxBackoff caps the wait after failed polls, which starts at a
	// quarter of a second (or Interval, if shorter) and doubles with each
	// failure in a row; 0 means 4·Interval. A store that is down is then
	// polled less often than a healthy one, and a replica catches up
	// within MaxBackoff of the store's return.
	MaxBackoff time.Duration
	// Timeout bounds one poll, the model's download included; 0 means one
	// minute.
	Timeout time.Duration
	// CacheDir, if set, is a directory where the Follower keeps a copy of
	// the last model it handed over (written atomically with renameio), so
	// a replica restarted while the store is unreachable can still serve.
	// The copy is used only then: at start, after the first poll fails,
	// and before any model was handed over.
	CacheDir string
	// Logger receives a line for each model handed over or refused, and for
	// each failed poll; nil logs nothing.
	Logger *slog.Logger
}

// Update is a model a Follower hands to its swap function.
type Update struct {
	// Model is the verified, decoded model.
	Model *classifier.Model
	// Manifest describes it. For a model read from the cache, the manifest
	// is rebuilt from the model file: Parent and Stored are unknown (zero).
	Manifest Manifest
	// Pointer is the pointer generation that made it active; zero for a
	// model read from the cache.
	Pointer Pointer
	// FromCache is true for the cache's copy, served because the store
	// could not be read at start.
	FromCache bool
}

// Status is what a Follower has done, for health checks and metrics.
type Status struct {
	// Serving is the version most recently handed over ("" before the
	// first), and ServingFromCache whether it came from the cache.
	Serving          string
	ServingFromCache bool
	// Active is the pointer the last successful poll read; zero before one
	// succeeded or while nothing is active.
	Active Pointer
	// LastPoll is when the last poll ended, successful or not; LastAgreed
	// when a poll last found the store's active version being served.
	// time.Since(LastAgreed) is how far behind the replica may be.
	LastPoll   time.Time
	LastAgreed time.Time
	// Polls counts the polls, PollErrors those that failed to read the
	// store (it was down, or answered with an error).
	Polls      uint64
	PollErrors uint64
	// Swaps counts models handed over, Refused versions refused: ones that
	// failed verification or that the swap function rejected.
	Swaps   uint64
	Refused uint64
	// LastError is the last poll error or refusal, nil if there was none
	// since the last model handed over.
	LastError error
}

// Follower keeps a replica on the store's active version: it polls the
// active pointer, loads and verifies each newly active version, and hands
// it to a swap function. A version that fails verification or that swap
// rejects is refused — logged, counted, remembered so that it is not
// downloaded again until the pointer moves — and the replica keeps serving
// what it has. A store that cannot be read is retried with capped
// exponential backoff, forever.
type Follower struct {
	store *Store
	swap  func(Update) error
	opts  FollowOptions
	log   *slog.Logger

	// known is the pointer the Follower last read and refusedGen the
	// generation it last refused; only Run's goroutine touches them.
	known      Pointer
	refusedGen uint64

	// wake asks Run to poll now; see Wake.
	wake chan struct{}

	mu     sync.Mutex
	status Status
}

// NewFollower returns a Follower that hands each newly active version of
// store to swap, which must install it (for artclassd, swap the serving
// model) or return an error to refuse it. swap is called from Run's
// goroutine, one call at a time. The Follower does not close the store.
func NewFollower(store *Store, swap func(Update) error, opts FollowOptions) (*Follower, error) {
	if store == nil || swap == nil {
		return nil, fmt.Errorf("%w: follower needs a store and a swap function", ErrInvalid)
	}
	if opts.Interval < 0 || opts.MaxBackoff < 0 || opts.Timeout < 0 {
		return nil, fmt.Errorf("%w: follower: Interval, MaxBackoff and Timeout must not be negative", ErrInvalid)
	}
	if opts.Interval == 0 {
		opts.Interval = DefaultPollInterval
	}
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = 4 * opts.Interval
	}
	if opts.Timeout == 0 {
		opts.Timeout = time.Minute
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Follower{store: store, swap: swap, opts: opts, log: log, wake: make(chan struct{}, 1)}, nil
}

// Wake makes Run poll now instead of at the end of its wait: a replica that
// has just promoted a version (a Train, an ActivateModel) calls it to serve
// the version at once rather than up to an interval later. It does not
// block; wakes while a poll runs coalesce into one more poll.
func (f *Follower) Wake() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Status returns a snapshot of what the Follower has done. It is safe to
// call from any goroutine.
func (f *Follower) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

// Run follows the store until ctx is done, and returns then. The first
// poll is immediate. Run starts no goroutines of its own.
func (f *Follower) Run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-f.wake:
			timer.Stop()
		}
		if err := f.poll(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			f.log.Warn("model store poll failed", "err", err, "failures", failures)
			if failures == 1 {
				f.fromCache()
			}
			timer.Reset(f.backoff(failures))
			continue
		}
		failures = 0
		timer.Reset(f.opts.Interval - time.Duration(rand.Int64N(int64(f.opts.Interval)/10+1)))
	}
}

// backoff is the wait after n failed polls in a row: exponential from a
// quarter of a second, capped, with "equal jitter" (half fixed, half
// random) so that a fleet does not retry in step.
func (f *Follower) backoff(n int) time.Duration {
	d := min(250*time.Millisecond, f.opts.Interval)
	for i := 1; i < n && d < f.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, f.opts.MaxBackoff)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// poll reads the pointer and, if it names a version not yet served or
// refused, loads and hands it over. It returns an error only when the
// store could not be read; a refusal is not a poll error.
func (f *Follower) poll(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, f.opts.Timeout)
	defer cancel()
	p, err := f.store.advance(ctx, f.known)
	if errors.Is(err, ErrNoActive) {
		f.record(func(s *Status) {})
		return nil
	}
	if err != nil {
		f.record(func(s *Status) { s.PollErrors++; s.LastError = err })
		return err
	}
	f.known = p
	now := f.Status()
	serving := now.Serving
	// A cached model is replaced by the store's copy even when the versions
	// match, so that the Update carries the store's manifest.
	if p.Version == serving && !now.ServingFromCache || p.Generation == f.refusedGen {
		f.record(func(s *Status) {
			s.Active = p
			if p.Version == s.Serving {
				s.LastAgreed = s.LastPoll
			}
		})
		return nil
	}
	m, mf, data, err := f.store.load(ctx, p.Version)
	if err == nil {
		err = f.swap(Update{Model: m, Manifest: mf, Pointer: p})
		if err != nil {
			err = fmt.Errorf("swap refused %s: %w", p.Version, err)
		}
	} else if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNotFound) {
		// The store failed, not the version: retry it.
		f.record(func(s *Status) { s.Active = p; s.PollErrors++; s.LastError = err })
		return err
	}
	if err != nil {
		f.refusedGen = p.Generation
		f.log.Error("model refused; serving the previous model", "version", p.Version, "generation", p.Generation, "serving", serving, "err", err)
		f.record(func(s *Status) { s.Active = p; s.Refused++; s.LastError = err })
		return nil
	}
	f.log.Info("model swapped in", "version", p.Version, "generation", p.Generation, "previous", serving)
	f.record(func(s *Status) {
		s.Active = p
		s.Serving, s.ServingFromCache = p.Version, false
		s.Swaps++
		s.LastAgreed = s.LastPoll
		s.LastError = nil
	})
	f.writeCache(data)
	return nil
}

// record counts a poll ending now and applies change to the status.
func (f *Follower) record(change func(*Status)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status.Polls++
	f.status.LastPoll = time.Now()
	change(&f.status)
}

func (f *Follower) writeCache(data []byte) {
	if f.opts.CacheDir == "" {
		return
	}
	err := os.MkdirAll(f.opts.CacheDir, 0o755)
	if err == nil {
		err = renameio.WriteFile(filepath.Join(f.opts.CacheDir, cacheFile), data, 0o644)
	}
	if err != nil {
		f.log.Warn("model cache not written", "dir", f.opts.CacheDir, "err", err)
	}
}

// fromCache hands over the cache's model if nothing has been handed over
// yet: the store is unreachable at start, and an older model beats none.
func (f *Follower) fromCache() {
	if f.opts.CacheDir == "" || f.Status().Serving != "" {
		return
	}
	path := filepath.Join(f.opts.CacheDir, cacheFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	var m *classifier.Model
	if err == nil {
		m, err = classifier.Decode(data)
	}
	if err == nil {
		mf := manifestOf(m, data, "", time.Time{})
		err = f.swap(Update{Model: m, Manifest: mf, FromCache: true})
	}
	if err != nil {
		f.log.Error("cached model refused", "path", path, "err", err)
		return
	}
	f.log.Warn("model store unreachable; serving the cached model", "version", m.Version(), "path", path)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status.Serving, f.status.ServingFromCache = m.Version(), true
	f.status.Swaps++
}
