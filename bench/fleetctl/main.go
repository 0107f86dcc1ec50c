// Fleetctl drives and measures a fleet of artclassd replicas for
// scripts/fleet-demo.sh and bench/fleet.sh. It talks to the replicas through
// the Go client (round-robin over a comma-separated list of addresses,
// retrying UNAVAILABLE as any caller's client does) and to the model store
// through package modelstore.
//
// Usage:
//
//	fleetctl load -addr A,B,C [-c 4] [-d 10s] [-article FILE]
//	fleetctl watch -addr A,B,C -store URL [-timeout 10s | -for D] [-t0 UNIXNANO]
//	fleetctl active -store URL
//	fleetctl converge -addr A,B,C -store URL [-n 20] [-timeout 10s]
//
// load classifies one article with -c workers for -d (0: until SIGINT or
// SIGTERM) and prints one JSON line: calls, failed calls, the first failure,
// rate and latency percentiles.
//
// watch prints a timeline line (seconds since -t0, each replica's version)
// whenever what the replicas serve changes, until every replica serves the
// store's active version and names it as the store's; it exits 1 after
// -timeout. With -for it prints the changes for that long, whatever they
// are (a replica down, a store out of reach).
//
// active prints the store's active version and the one it replaced.
//
// converge stores a second small model if the store holds one version only,
// then makes -n promotions alternating between the two newest versions,
// each at a random moment, and measures for each the time from the
// promotion's write to the moment the slowest replica serves it. It prints
// one JSON line with every promotion's time and their distribution.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/client"
	"github.com/artclass/artclass/modelstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fleetctl:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("want a command: load, watch, active or converge")
	}
	fs := flag.NewFlagSet("fleetctl "+args[0], flag.ContinueOnError)
	addr := fs.String("addr", "", "the replicas' gRPC `ADDRESSES`, comma-separated")
	store := fs.String("store", "", "the model store's `URL`")
	workers := fs.Int("c", 4, "load: concurrent callers")
	duration := fs.Duration("d", 0, "load: how long to call; 0 until SIGINT or SIGTERM")
	articleFile := fs.String("article", "", "load: a text `FILE` to classify, its first line the title (default: a short built-in article)")
	timeout := fs.Duration("timeout", 10*time.Second, "watch, converge: the longest wait for the replicas to agree with the store")
	t0 := fs.Int64("t0", 0, "watch: the timeline's origin in Unix nanoseconds (default: now)")
	n := fs.Int("n", 20, "converge: promotions to make")
	watchFor := fs.Duration("for", 0, "watch: print the changes for this long instead of waiting for agreement")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	need := func(names ...string) error {
		for _, name := range names {
			if fs.Lookup(name).Value.String() == "" {
				return fmt.Errorf("%s needs -%s", args[0], name)
			}
		}
		return nil
	}
	switch args[0] {
	case "load":
		if err := need("addr"); err != nil {
			return err
		}
		if *workers < 1 {
			return fmt.Errorf("-c is %d; it must be 1 or more", *workers)
		}
		a, err := readArticle(*articleFile)
		if err != nil {
			return err
		}
		return load(ctx, *addr, a, *workers, *duration, stdout)
	case "watch":
		if err := need("addr", "store"); err != nil {
			return err
		}
		start := time.Now()
		if *t0 != 0 {
			start = time.Unix(0, *t0)
		}
		rs, err := replicas(*addr)
		if err != nil {
			return err
		}
		if *watchFor > 0 {
			return watch(ctx, rs, "", start, *watchFor, stdout)
		}
		st, p, err := openStore(ctx, *store)
		if err != nil {
			return err
		}
		st.Close()
		return watch(ctx, rs, p.Version, start, *timeout, stdout)
	case "active":
		if err := need("store"); err != nil {
			return err
		}
		st, p, err := openStore(ctx, *store)
		if err != nil {
			return err
		}
		st.Close()
		_, err = fmt.Fprintln(stdout, p.Version, p.Previous)
		return err
	case "converge":
		if err := need("addr", "store"); err != nil {
			return err
		}
		if *n < 1 {
			return fmt.Errorf("-n is %d; it must be 1 or more", *n)
		}
		rs, err := replicas(*addr)
		if err != nil {
			return err
		}
		return converge(ctx, *store, rs, *n, *timeout, stdout)
	default:
		return fmt.Errorf("unknown command %q; want load, watch, active or converge", args[0])
	}
}

