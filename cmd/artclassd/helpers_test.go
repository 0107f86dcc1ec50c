package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/client"
	"github.com/artclass/artclass/internal/testenv"
)

// beDaemon is the environment variable that makes the test binary run
// artclassd's main instead of the tests (see TestMain); bePublisher makes
// it a trainer that publishes to a store and can be killed halfway (see
// runPublisher in fleet_test.go).
const (
	beDaemon    = "ARTCLASSD_TEST_BE_DAEMON"
	bePublisher = "ARTCLASSD_TEST_BE_PUBLISHER"
)

// TestMain lets the test binary be artclassd: with beDaemon=1 it runs main
// with its arguments as artclassd's flags. The fault and fleet tests start,
// kill -9 and restart it as a child process, which needs no separate build
// and is the same code, race detector included.
func TestMain(m *testing.M) {
	switch {
	case os.Getenv(beDaemon) == "1":
		main()
		os.Exit(0)
	case os.Getenv(bePublisher) != "":
		if err := runPublisher(os.Getenv(bePublisher), os.Args[1:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "publisher:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// adminToken is the admin token of every test server.
const adminToken = "artclassd-test-admin-token-0123456789"

// writeToken writes adminToken to a file of the test and returns its path.
func writeToken(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(adminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// child is artclassd (or a publisher) running as a child process.
type child struct {
	args   []string
	cmd    *exec.Cmd
	stdout *testenv.Buffer // the JSON log
	stderr *testenv.Buffer
	exited chan struct{} // closed once the process has been waited for
	err    error         // its exit status, once exited is closed
	addr   string        // its gRPC address, once it listens
}

// spawn starts artclassd with args and does not wait for it. The ARTCLASS_*
// variables of the test's environment are left out, and env is added: the
// child's configuration is args and env alone. It serves no HTTP unless
// args ask for it, since the default port would be shared.
func spawn(t testing.TB, env []string, args ...string) *child {
	t.Helper()
	args = append([]string{"--listen", "127.0.0.1:0", "--http-listen", ""}, args...)
	return spawnProcess(t, append(env, beDaemon+"=1"), args)
}

// spawnProcess starts the test binary with env and args.
func spawnProcess(t testing.TB, env, args []string) *child {
	t.Helper()
	c := &child{args: args, stdout: new(testenv.Buffer), stderr: new(testenv.Buffer), exited: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ARTCLASS_") && !strings.HasPrefix(kv, "ARTCLASSD_TEST_") {
			c.cmd.Env = append(c.cmd.Env, kv)
		}
	}
	c.cmd.Env = append(c.cmd.Env, env...)
	c.cmd.Stdout, c.cmd.Stderr = c.stdout, c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		<-c.exited
	})
	return c
}

// startChild starts artclassd with args and waits until it listens.
func startChild(t testing.TB, args ...string) *child {
	t.Helper()
	c := spawn(t, nil, args...)
	c.addr = c.waitLog(t, "listening", 1)["grpc_addr"].(string)
	return c
}

// kill kills the child with SIGKILL and waits for it.
func (c *child) kill(t testing.TB) {
	t.Helper()
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	c.wait(t)
}

// logLines returns the JSON log lines in log whose msg is msg.
func logLines(log, msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == msg {
			out = append(out, line)
		}
	}
	return out
}

// waitLog waits for the n-th log line whose msg is msg and returns it. It
// fails at once if the child exits first.
func (c *child) waitLog(t testing.TB, msg string, n int) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if lines := logLines(c.stdout.String(), msg); len(lines) >= n {
			return lines[n-1]
		}
		select {
		case <-c.exited:
			if lines := logLines(c.stdout.String(), msg); len(lines) >= n {
				return lines[n-1]
			}
			t.Fatalf("%v exited (%v) before logging %q #%d\nstdout:\n%s\nstderr:\n%s", c.args, c.err, msg, n, c.stdout, c.stderr)
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v did not log %q #%d in 30 s:\n%s", c.args, msg, n, c.stdout)
		}
	}
}

// wait waits for the child to exit and returns its exit code.
func (c *child) wait(t testing.TB) int {
	t.Helper()
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("%v did not exit:\n%s", c.args, c.stdout)
	}
	var ee *exec.ExitError
	switch {
	case c.err == nil:
		return 0
	case errors.As(c.err, &ee):
		return ee.ExitCode()
	default:
		t.Fatalf("wait: %v", c.err)
		return -1
	}
}

