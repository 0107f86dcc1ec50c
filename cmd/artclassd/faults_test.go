package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/artclass/artclass/classifier"
	artclassv1 "github.com/artclass/artclass/proto/artclass/v1"
	"github.com/artclass/artclass/server"
)

// beDaemon is the environment variable that makes the test binary run
// artclassd's main instead of the tests (see TestMain).
const beDaemon = "ARTCLASSD_TEST_BE_DAEMON"

// TestMain lets the test binary be artclassd: with beDaemon=1 it runs main
// with its arguments as artclassd's flags. The fault tests start, kill -9
// and restart it as a child process, which needs no separate build and is
// the same code, race detector included.
func TestMain(m *testing.M) {
	if os.Getenv(beDaemon) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child is artclassd running as a child process.
type child struct {
	cmd          *exec.Cmd
	stdout       *syncBuffer // the JSON log
	stderr       *syncBuffer
	exited       chan struct{} // closed once the process has been waited for
	err          error         // its exit status, once exited is closed
	addr         string        // its gRPC address, once it listens
	startupError bool          // whether it exited before listening
}

// spawn starts artclassd with args and does not wait for it. The ARTCLASS_*
// variables of the test's environment are left out: the child's
// configuration is args alone.
func spawn(t *testing.T, args ...string) *child {
	t.Helper()
	c := &child{stdout: new(syncBuffer), stderr: new(syncBuffer), exited: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], append([]string{"--listen", "127.0.0.1:0"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ARTCLASS_") && !strings.HasPrefix(kv, beDaemon+"=") {
			c.cmd.Env = append(c.cmd.Env, kv)
		}
	}
	c.cmd.Env = append(c.cmd.Env, beDaemon+"=1")
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
func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	c := spawn(t, args...)
	line := c.waitLog(t, "listening", 1)
	c.addr = line["grpc_addr"].(string)
	return c
}

// logLines returns the child's JSON log lines whose msg is msg.
func (c *child) logLines(msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(c.stdout.String()))
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
func (c *child) waitLog(t *testing.T, msg string, n int) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if lines := c.logLines(msg); len(lines) >= n {
			return lines[n-1]
		}
		select {
		case <-c.exited:
			if lines := c.logLines(msg); len(lines) >= n {
				return lines[n-1]
			}
			t.Fatalf("artclassd exited (%v) before logging %q #%d\nstdout:\n%s\nstderr:\n%s", c.err, msg, n, c.stdout, c.stderr)
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("artclassd did not log %q #%d in 20 s:\n%s", msg, n, c.stdout)
		}
	}
}

// wait waits for the child to exit and returns its exit code.
func (c *child) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-c.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("artclassd did not exit:\n%s", c.stdout)
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

func (c *child) client(t *testing.T) artclassv1.ClassifierServiceClient {
	t.Helper()
	conn := dial(t, c.addr, nil)
	waitServing(t, conn)
	return artclassv1.NewClassifierServiceClient(conn)
}

func activeVersion(t *testing.T, client artclassv1.ClassifierServiceClient) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := client.GetModel(ctx, &artclassv1.GetModelRequest{})
	if err != nil {
		t.Fatalf("GetModel: %v", err)
	}
	return resp.GetModel().GetVersion()
}

// tmpFiles lists the *.tmp files in dir.
func tmpFiles(t *testing.T, dir string) []string {
	t.Helper()
	tmps, err := filepath.Glob(filepath.Join(dir, "*.tmp"))
	if err != nil {
		t.Fatal(err)
	}
	return tmps
}

// roundSamples are trainSamples plus one article only round i has, so
// that every round trains a model of its own version.
func roundSamples(i int) []*artclassv1.Sample {
	return append(trainSamples(), &artclassv1.Sample{
		Text:   fmt.Sprintf("The derby of round %d was won by marker%d after extra time", i, i),
		Labels: []string{"sport"},
	})
}

// roundOptions are the Train options of every round, and killOptions the
// classifier options they come to on the server.
var roundOptions = &artclassv1.TrainOptions{Algorithm: "rocchio", MinDf: 1, Folds: 2, Force: true}

func killOptions() classifier.TrainOptions {
	o := classifier.DefaultTrainOptions()
	o.Algorithm, o.MinDF, o.Folds = classifier.AlgorithmRocchio, 1, 2
	return o
}

// expectedVersion trains round i's model in the test: training is
// deterministic, so this is the version the server's model gets if its
// file lands.
func expectedVersion(t *testing.T, i int) string {
	t.Helper()
	var samples []classifier.Sample
	for _, s := range roundSamples(i) {
		samples = append(samples, classifier.Sample{Title: s.GetTitle(), Text: s.GetText(), Labels: s.GetLabels()})
	}
	m, err := classifier.Train(context.Background(), samples, killOptions())
	if err != nil {
		t.Fatal(err)
	}
	return m.Version()
}