// openStore opens the model store at url and reads its active pointer.
func openStore(ctx context.Context, url string) (*modelstore.Store, modelstore.Pointer, error) {
	st, err := modelstore.Open(ctx, url)
	if err != nil {
		return nil, modelstore.Pointer{}, err
	}
	p, err := st.Active(ctx)
	if err != nil {
		st.Close()
		return nil, modelstore.Pointer{}, fmt.Errorf("read the active version: %w", err)
	}
	return st, p, nil
}

// readArticle reads a text file whose first line is the title, or returns
// the built-in article.
func readArticle(path string) (classifier.Article, error) {
	if path == "" {
		return classifier.Article{
			Title: "Polls close in a tight parliamentary race",
			Text: "Voters queued at polling stations across the country on Sunday in a parliamentary election " +
				"that surveys called too close to predict. The ballot count began as polls closed, and both main " +
				"candidates urged supporters to wait for the official result before celebrating.",
		}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return classifier.Article{}, fmt.Errorf("read the article: %w", err)
	}
	title, text, _ := strings.Cut(string(data), "\n")
	return classifier.Article{Title: title, Text: text}, nil
}

// loadReport is the JSON line load prints.
type loadReport struct {
	Workers   int     `json:"workers"`
	Replicas  int     `json:"replicas"`
	Seconds   float64 `json:"seconds"`
	Calls     int     `json:"calls"`
	Failed    int     `json:"failed"`
	RPS       float64 `json:"rps"`
	P50ms     float64 `json:"p50_ms"`
	P99ms     float64 `json:"p99_ms"`
	FirstFail string  `json:"first_failure,omitempty"`
}