// newClient returns a client of target, closed when the test ends. It
// carries the admin token, and gives up on a call after 10 s.
func newClient(t testing.TB, target string, opts ...client.Option) *client.Client {
	t.Helper()
	opts = append([]client.Option{client.WithToken(adminToken), client.WithInsecureToken(), client.WithTimeout(10 * time.Second)}, opts...)
	c, err := client.New(target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitServing polls health until it reports SERVING and returns how long
// that took.
func waitServing(t testing.TB, c *client.Client) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < 30*time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := c.Health(ctx)
		cancel()
		if err == nil && st == client.Serving {
			return time.Since(start)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("health never reported SERVING")
	return 0
}

// served returns what the server says it serves.
func served(t testing.TB, c *client.Client) client.ServedModel {
	t.Helper()
	m, err := c.GetModel(testenv.Context(t))
	if err != nil {
		t.Fatalf("GetModel: %v", err)
	}
	return m
}

// waitVersion waits until the server serves version v and, if store is
// set, its store's active version is v too. It fails after within and
// returns how long it took.
func waitVersion(t testing.TB, c *client.Client, v string, store bool, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		m, err := c.GetModel(testenv.Context(t))
		if err == nil && m.Version == v && (!store || m.StoreActiveVersion == v) {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("after %v the server serves %q with store_active_version %q (%v), want %s", within, m.Version, m.StoreActiveVersion, err, v)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// scrape returns the metrics page at url.
func scrape(t testing.TB, url string) string {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// article is what the tests classify.
var article = classifier.Article{
	Title: "Polls close",
	Text:  "Voters went to the polls on Sunday in a parliamentary election, and the ballot count was close.",
}

// roundSamples are short invented articles about two topics and about
// neither, plus one article only round i has, so that every round trains a
// model of its own version with the same quality.
func roundSamples(i int) []classifier.Sample {
	var out []classifier.Sample
	for j, s := range []string{
		"The striker scored twice as the club won the league match",
		"A late goal sealed the cup final for the visitors",
		"The tennis champion won the tournament final",
		"The goalkeeper saved a penalty in the semi final",
		"The runner set a record in the marathon",
		"The cyclist won the mountain stage of the race",
	} {
		out = append(out, classifier.Sample{Title: "Sport " + string(rune('a'+j)), Text: s, Labels: []string{"sport"}})
	}
	for _, s := range []string{
		"Heavy rain and strong winds are forecast for the coast",
		"A heatwave pushed temperatures above forty degrees",
		"Snow closed mountain roads as the storm moved east",
		"Forecasters warned of flooding after heavy rain",
		"Thunderstorms and hail are expected on Tuesday",
		"Fog and frost followed the cold front overnight",
	} {
		out = append(out, classifier.Sample{Text: s, Labels: []string{"weather"}})
	}
	for _, s := range []string{
		"The central bank held interest rates steady",
		"The museum opened an exhibition of photographs",
		"Parliament debated the budget for schools",
		"The company reported higher profits this year",
	} {
		out = append(out, classifier.Sample{Text: s, Labels: []string{}})
	}
	return append(out, classifier.Sample{
		Text:   fmt.Sprintf("The derby of round %d was won by marker%d after extra time", i, i),
		Labels: []string{"sport"},
	})
}

// samples streams ss to Train.
func samples(ss []classifier.Sample) client.Samples {
	return func(yield func(classifier.Sample) error) error {
		for _, s := range ss {
			if err := yield(s); err != nil {
				return err
			}
		}
		return nil
	}
}

// roundTrain are the Train options of every round: quick, and forced,
// since these small models are far worse than the embedded one and only
// races, not the quality gate, should decide which one is active.
var roundTrain = client.TrainOptions{
	Overrides: classifier.TrainOverrides{Algorithm: new(classifier.AlgorithmRocchio), MinDF: new(1), Folds: new(2)},
	Force:     true,
}

// roundModel trains round i's model in the test, as the server does with
// roundTrain: training is deterministic, so its version is the one the
// server's model gets.
func roundModel(t testing.TB, i int) *classifier.Model {
	t.Helper()
	o, err := classifier.DefaultTrainOptions().Apply(roundTrain.Overrides)
	if err != nil {
		t.Fatal(err)
	}
	m, err := classifier.Train(context.Background(), roundSamples(i), o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
