package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/evalreport"
	"github.com/artclass/artclass/internal/testenv"
	"github.com/artclass/artclass/server"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

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
	ts := testenv.StartServer(t, "127.0.0.1:0", server.Config{})
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
			args := append(append([]string{"classify", "--addr", ts.Addr}, tt.args...), articleInputs...)
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
	ts := testenv.StartServer(t, "127.0.0.1:0", server.Config{Limits: classifier.Limits{MaxTextBytes: 4096}})
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
	stdout, stderr, err := runCLI(t, "", "classify", "--addr", ts.Addr, "-o", "jsonl", "--batch-size", "2",
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
	ts := testenv.StartServer(t, "127.0.0.1:0", server.Config{})
	dir := t.TempDir()
	for i := range 2 * progressFiles {
		text := fmt.Sprintf("Article %d\nVoters went to the polls in election number %d.\n", i, i)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("a%03d.txt", i)), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stdout, stderr, err := runCLI(t, "", "classify", "--addr", ts.Addr, dir)
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
	ts := testenv.StartServer(t, "127.0.0.1:0", server.Config{})
	tests := []struct {
		name, stdin string
		want        []string
	}{
		{"text", "Polls close\nVoters queued at polling stations as the election count began.\n", []string{`"source":"-"`, `"labels":["elections"]`}},
		{"jsonl", "\n  " + `{"text": "Voters queued at polling stations as the election count began."}` + "\n" + `{"text": "Troops and tanks moved to the border."}`, []string{`"source":"-#1"`, `"source":"-#2"`, `"labels":["defence"]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("ARTCLASS_ADDR", ts.Addr) // the default of --addr
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
	first := testenv.StartServer(t, "127.0.0.1:0", server.Config{})
	addr := first.Addr
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
		first.Stop()
		time.Sleep(50 * time.Millisecond) // runs meanwhile find no server
		testenv.StartServer(t, addr, server.Config{})
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
	ts := testenv.StartServer(t, "127.0.0.1:0", server.Config{})
	data := filepath.Join("..", "..", "testdata", "corpus", "elections.jsonl")
	negatives := filepath.Join("..", "..", "testdata", "corpus", "negatives-hard.jsonl")
	dir := t.TempDir()
	remote, stderr, err := runCLI(t, "", "eval", "--addr", ts.Addr, "--data", data, "--data", negatives, "--report", dir)
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
	// evalreport's tests check the plots; here they only have to be there.
	for _, name := range []string{evalreport.ConfusionFile, evalreport.ReliabilityFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, evalreport.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| elections |", "macro-F1", "](" + evalreport.ConfusionFile + ")", "](" + evalreport.ReliabilityFile + ")"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
}

// TestEvaluationMatchesClassifier: the report eval computes from a
// backend's answers is classifier.Evaluate's to the last bit.
func TestEvaluationMatchesClassifier(t *testing.T) {
	m := testenv.DefaultModel(t)
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
	ev, err := evaluate(context.Background(), &local{m: m, limits: classifier.DefaultLimits()}, samples)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ev.All, classifier.Evaluate(m, samples); !reflect.DeepEqual(got, want) {
		t.Errorf("report\n%+v\nwant classifier.Evaluate's\n%+v", got, want)
	}
	if got, want := ev.LengthReport, classifier.EvaluateByLength(m, samples, classifier.LongArticleWords); !reflect.DeepEqual(got, want) {
		t.Errorf("short and long reports differ from classifier.EvaluateByLength's")
	}
	cm := ev.All.Confusion
	if cm == nil || len(cm.Names) != len(m.Labels())+1 || cm.Names[len(cm.Names)-1] != "none" {
		t.Errorf("confusion matrix %+v", cm)
	}
}

func TestTrainOnServer(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	const token = "0123456789abcdef0123456789abcdef"
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, _ := testenv.NewStore(t, testenv.DefaultModel(t))
	ts := testenv.StartServer(t, "127.0.0.1:0", server.Config{AdminToken: token, Store: st})
	data := writeSamples(t, t.TempDir())
	args := []string{"train", "--addr", ts.Addr, "--token-file", tokenFile, "--data", data, "--min-df", "1", "--folds", "3"}

	_, _, err := runCLI(t, "", args...)
	if err == nil || !strings.Contains(err.Error(), "model quality regression") || strings.Count(err.Error(), "force") != 1 {
		t.Fatalf("training a worse model: %v, want a quality regression that says --force once", err)
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
	out, _, err = runCLI(t, "", "model", "--addr", ts.Addr, "-o", "json")
	if err != nil || !strings.Contains(out, `"war"`) || !strings.Contains(out, `"l2": 0.001`) || !strings.Contains(out, `"seed": 7`) {
		t.Errorf("model after training with --l2 0.001 --seed 7: %v\n%s", err, out)
	}

	out, _, err = runCLI(t, "", "models", "list", "--addr", ts.Addr, "--token-file", tokenFile)
	if err != nil || strings.Count(out, "\n") != 3 || !strings.Contains(out, "* ") {
		t.Errorf("models list: %v\n%s", err, out)
	}
	def := testenv.DefaultModel(t).Version()
	out, _, err = runCLI(t, "", "models", "activate", def, "--addr", ts.Addr, "--token-file", tokenFile)
	if err != nil || !strings.Contains(out, "model "+def+" is active") {
		t.Errorf("models activate: %v\n%s", err, out)
	}

	wrong := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrong, []byte("not-the-token-but-long-enough"), 0o600)
	_, _, err = runCLI(t, "", "train", "--addr", ts.Addr, "--token-file", wrong, "--data", data)
	if err == nil || !strings.Contains(err.Error(), "unauthenticated") {
		t.Errorf("a wrong token: %v, want unauthenticated", err)
	}
}

func TestModelAndHealth(t *testing.T) {
	ts := testenv.StartServer(t, "127.0.0.1:0", server.Config{})
	remote, _, err := runCLI(t, "", "model", "--addr", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	local, _, err := runCLI(t, "", "model", "--local")
	if err != nil {
		t.Fatal(err)
	}
	if remote != local {
		t.Errorf("the server's model\n%s\nthe embedded model\n%s", remote, local)
	}
	if !strings.Contains(local, "thresholds  ") || !strings.Contains(local, "below 0.5") {
		t.Errorf("model does not show the thresholds and why they matter:\n%s", local)
	}
	// JSON: a model file describes itself in full, the API carries less;
	// what both carry is the same.
	var views [2]struct {
		Version    string             `json:"version"`
		Labels     []string           `json:"labels"`
		Thresholds map[string]float64 `json:"thresholds"`
		CV         classifier.Report  `json:"cv"`
	}
	for i, args := range [][]string{{"--addr", ts.Addr}, {"--local"}} {
		out, _, err := runCLI(t, "", append([]string{"model", "-o", "json"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(out), &views[i]); err != nil {
			t.Fatal(err)
		}
	}
	m := testenv.DefaultModel(t)
	if !reflect.DeepEqual(views[0].Thresholds, m.Thresholds()) || views[0].Version != views[1].Version ||
		!reflect.DeepEqual(views[0].Thresholds, views[1].Thresholds) || views[0].CV.MacroF1 != views[1].CV.MacroF1 {
		t.Errorf("model -o json: server %+v, embedded %+v", views[0], views[1])
	}
	out, _, err := runCLI(t, "", "health", "--addr", ts.Addr)
	if err != nil || out != "SERVING\n" {
		t.Errorf("health = %q, %v; want SERVING", out, err)
	}
	ts.Stop()
	_, _, err = runCLI(t, "", "health", "--addr", ts.Addr, "--timeout", "5s")
	if err == nil || !strings.Contains(err.Error(), "cannot reach artclassd") {
		t.Errorf("health of a stopped server: %v", err)
	}
}

// TestHelpVersionCompletion: every command has help with examples, and
// --version and completion work.
func TestHelpVersionCompletion(t *testing.T) {
	for _, cmd := range []string{"classify", "eval", "train", "model", "models", "health"} {
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

// TestTrainIntoStore trains in-process into a model store, lists it and
// rolls back, with no server.
func TestTrainIntoStore(t *testing.T) {
	_, url := testenv.NewStore(t, testenv.DefaultModel(t))
	def := testenv.DefaultModel(t).Version()
	data := writeSamples(t, t.TempDir())
	args := []string{"train", "--data", data, "--min-df", "1", "--folds", "3", "--store", url}

	_, _, err := runCLI(t, "", args...)
	if err == nil || !strings.Contains(err.Error(), "the store's active version") || strings.Count(err.Error(), "force") != 1 {
		t.Fatalf("a worse model than the store's: %v", err)
	}
	out, _, err := runCLI(t, "", append(args, "--no-activate")...)
	if err != nil || !strings.Contains(out, def+" is still active") {
		t.Fatalf("--no-activate: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, "", append(args, "--force")...)
	if err != nil || !strings.Contains(out, "and active") {
		t.Fatalf("--force: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, "", "models", "list", "--store", url, "-o", "json")
	if err != nil || strings.Count(out, `"active": true`) != 1 || strings.Count(out, `"sha256"`) != 2 {
		t.Errorf("models list --store: %v\n%s", err, out)
	}
	// Newest first, as a server lists them: the embedded model was stored first.
	if i := strings.Index(out, `"version": "`+def); i < 0 || strings.Count(out[:i], `"version"`) != 1 {
		t.Errorf("models list --store does not list %s last:\n%s", def, out)
	}
	out, _, err = runCLI(t, "", "models", "activate", def, "--store", url)
	if err != nil || !strings.Contains(out, "model "+def+" is active") {
		t.Errorf("models activate --store: %v\n%s", err, out)
	}
	if _, _, err := runCLI(t, "", "models", "list", "--store", url, "--addr", "localhost:1"); err == nil || !strings.Contains(err.Error(), "give one") {
		t.Errorf("--store with --addr: %v", err)
	}
}