// load classifies a with workers callers through a round-robin client
// over addr until d has passed or ctx ends. The calls carry no deadline
// of the run's: one would reach the server as a shrinking grpc-timeout and
// fail the last calls with DEADLINE_EXCEEDED before the client's context
// says it has ended. Past d no call starts; a call cut short by ctx's end
// does not count.
func load(ctx context.Context, addr string, a classifier.Article, workers int, d time.Duration, stdout io.Writer) error {
	c, err := client.New(addr, client.WithTimeout(30*time.Second))
	if err != nil {
		return err
	}
	defer c.Close()
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		latencies []time.Duration
		failed    int
		firstFail string
	)
	start := time.Now()
	running := func() bool { return ctx.Err() == nil && (d == 0 || time.Since(start) < d) }
	for range workers {
		wg.Go(func() {
			var mine []time.Duration
			for running() {
				t := time.Now()
				_, err := c.Classify(ctx, a, classifier.Filter{})
				if ctx.Err() != nil {
					break
				}
				if err != nil {
					mu.Lock()
					failed++
					if firstFail == "" {
						firstFail = fmt.Sprintf("t+%.1fs: %v", time.Since(start).Seconds(), err)
					}
					mu.Unlock()
					continue
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	return json.NewEncoder(stdout).Encode(loadReport{
		Workers: workers, Replicas: len(strings.Split(addr, ",")), Seconds: elapsed.Seconds(),
		Calls: len(latencies) + failed, Failed: failed, RPS: float64(len(latencies)) / elapsed.Seconds(),
		P50ms: pct(0.50), P99ms: pct(0.99), FirstFail: firstFail,
	})
}

// replica is one replica's own client, so that each can be asked what it
// serves.
type replica struct {
	addr string
	c    *client.Client
}

func replicas(list string) ([]replica, error) {
	var out []replica
	for _, a := range strings.Split(list, ",") {
		// No retries and a short timeout: a replica that is down is
		// reported as down, not waited for.
		c, err := client.New(a, client.WithTimeout(time.Second), client.WithRetryPolicy(client.RetryPolicy{MaxAttempts: 1}))
		if err != nil {
			return nil, fmt.Errorf("-addr: %w", err)
		}
		out = append(out, replica{addr: a, c: c})
	}
	return out, nil
}

// state asks every replica what it serves: "down" for one that does not
// answer, the short version with "*" for one that does not yet name it as
// the store's active version.
func state(ctx context.Context, rs []replica) (desc []string, served, agreed []string) {
	desc, served, agreed = make([]string, len(rs)), make([]string, len(rs)), make([]string, len(rs))
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Go(func() {
			m, err := r.c.GetModel(ctx)
			switch {
			case err != nil:
				desc[i] = "down"
			case m.StoreActiveVersion != m.Version:
				desc[i] = short(m.Version) + "*"
			default:
				desc[i] = short(m.Version)
			}
			served[i], agreed[i] = m.Version, m.StoreActiveVersion
		})
	}
	wg.Wait()
	return desc, served, agreed
}

func short(v string) string { return v[:min(len(v), 8)] }

// watch prints a line each time the replicas' state changes, until every
// one serves want and names it as the store's active version, or, when
// want is empty, until timeout has passed.
func watch(ctx context.Context, rs []replica, want string, t0 time.Time, timeout time.Duration, stdout io.Writer) error {
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		desc, served, agreed := state(ctx, rs)
		line := ""
		for i, d := range desc {
			line += fmt.Sprintf("  r%d %-9s", i+1, d)
		}
		if line != last {
			fmt.Fprintf(stdout, "t+%5.1fs  %-50s%s\n", time.Since(t0).Seconds(), "", line)
			last = line
		}
		done := want != ""
		for i := range rs {
			done = done && served[i] == want && agreed[i] == want
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			if want == "" {
				return nil
			}
			return fmt.Errorf("the replicas do not all serve %s after %v", short(want), timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// convergeReport is the JSON line converge prints: seconds from each
// promotion to the slowest replica serving it.
type convergeReport struct {
	Promotions int       `json:"promotions"`
	Seconds    []float64 `json:"seconds"`
	Min        float64   `json:"min"`
	Median     float64   `json:"median"`
	P90        float64   `json:"p90"`
	Max        float64   `json:"max"`
}

// converge makes n promotions and times each until every replica serves
// it; see the package documentation.
func converge(ctx context.Context, url string, rs []replica, n int, timeout time.Duration, stdout io.Writer) error {
	st, p, err := openStore(ctx, url)
	if err != nil {
		return err
	}
	defer st.Close()
	list, err := st.List(ctx)
	if err != nil {
		return fmt.Errorf("list the store: %w", err)
	}
	if len(list) < 2 {
		m, err := smallModel(ctx)
		if err != nil {
			return err
		}
		mf, err := st.Put(ctx, m, p.Version)
		if err != nil {
			return fmt.Errorf("store a second version: %w", err)
		}
		list = append(list, mf)
	}
	pair := []string{list[len(list)-1].Version, list[len(list)-2].Version}
	var took []float64
	for i := range n {
		// A random moment, so that promotions fall anywhere in the
		// replicas' poll cycles.
		time.Sleep(time.Duration(rand.Int64N(int64(time.Second))))
		next := pair[i%2]
		if next == p.Version {
			next = pair[(i+1)%2]
		}
		if p, err = st.Promote(ctx, next, p); err != nil {
			return fmt.Errorf("promotion %d: %w", i+1, err)
		}
		promoted := time.Now()
		for {
			_, served, agreed := state(ctx, rs)
			if !slices.ContainsFunc(served, func(v string) bool { return v != next }) &&
				!slices.ContainsFunc(agreed, func(v string) bool { return v != next }) {
				break
			}
			if time.Since(promoted) > timeout {
				return fmt.Errorf("promotion %d: the replicas serve %v, not %s, after %v", i+1, served, next, timeout)
			}
			time.Sleep(5 * time.Millisecond)
		}
		took = append(took, time.Since(promoted).Seconds())
	}
	sorted := slices.Sorted(slices.Values(took))
	at := func(q float64) float64 { return sorted[int(q*float64(len(sorted)-1)+0.5)] }
	return json.NewEncoder(stdout).Encode(convergeReport{
		Promotions: n, Seconds: took, Min: sorted[0], Median: at(0.5), P90: at(0.9), Max: sorted[len(sorted)-1],
	})
}

// smallModel trains a quick model on a few invented articles, a version to
// alternate with.
func smallModel(ctx context.Context) (*classifier.Model, error) {
	var ss []classifier.Sample
	for _, s := range []string{"Troops crossed the border at dawn", "The army fired missiles at the base", "Soldiers and tanks moved north"} {
		ss = append(ss, classifier.Sample{Text: s, Labels: []string{"defence"}})
	}
	for _, s := range []string{"Voters queued at polling stations", "The ballot count was close", "The candidate conceded the election"} {
		ss = append(ss, classifier.Sample{Text: s, Labels: []string{"elections"}})
	}
	for _, s := range []string{"The bakery sold bread", "Shares rose on the market", "The museum opened a show"} {
		ss = append(ss, classifier.Sample{Text: s, Labels: []string{}})
	}
	o := classifier.DefaultTrainOptions()
	o.Algorithm, o.MinDF, o.Folds = classifier.AlgorithmRocchio, 1, 3
	m, err := classifier.Train(ctx, ss, o)
	if err != nil {
		return nil, fmt.Errorf("train a second model: %w", err)
	}
	return m, nil
}
