package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/client"
	"github.com/artclass/artclass/internal/s3test"
	"github.com/artclass/artclass/internal/testenv"
	"github.com/artclass/artclass/modelstore"
)

// The fleet tests run three artclassd processes on one model store — a
// directory, then a real S3 server — with a round-robin client classifying
// through all of them the whole time, while the fleet is retrained, rolled
// back, killed, raced and cut off from its store. They live in this package
// so that every replica is this test binary run as artclassd (see
// TestMain): the code under test, race detector included, with no separate
// build.

// fleetPoll is the replicas' --store-poll: every replica must serve a new
// active version within it plus a second.
const fleetPoll = time.Second

// TestFleet runs the fleet scenario on a directory store and on S3. The S3
// run needs the weed binary (see package s3test) and is skipped without it
// unless ARTCLASS_REQUIRE_S3=1. The subtests are not parallel: each runs
// three servers under the race detector, and S3's a storage server too, on
// a machine that may have two cores.
func TestFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("the fleet test starts several servers; not in -short")
	}
	t.Run("file", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "store")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		runFleet(t, "file://"+dir, nil)
	})
	t.Run("s3", func(t *testing.T) {
		s3 := s3test.New(t)
		runFleet(t, s3.URL("fleet"), s3)
	})
}

// fleet is three replicas on one store and the clients that reach them.
type fleet struct {
	t        *testing.T
	start    time.Time
	url      string
	env      []string
	args     []string
	replicas []*child
	direct   []*client.Client // one per replica, with the admin token
	metrics  []string         // each replica's /metrics URL
}

// logf logs an event of the timeline, with the time since the fleet
// started.
func (f *fleet) logf(format string, args ...any) {
	f.t.Helper()
	f.t.Logf("t+%5.1fs: %s", time.Since(f.start).Seconds(), fmt.Sprintf(format, args...))
}

// startReplica starts replica i (again), on addr if it is not empty, and
// waits until it listens.
func (f *fleet) startReplica(i int, addr string) {
	f.t.Helper()
	args := f.args
	if addr != "" {
		args = append(args[:len(args):len(args)], "--listen", addr)
	}
	c := spawn(f.t, f.env, args...)
	f.replicas[i] = c
}

// listening waits for replica i's addresses.
func (f *fleet) listening(i int) {
	f.t.Helper()
	c := f.replicas[i]
	c.addr = c.waitLog(f.t, "listening", 1)["grpc_addr"].(string)
	f.metrics[i] = "http://" + c.waitLog(f.t, "serving metrics", 1)["addr"].(string) + "/metrics"
}

