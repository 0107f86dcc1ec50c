package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/server"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var defaultModel = sync.OnceValues(classifier.Default)

// testServer is an artclass server on a loopback port.
type testServer struct {
	srv    *server.Server
	addr   string
	served chan error
}

// startServer serves cfg (the embedded model unless cfg says otherwise) on
// addr until stop or the end of the test.
func startServer(t *testing.T, addr string, cfg server.Config) *testServer {
	t.Helper()
	if cfg.Model == nil {
		m, err := defaultModel()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Model = m
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var lis net.Listener
	for i := 0; ; i++ { // a port just given up may take a moment to bind again
		if lis, err = net.Listen("tcp", addr); err == nil || i == 100 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{srv: srv, addr: lis.Addr().String(), served: make(chan error, 1)}
	go func() { ts.served <- srv.Serve(lis) }()
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = ts.srv.Shutdown(ctx)
	err := <-ts.served
	ts.served <- err
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// articleInputs are the inputs of the golden tests: two text files, a
// directory holding another (and a .md file that is not taken), and a JSONL
// file with a blank line.
var articleInputs = []string{"testdata/articles/border.txt", "testdata/articles/ballot.txt", "testdata/articles/more", "testdata/articles/feed.jsonl"}

// TestClassifyGolden classifies the same inputs through a server and
// in-process in every output format: the outputs match the golden files and
// each other.
func TestClassifyGolden(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0", server.Config{})
	tests := []struct {
		golden string
		args   []string
	}{
		{"classify.table.golden", []string{"--explain"}},
		{"classify.json.golden", []string{"-o", "json", "--top-k", "2"}},
		{"classify.jsonl.golden", []string{"-o", "jsonl", "--min-confidence", "0.01", "--explain"}},
		{"classify.csv.golden", []string{"-o", "csv", "--explain"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			t.Parallel()
			args := append(append([]string{"classify", "--addr", ts.addr}, tt.args...), articleInputs...)
			remote, stderr, err := runCLI(t, "", args...)
			if err != nil {
				t.Fatalf("classify: %v\n%s", err, stderr)
			}
			if stderr != "" {
				t.Errorf("stderr is not empty (no terminal, so no progress bar):\n%q", stderr)
			}
			if strings.Contains(remote, "\x1b[") {
				t.Errorf("colour codes in output that is not a terminal:\n%q", remote)
			}
			golden(t, tt.golden, remote)

			args = append(append([]string{"classify", "--local", "-j", "3", "--batch-size", "2"}, tt.args...), articleInputs...)
			local, _, err := runCLI(t, "", args...)
			if err != nil {
				t.Fatalf("classify --local: %v", err)
			}
			if local != remote {
				t.Errorf("in-process output differs from the server's:\n%s\nserver:\n%s", local, remote)
			}
		})
	}
}

// TestClassifyFailuresGoOn: inputs that cannot be read or classified are
// reported on stderr, one line each, and the rest are classified in order.
func TestClassifyFailuresGoOn(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0", server.Config{MaxTextBytes: 4096})
	dir := t.TempDir()
	jsonl := filepath.Join(dir, "mixed.jsonl")
	lines := []string{
		`{"title": "Polls", "text": "Voters went to the polls in the election."}`,
		`{"title": "broken"`,
		`{"title": "Blank", "text": "   "}`,
		`{"text": "` + strings.Repeat("long ", 1000) + `"}`,
		`{"text": "Troops and tanks moved to the border."}`,
	}
	if err := os.WriteFile(jsonl, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runCLI(t, "", "classify", "--addr", ts.addr, "-o", "jsonl", "--batch-size", "2",
		jsonl, filepath.Join(dir, "missing.txt"), "testdata/articles/ballot.txt")
	if err == nil || err.Error() != "4 of 7 inputs failed" {
		t.Fatalf("error %v, want 4 of 7 inputs failed", err)
	}
	var u usageError
	if errors.As(err, &u) {
		t.Error("input failures are not a usage error")
	}
	wantErr := []string{
		jsonl + "#2: invalid JSON",
		jsonl + "#3: invalid argument: text: is empty or only white space",
		jsonl + "#4: invalid argument: text: is 5000 bytes; the limit is 4096 bytes",
		filepath.Join(dir, "missing.txt") + ": no such file or directory",
	}
	errLines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(errLines) != len(wantErr) {
		t.Fatalf("stderr has %d lines, want %d:\n%s", len(errLines), len(wantErr), stderr)
	}
	for i, w := range wantErr {
		if !strings.HasPrefix(errLines[i], "artclass: "+w) {
			t.Errorf("stderr line %d = %q, want it to start with %q", i, errLines[i], "artclass: "+w)
		}
	}
	var sources []string
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		_, rest, _ := strings.Cut(l, `"source":"`)
		src, _, _ := strings.Cut(rest, `"`)
		sources = append(sources, src)
	}
	if want := []string{jsonl + "#1", jsonl + "#5", "testdata/articles/ballot.txt"}; !reflect.DeepEqual(sources, want) {
		t.Errorf("classified %v, want %v", sources, want)
	}
}

// TestClassifyManyInputsNoTerminal: with many inputs but stderr and stdout
// not terminals, there is no progress bar and no colour.
func TestClassifyManyInputsNoTerminal(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0", server.Config{})
	dir := t.TempDir()
	for i := range 2 * progressFiles {
		text := fmt.Sprintf("Article %d\nVoters went to the polls in election number %d.\n", i, i)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("a%03d.txt", i)), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stdout, stderr, err := runCLI(t, "", "classify", "--addr", ts.addr, dir)
	if err != nil {
		t.Fatal(err)
	}
	if stderr != "" {
		t.Errorf("stderr = %.200q, want nothing", stderr)
	}
	if strings.Contains(stdout, "\x1b[") || strings.Contains(stdout, "\r") {
		t.Errorf("terminal control codes in stdout: %.200q", stdout)
	}
	if n := strings.Count(stdout, "a0"); n != 2*progressFiles {
		t.Errorf("%d text files classified, want %d", n, 2*progressFiles)
	}
}

// TestClassifyStdin reads JSONL and text from standard input.
func TestClassifyStdin(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0", server.Config{})
	tests := []struct {
		name, stdin string
		want        []string
	}{
		{"text", "Polls close\nVoters queued at polling stations as the election count began.\n", []string{`"source":"-"`, `"labels":["elections"]`}},
		{"jsonl", "\n  " + `{"text": "Voters queued at polling stations as the election count began."}` + "\n" + `{"text": "Troops and tanks moved to the border."}`, []string{`"source":"-#1"`, `"source":"-#2"`, `"labels":["defence"]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("ARTCLASS_ADDR", ts.addr) // the default of --addr
			out, stderr, err := runCLI(t, tt.stdin, "classify", "-o", "jsonl")
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %s:\n%s", w, out)
				}
			}
		})
	}
}

// TestRestartedServerIsRetried stops the server and starts another on the
// same port while classify runs over and over: no run fails.
func TestRestartedServerIsRetried(t *testing.T) {
	first := startServer(t, "127.0.0.1:0", server.Config{})
	addr := first.addr
	dir := t.TempDir()
	var b strings.Builder
	for i := range 300 {
		fmt.Fprintf(&b, `{"text": "Voters went to the polls in election %d."}`+"\n", i)
	}
	input := filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(input, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	restarted := make(chan struct{})
	go func() {
		time.Sleep(50 * time.Millisecond)
		first.stop()
		time.Sleep(50 * time.Millisecond) // runs meanwhile find no server
		startServer(t, addr, server.Config{})
		close(restarted)
	}()
	runs := 0
	for deadline := time.Now().Add(20 * time.Second); ; runs++ {
		out, stderr, err := runCLI(t, "", "classify", "--addr", addr, "-o", "jsonl", "--batch-size", "10", "-j", "2", input)
		if err != nil {
			t.Fatalf("run %d: %v\n%s", runs, err, stderr)
		}
		if n := strings.Count(out, "\n"); n != 300 {
			t.Fatalf("run %d: %d results, want 300", runs, n)
		}
		select {
		case <-restarted:
			if runs > 0 {
				t.Logf("%d runs across the restart", runs+1)
				return
			}
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the server was not restarted in time")
		}
	}
}

func TestEvalReport(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0", server.Config{})
	data := filepath.Join("..", "..", "testdata", "corpus", "elections.jsonl")
	negatives := filepath.Join("..", "..", "testdata", "corpus", "negatives-hard.jsonl")
	dir := t.TempDir()
	remote, stderr, err := runCLI(t, "", "eval", "--addr", ts.addr, "--data", data, "--data", negatives, "--report", dir)
	if err != nil {
		t.Fatalf("eval: %v\n%s", err, stderr)
	}
	local, _, err := runCLI(t, "", "eval", "--data", data, "--data", negatives)
	if err != nil {
		t.Fatal(err)
	}
	if remote != local {
		t.Errorf("eval through the server:\n%s\nin-process:\n%s", remote, local)
	}
	for _, name := range []string{confusionFile, reliabilityFile} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Errorf("%s is not a PNG: %v", name, err)
			continue
		}
		if b := img.Bounds(); b.Dx() < 200 || b.Dy() < 200 {
			t.Errorf("%s is %v, too small", name, b)
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, reportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| elections |", "macro-F1", "](" + confusionFile + ")", "](" + reliabilityFile + ")"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
}

// TestEvaluationMatchesClassifier: the report eval computes from a
// backend's answers is classifier.Evaluate's to the last bit.
func TestEvaluationMatchesClassifier(t *testing.T) {
	m, err := defaultModel()
	if err != nil {
		t.Fatal(err)
	}
	var samples []classifier.Sample
	for _, p := range classifier.DefaultCorpus {
		s, err := classifier.ReadSamplesFile(filepath.Join("..", "..", p))
		if err != nil {
			t.Fatal(err)
		}
		samples = append(samples, s...)
	}
	// Labels the model does not know are ignored by both.
	samples = append(samples, classifier.Sample{Text: "Shares rose at the bank.", Labels: []string{"finance"}})
	ev, err := evaluate(context.Background(), &local{m: m}, samples)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ev.report(), classifier.Evaluate(m, samples); !reflect.DeepEqual(got, want) {
		t.Errorf("report\n%+v\nwant classifier.Evaluate's\n%+v", got, want)
	}
	cm := ev.confusion()
	if len(cm.names) != len(m.Labels())+1 || cm.names[len(cm.names)-1] != "none" {
		t.Errorf("confusion matrix names %v", cm.names)
	}
}

func TestTrainOnServer(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, "127.0.0.1:0", server.Config{AdminToken: "s3cret", ModelDir: t.TempDir()})
	data := writeSamples(t, t.TempDir())
	args := []string{"train", "--addr", ts.addr, "--token-file", tokenFile, "--data", data, "--min-df", "1", "--folds", "3"}

	_, _, err := runCLI(t, "", args...)
	if err == nil || !strings.Contains(err.Error(), "model quality regression") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("training a worse model: %v, want a quality regression that mentions --force", err)
	}
	out, stderr, err := runCLI(t, "", append(args, "--force", "--l2", "0.001", "--seed", "7")...)
	if err != nil {
		t.Fatalf("train --force: %v\n%s", err, stderr)
	}
	for _, want := range []string{"on 18 samples", "it is active", "it replaced", "macro-F1"} {
		if !strings.Contains(out, want) {
			t.Errorf("train output lacks %q:\n%s", want, out)
		}
	}
	out, _, err = runCLI(t, "", "model", "--addr", ts.addr, "-o", "json")
	if err != nil || !strings.Contains(out, `"war"`) || !strings.Contains(out, `"l2": 0.001`) || !strings.Contains(out, `"seed": 7`) {
		t.Errorf("model after training with --l2 0.001 --seed 7: %v\n%s", err, out)
	}

	wrong := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrong, []byte("nope"), 0o600)
	_, _, err = runCLI(t, "", "train", "--addr", ts.addr, "--token-file", wrong, "--data", data)
	if err == nil || !strings.Contains(err.Error(), "unauthenticated") {
		t.Errorf("a wrong token: %v, want unauthenticated", err)
	}
}

func TestModelAndHealth(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0", server.Config{})
	for _, format := range []string{"table", "json"} {
		remote, _, err := runCLI(t, "", "model", "--addr", ts.addr, "-o", format)
		if err != nil {
			t.Fatal(err)
		}
		local, _, err := runCLI(t, "", "model", "--local", "-o", format)
		if err != nil {
			t.Fatal(err)
		}
		if remote != local {
			t.Errorf("-o %s: the server's model\n%s\nthe embedded model\n%s", format, remote, local)
		}
	}
	out, _, err := runCLI(t, "", "health", "--addr", ts.addr)
	if err != nil || out != "SERVING\n" {
		t.Errorf("health = %q, %v; want SERVING", out, err)
	}
	ts.stop()
	_, _, err = runCLI(t, "", "health", "--addr", ts.addr, "--timeout", "5s")
	if err == nil || !strings.Contains(err.Error(), "cannot reach artclassd") {
		t.Errorf("health of a stopped server: %v", err)
	}
}

// TestHelpVersionCompletion: every command has help with examples, and
// --version and completion work.
func TestHelpVersionCompletion(t *testing.T) {
	for _, cmd := range []string{"classify", "eval", "train", "model", "health"} {
		out, _, err := runCLI(t, "", cmd, "--help")
		if err != nil || !strings.Contains(out, "Examples:") || !strings.Contains(out, "artclass "+cmd) {
			t.Errorf("%s --help: %v\n%s", cmd, err, out)
		}
	}
	out, _, err := runCLI(t, "", "--version")
	if err != nil || !strings.HasPrefix(out, "artclass ") || !strings.Contains(out, "go1.") {
		t.Errorf("--version = %q, %v", out, err)
	}
	out, _, err = runCLI(t, "", "completion", "bash")
	if err != nil || !strings.Contains(out, "bash completion") {
		t.Errorf("completion bash: %v\n%.200s", err, out)
	}
}