// TestKillDuringTrain kills artclassd with SIGKILL at random moments while
// Train runs and writes its model, 20 times, restarting it each time. Every
// restart must come up (no partial file is ever loaded), serve the last
// model whose file was complete, and have removed the *.tmp files the kill
// left. Half the kills are at a random time in the Train call, half just
// after a temporary file appears, when the model is being written.
func TestKillDuringTrain(t *testing.T) {
	t.Parallel()
	const rounds = 20
	dir := t.TempDir()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--model-dir", dir, "--admin-token-file", tokenFile}
	active := filepath.Join(dir, server.ActiveModelFile)
	def, err := classifier.Default()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 6))

	// lastComplete is the version of the model file in the directory: the
	// embedded model's until a Train's file lands.
	lastComplete := def.Version()
	var trainTook time.Duration // how long an uninterrupted Train takes
	var midWrite, landed, answered int
	for round := range rounds + 1 {
		// A leftover of every kind, besides whatever the last kill left.
		for _, name := range []string{".active.model.123456.tmp", "active.model.staged.tmp"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte("ARTCLSMD half a model"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		c := startChild(t, args...)
		if tmps := tmpFiles(t, dir); len(tmps) > 0 {
			t.Fatalf("round %d: temporary files left after the start: %v", round, tmps)
		}
		client := c.client(t)
		if got := activeVersion(t, client); got != lastComplete {
			t.Fatalf("round %d: the restart serves %s, want the last complete model %s", round, got, lastComplete)
		}
		source := c.waitLog(t, "model loaded", 1)["source"]
		if want := map[bool]string{true: active, false: "embedded"}[lastComplete != def.Version()]; source != want {
			t.Fatalf("round %d: model loaded from %v, want %s", round, source, want)
		}
		if round == rounds {
			// The last start only checks what the last kill left.
			if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if code := c.wait(t); code != 0 {
				t.Errorf("exit status %d after SIGTERM, want 0", code)
			}
			break
		}

		want := expectedVersion(t, round)
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer tok")
		trained := make(chan error, 1)
		began := time.Now()
		go func() {
			stream, err := client.Train(ctx)
			if err == nil {
				err = stream.Send(&artclassv1.TrainRequest{Options: roundOptions, Samples: roundSamples(round)})
			}
			if err == nil {
				var resp *artclassv1.TrainResponse
				resp, err = stream.CloseAndRecv()
				if err == nil && resp.GetModel().GetVersion() != want {
					err = fmt.Errorf("trained version %s, want %s", resp.GetModel().GetVersion(), want)
				}
			}
			trained <- err
		}()
		switch {
		case round == 0:
			// Measure an uninterrupted Train, then kill after it.
			if err := <-trained; err != nil {
				t.Fatalf("Train: %v", err)
			}
			trainTook = time.Since(began)
			trained <- nil
		case round%2 == 1:
			// At a random moment of the call.
			time.Sleep(time.Duration(rng.Int64N(int64(trainTook)*3/2 + 1)))
		default:
			// Just after the write starts.
		waitWrite:
			for time.Since(began) < 10*time.Second && len(tmpFiles(t, dir)) == 0 {
				select {
				case err := <-trained: // over before a file was seen
					trained <- err
					break waitWrite
				default:
				}
			}
			time.Sleep(time.Duration(rng.Int64N(int64(time.Millisecond))))
		}
		tmpsAtKill := tmpFiles(t, dir)
		if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		c.wait(t)
		if len(tmpsAtKill) > 0 {
			midWrite++
		}

		// Whatever the kill interrupted, the active file is a whole model:
		// the last complete one, or this round's if its rename happened.
		err := <-trained
		onDisk, lerr := classifier.LoadFile(active)
		switch {
		case lerr != nil && lastComplete == def.Version() && errors.Is(lerr, os.ErrNotExist):
			// No Train has landed yet.
		case lerr != nil:
			t.Fatalf("round %d: the active file after the kill does not load: %v", round, lerr)
		case onDisk.Version() == want:
			lastComplete = want
			landed++
		case onDisk.Version() != lastComplete:
			t.Fatalf("round %d: the active file holds version %s, neither this round's %s nor the last complete %s",
				round, onDisk.Version(), want, lastComplete)
		}
		if err == nil {
			answered++
			if lastComplete != want {
				t.Fatalf("round %d: Train answered OK but its model is not in the directory", round)
			}
		}
		t.Logf("round %2d: killed %v into Train (tmp files then: %d), Train: %v; active file: %s",
			round, time.Since(began).Round(100*time.Microsecond), len(tmpsAtKill), errSummary(err), lastComplete)
	}
	t.Logf("%d kills, %d while a temporary file was there; %d models landed, %d Train calls answered OK before the kill (Train alone takes %v)",
		rounds, midWrite, landed, answered, trainTook.Round(time.Millisecond))
	if midWrite == 0 {
		t.Errorf("no kill came while a model file was being written, so the test did not test that")
	}
}

func errSummary(err error) string {
	if err == nil {
		return "OK"
	}
	s := err.Error()
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return s
}

// corruptModels are ways a model file goes bad, made from a real one, and
// a part of the reason artclassd must give for each.
func corruptModels(t *testing.T) []struct {
	name, reason string
	data         []byte
} {
	t.Helper()
	def, err := classifier.Default()
	if err != nil {
		t.Fatal(err)
	}
	good, err := def.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/2] ^= 0x40
	newer := append([]byte(nil), good...)
	newer[8] = 99
	return []struct {
		name, reason string
		data         []byte
	}{
		{"empty", "truncated: 0 bytes", nil},
		{"truncated to half", "truncated: header announces", good[:len(good)/2]},
		{"truncated by one byte", "truncated: header announces", good[:len(good)-1]},
		{"header only", "truncated: header announces", good[:52]},
		{"one bit flipped", "checksum mismatch", flipped},
		{"trailing bytes", "trailing data", append(append([]byte(nil), good...), 0)},
		{"a newer format", "format version 99 is newer", newer},
		{"not a model", "bad magic", []byte("this is a text file, not a model\n")},
	}
}