// converge waits until every replica serves version v and reports it as
// the store's active version, failing after within; it returns the time
// the slowest replica took.
func (f *fleet) converge(v string, within time.Duration) time.Duration {
	f.t.Helper()
	took := make([]time.Duration, len(f.replicas))
	var wg sync.WaitGroup
	errs := make([]error, len(f.replicas))
	for i, c := range f.direct {
		wg.Go(func() {
			start := time.Now()
			for {
				m, err := c.GetModel(context.Background())
				if err == nil && m.Version == v && m.StoreActiveVersion == v {
					took[i] = time.Since(start)
					return
				}
				if time.Since(start) > within {
					errs[i] = fmt.Errorf("replica %d serves %q with store_active_version %q (%v) after %v, want %s",
						i+1, m.Version, m.StoreActiveVersion, err, within, v)
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		f.t.Fatal(err)
	}
	slowest := time.Duration(0)
	for _, d := range took {
		slowest = max(slowest, d)
	}
	f.logf("every replica serves %s (slowest after %v)", short(v), slowest.Round(time.Millisecond))
	return slowest
}

// metric reads a counter of replica i.
func (f *fleet) metric(i int, name string) float64 {
	f.t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(scrape(f.t, f.metrics[i]))
	if m == nil {
		f.t.Fatalf("replica %d has no metric %s", i+1, name)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

func short(v string) string { return v[:min(len(v), 8)] }

// load classifies through the round-robin client until stop is called,
// and then reports the calls and the failures.
type load struct {
	stop  context.CancelFunc
	wg    sync.WaitGroup
	mu    sync.Mutex
	calls int
	fails []string
}

func startLoad(f *fleet, c *client.Client, workers int) *load {
	ctx, stop := context.WithCancel(context.Background())
	l := &load{stop: stop}
	for range workers {
		l.wg.Go(func() {
			for ctx.Err() == nil {
				_, err := c.Classify(ctx, article, classifier.Filter{})
				if ctx.Err() != nil {
					return
				}
				l.mu.Lock()
				l.calls++
				if err != nil {
					l.fails = append(l.fails, fmt.Sprintf("t+%.1fs: %v", time.Since(f.start).Seconds(), err))
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

func (l *load) end() (int, []string) {
	l.stop()
	l.wg.Wait()
	return l.calls, l.fails
}

// runFleet is the scenario on the store at url; s3 is its server, nil for
// a directory.
func runFleet(t *testing.T, url string, s3 *s3test.Server) {
	f := &fleet{t: t, start: time.Now(), url: url, replicas: make([]*child, 3), direct: make([]*client.Client, 3), metrics: make([]string, 3)}
	f.args = []string{"--model-store", url, "--store-poll", fleetPoll.String(), "--admin-token-file", writeToken(t),
		"--metrics-listen", "127.0.0.1:0"}
	if s3 != nil {
		f.env = s3.Env()
	}
	def := testenv.DefaultModel(t)
	within := fleetPoll + time.Second

	// Three replicas start together on an empty store: they race to
	// publish the embedded model as the first version, and one wins.
	for i := range f.replicas {
		f.startReplica(i, "")
	}
	var addrs []string
	for i := range f.replicas {
		f.listening(i)
		addrs = append(addrs, f.replicas[i].addr)
		f.direct[i] = newClient(t, f.replicas[i].addr)
		waitServing(t, f.direct[i])
	}
	f.logf("3 replicas serving on %s", strings.Join(addrs, ","))
	f.converge(def.Version(), 10*time.Second)

	lb := newClient(t, strings.Join(addrs, ","))
	l := startLoad(f, lb, 4)
	defer l.stop()

	// A Train on replica 1.
	// Each call gets its own testenv.Context: one for the whole scenario
	// would run out (it lasts 30 s at most).
	res, err := f.direct[0].Train(testenv.Context(t), samples(roundSamples(1)), roundTrain)
	if err != nil {
		t.Fatalf("Train on replica 1: %v", err)
	}
	f.logf("Train on replica 1 made %s active", short(res.Model.Version))
	f.converge(res.Model.Version, within)

	// A rollback on replica 2.
	act, err := f.direct[1].ActivateModel(testenv.Context(t), res.PreviousVersion)
	if err != nil {
		t.Fatalf("ActivateModel on replica 2: %v", err)
	}
	f.logf("ActivateModel on replica 2 rolled back from %s to %s", short(act.PreviousVersion), short(act.Model.Version))
	f.converge(def.Version(), within)

	// kill -9 of replica 3, and its restart on the same port.
	addr3 := f.replicas[2].addr
	f.replicas[2].kill(t)
	f.logf("replica 3 killed with SIGKILL")
	time.Sleep(fleetPoll) // the fleet runs on two replicas for a while
	f.startReplica(2, addr3)
	f.listening(2)
	waitServing(t, f.direct[2])
	if m := served(t, f.direct[2]); m.Version != def.Version() {
		t.Errorf("the restarted replica 3 first serves %s, want the active %s", m.Version, def.Version())
	}
	f.logf("replica 3 restarted on %s", addr3)
	f.converge(def.Version(), within)

	// Two Trains at once, on replicas 1 and 2, of models equally good
	// (forced past the gate): the race alone decides.
	began := time.Now()
	winner := raceTrains(f, testenv.Context(t))
	f.logf("the racing Trains took %v", time.Since(began).Round(time.Millisecond))
	f.converge(winner, within)

	if s3 != nil {
		winner = storeOutage(f, s3, winner)
	}

	// A trainer killed between storing a version and moving the pointer,
	// and one killed at a random moment of its publication.
	held := killPublishers(f, winner)
	if _, err := f.direct[0].ActivateModel(testenv.Context(t), held); err != nil {
		t.Fatalf("ActivateModel of the version a killed trainer stored: %v", err)
	}
	f.logf("ActivateModel on replica 1 promoted %s, stored by the killed trainer", short(held))
	f.converge(held, within)

	calls, fails := l.end()
	f.logf("%d Classify calls through the round-robin client, %d failed", calls, len(fails))
	if len(fails) > 0 || calls == 0 {
		t.Errorf("%d of %d Classify calls failed:\n%s", len(fails), calls, strings.Join(fails, "\n"))
	}
}

// raceTrains starts a Train on replicas 1 and 2 at once and checks that
// exactly one wins and the other is told which version did. It returns the
// winner's version.
func raceTrains(f *fleet, ctx context.Context) string {
	t := f.t
	type outcome struct {
		res client.TrainResult
		err error
	}
	out := make([]outcome, 2)
	samplesOf := []client.Samples{samples(raceSamples(t, 0)), samples(raceSamples(t, 1))}
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range out {
		wg.Go(func() {
			<-gate
			out[i].res, out[i].err = f.direct[i].Train(ctx, samplesOf[i], raceTrain)
		})
	}
	close(gate)
	wg.Wait()
	var winner string
	for i, o := range out {
		switch {
		case o.err == nil && winner == "":
			winner = o.res.Model.Version
			f.logf("racing Train on replica %d won: %s", i+1, short(winner))
		case o.err == nil:
			t.Fatalf("both racing Trains won: %s, then %s replacing %s", short(winner), short(o.res.Model.Version), short(o.res.PreviousVersion))
		}
	}
	if winner == "" {
		t.Fatalf("neither racing Train won: %v; %v", out[0].err, out[1].err)
	}
	for i, o := range out {
		if o.err == nil {
			continue
		}
		var ce *client.Error
		if !errors.Is(o.err, client.ErrAborted) || !errors.As(o.err, &ce) || ce.Metadata["active_version"] != winner || !strings.Contains(ce.Message, winner) {
			t.Fatalf("the losing Train on replica %d: %v (%+v), want ABORTED naming %s", i+1, o.err, ce, winner)
		}
		f.logf("racing Train on replica %d lost: %s", i+1, o.err)
	}
	return winner
}

// raceTrain trains the racing models by logistic regression with 3-fold
// cross-validation, so that training takes long enough (seconds under the
// race detector) for both calls to read the active pointer before either
// moves it: what the test is about is who moves it, not who finishes
// first. They are forced past the quality gate, which compares them with
// the embedded model (trained on the whole corpus), not with each other.
var raceTrain = client.TrainOptions{
	Overrides: classifier.TrainOverrides{Algorithm: new(classifier.AlgorithmLogReg), Folds: new(3)},
	Force:     true,
}

// raceSamples are a third of the project's corpus, every third article
// from the i-th: two models of the same size and make-up.
func raceSamples(t *testing.T, i int) []classifier.Sample {
	t.Helper()
	files, err := filepath.Glob("../../testdata/corpus/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	var out []classifier.Sample
	for _, file := range files {
		ss, err := classifier.ReadSamplesFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for j := i; j < len(ss); j += 3 {
			out = append(out, ss[j])
		}
	}
	return out
}

// storeOutage stops the S3 server for 10 s: every replica keeps serving
// and notices, and once it is back a promotion reaches every replica as
// usual. It returns the active version.
func storeOutage(f *fleet, s3 *s3test.Server, active string) string {
	t := f.t
	errsBefore := make([]float64, len(f.replicas))
	for i := range f.replicas {
		errsBefore[i] = f.metric(i, "artclass_store_poll_errors_total")
	}
	s3.Stop()
	f.logf("S3 server stopped")
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		for i, c := range f.direct {
			if m := served(t, c); m.Version != active {
				t.Fatalf("during the outage replica %d serves %s, want %s", i+1, m.Version, active)
			}
		}
	}
	for i := range f.replicas {
		if got := f.metric(i, "artclass_store_poll_errors_total"); got <= errsBefore[i] {
			t.Errorf("replica %d counted no failed poll during the outage", i+1)
		}
	}
	s3.Start()
	f.logf("S3 server started again; every replica kept serving %s", short(active))

	// A replica polls again within its backoff (at most 4 polls) of the
	// store's return; then a promotion reaches it within a poll.
	for i := range f.replicas {
		polls := f.metric(i, "artclass_store_polls_total") - f.metric(i, "artclass_store_poll_errors_total")
		for deadline := time.Now().Add(4*fleetPoll + 10*time.Second); ; time.Sleep(50 * time.Millisecond) {
			if f.metric(i, "artclass_store_polls_total")-f.metric(i, "artclass_store_poll_errors_total") > polls {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %d did not read the store again after it came back", i+1)
			}
		}
	}
	// weed takes seconds over its first write after a restart; the
	// promotion's time is counted from the Train's answer.
	f.logf("every replica read the store again")
	res, err := f.direct[2].Train(testenv.Context(t), samples(roundSamples(5)), roundTrain)
	if err != nil {
		t.Fatalf("Train on replica 3 after the outage: %v", err)
	}
	f.logf("Train on replica 3 made %s active", short(res.Model.Version))
	f.converge(res.Model.Version, fleetPoll+time.Second)
	return res.Model.Version
}

// killPublishers kills two trainers that publish to the store: one after it
// stored a version and before it promotes it, one at a random moment of
// its publication. Every replica must keep serving and read the store (its
// listing included) as before, and a fresh reader must find the store
// whole. It returns the version the first trainer stored.
func killPublishers(f *fleet, active string) string {
	t := f.t
	held := spawnPublisher(t, f, "hold", 6)
	line := held.waitLine(t, "stored ")
	version := strings.TrimPrefix(line, "stored ")
	held.kill(t)
	f.logf("trainer killed after storing %s, before promoting it", short(version))

	pub := spawnPublisher(t, f, "publish", 7)
	pub.waitLine(t, "publishing")
	time.Sleep(time.Duration(rand.Int64N(int64(50 * time.Millisecond))))
	pub.kill(t)
	f.logf("trainer killed while publishing %s", short(roundModel(t, 7).Version()))

	// The second may have promoted its version before the kill.
	now := checkStoreReadable(t, f.url)
	if now != active && now != roundModel(t, 7).Version() {
		t.Fatalf("after the kills the store's active version is %s, want %s or the killed trainer's", now, active)
	}
	f.converge(now, fleetPoll+time.Second)
	for i, c := range f.direct {
		list, err := c.ListModels(testenv.Context(t))
		if err != nil {
			t.Fatalf("ListModels on replica %d: %v", i+1, err)
		}
		found := false
		for _, m := range list.Models {
			found = found || m.Version == version
		}
		if !found || list.ActiveVersion != now {
			t.Fatalf("ListModels on replica %d: active %s, stored version %s listed: %v", i+1, list.ActiveVersion, version, found)
		}
	}
	return version
}

// spawnPublisher runs the test binary as a trainer that publishes round
// i's model to the fleet's store (see runPublisher).
func spawnPublisher(t *testing.T, f *fleet, mode string, round int) *child {
	t.Helper()
	return spawnProcess(t, append(f.env, bePublisher+"="+mode), []string{f.url, strconv.Itoa(round)})
}

// waitLine waits for a line of the child's standard output that starts
// with prefix and returns it.
func (c *child) waitLine(t *testing.T, prefix string) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		for line := range strings.Lines(c.stdout.String()) {
			if strings.HasPrefix(line, prefix) && strings.HasSuffix(line, "\n") {
				return strings.TrimSuffix(line, "\n")
			}
		}
		select {
		case <-c.exited:
			t.Fatalf("%v exited (%v) before printing %q:\n%s\n%s", c.args, c.err, prefix, c.stdout, c.stderr)
		default:
		}
	}
	t.Fatalf("%v did not print %q:\n%s", c.args, prefix, c.stdout)
	return ""
}

// runPublisher is the test binary run as a trainer: args are a store URL
// and a round. It trains round's model and, in mode "hold", stores it,
// prints "stored VERSION" and waits to be killed before it would promote
// it; in mode "publish" it prints "publishing" and publishes it, storing
// and promoting.
func runPublisher(mode string, args []string, out io.Writer) error {
	if len(args) != 2 {
		return fmt.Errorf("want a store URL and a round, got %q", args)
	}
	round, err := strconv.Atoi(args[1])
	if err != nil {
		return fmt.Errorf("round: %w", err)
	}
	o, err := classifier.DefaultTrainOptions().Apply(roundTrain.Overrides)
	if err != nil {
		return err
	}
	ctx := context.Background()
	m, err := classifier.Train(ctx, roundSamples(round), o)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	st, err := modelstore.Open(ctx, args[0])
	if err != nil {
		return err
	}
	defer st.Close()
	p, err := st.Active(ctx)
	if err != nil {
		return fmt.Errorf("active: %w", err)
	}
	switch mode {
	case "hold":
		mf, err := st.Put(ctx, m, p.Version)
		if err != nil {
			return fmt.Errorf("put: %w", err)
		}
		fmt.Fprintln(out, "stored", mf.Version)
		time.Sleep(time.Hour) // the test kills the process here
		return nil
	case "publish":
		fmt.Fprintln(out, "publishing")
		_, _, err := st.Publish(ctx, m, p)
		return err
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
}