// TestCorruptModelAtStart starts artclassd on each kind of broken model
// file, given with --model or found in --model-dir: it must exit with a
// non-zero status and one line on standard error that says why.
func TestCorruptModelAtStart(t *testing.T) {
	t.Parallel()
	for _, cm := range corruptModels(t) {
		for _, how := range []string{"--model", "--model-dir"} {
			t.Run(cm.name+" "+how, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				path := filepath.Join(dir, server.ActiveModelFile)
				if err := os.WriteFile(path, cm.data, 0o644); err != nil {
					t.Fatal(err)
				}
				arg := path
				if how == "--model-dir" {
					arg = dir
				}
				c := spawn(t, how, arg)
				if code := c.wait(t); code == 0 {
					t.Fatalf("exit status 0 with a broken model file; stderr:\n%s", c.stderr)
				}
				msg := c.stderr.String()
				if strings.Count(msg, "\n") != 1 || !strings.HasSuffix(msg, "\n") {
					t.Errorf("stderr is not one line:\n%s", msg)
				}
				if want := "artclassd: load model " + path + ": invalid model file: "; !strings.HasPrefix(msg, want) || !strings.Contains(msg, cm.reason) {
					t.Errorf("stderr %q, want %q… naming %q", msg, want, cm.reason)
				}
			})
		}
	}
}

// TestReloadCorruptModel sends SIGHUP to artclassd after each kind of
// damage to its model file: the old model keeps serving, and each failure
// is logged with its reason and counted on the metrics endpoint. A good
// file then reloads.
func TestReloadCorruptModel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	active := filepath.Join(dir, server.ActiveModelFile)
	def, err := classifier.Default()
	if err != nil {
		t.Fatal(err)
	}
	if err := def.WriteFile(active); err != nil {
		t.Fatal(err)
	}
	c := startChild(t, "--model-dir", dir, "--metrics-listen", "127.0.0.1:0")
	client := c.client(t)
	metricsURL := "http://" + c.waitLog(t, "serving metrics", 1)["metrics_addr"].(string) + "/metrics"

	hup := func() {
		t.Helper()
		if err := c.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	for i, cm := range corruptModels(t) {
		if err := os.WriteFile(active, cm.data, 0o644); err != nil {
			t.Fatal(err)
		}
		hup()
		line := c.waitLog(t, "reload failed; keeping the active model", i+1)
		if e, _ := line["err"].(string); !strings.Contains(e, cm.reason) || line["level"] != "ERROR" {
			t.Errorf("%s: the log line %v, want an ERROR naming %q", cm.name, line, cm.reason)
		}
		if want := fmt.Sprintf(`artclass_reload_total{result="failed"} %d`, i+1); !strings.Contains(scrapeURL(t, metricsURL), want) {
			t.Errorf("%s: metrics lack %s", cm.name, want)
		}
		if got := activeVersion(t, client); got != def.Version() {
			t.Fatalf("%s: serving %s after a failed reload, want the old %s", cm.name, got, def.Version())
		}
		if _, err := client.Classify(context.Background(), &artclassv1.ClassifyRequest{Text: article}); err != nil {
			t.Fatalf("%s: Classify after a failed reload: %v", cm.name, err)
		}
	}

	// A good, different model reloads.
	var samples []classifier.Sample
	for _, s := range trainSamples() {
		samples = append(samples, classifier.Sample{Title: s.GetTitle(), Text: s.GetText(), Labels: s.GetLabels()})
	}
	m, err := classifier.Train(context.Background(), samples, killOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.WriteFile(active); err != nil {
		t.Fatal(err)
	}
	hup()
	waitVersion(t, client, m.Version())
	if body := scrapeURL(t, metricsURL); !strings.Contains(body, `artclass_reload_total{result="ok"} 1`) {
		t.Errorf("metrics lack the good reload")
	}
}

func scrapeURL(t *testing.T, url string) string {
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
