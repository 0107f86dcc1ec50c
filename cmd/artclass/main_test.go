package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/artclass/artclass/internal/testenv"
)

// runCLI runs the command line and returns its output and error.
func runCLI(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmdArgs := args
	// cobra reads standard input from the root command; tests feed it via -.
	err := run(context.Background(), cmdArgs, strings.NewReader(stdin), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// writeSamples writes testenv.WeakSamples into dir as JSONL.
func writeSamples(t *testing.T, dir string) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, s := range testenv.WeakSamples() {
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "samples.jsonl")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTrainEvalClassify(t *testing.T) {
	dir := t.TempDir()
	data := writeSamples(t, dir)
	model := filepath.Join(dir, "m.model")
	out, _, err := runCLI(t, "", "train", "--data", data, "--out", model, "--force", "--min-df", "1", "--folds", "3", "--created", "2026-01-01T00:00:00Z")
	if err != nil {
		t.Fatalf("train: %v", err)
	}
	if !strings.Contains(out, "macro-F1") || !strings.Contains(out, "written to "+model) {
		t.Errorf("train output lacks the report:\n%s", out)
	}

	out, _, err = runCLI(t, "", "eval", "--data", data, "--model", model, "-o", "json")
	if err != nil {
		t.Fatalf("eval: %v", err)
	}
	var rep struct {
		ModelVersion string                     `json:"model_version"`
		Data         []string                   `json:"data"`
		All          map[string]json.RawMessage `json:"all"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("eval -o json is not JSON: %v\n%s", err, out)
	}
	for _, k := range []string{"n", "micro_f1", "macro_f1", "exact_match", "hamming_loss", "ece", "per_label", "confusion"} {
		if _, ok := rep.All[k]; !ok {
			t.Errorf("eval -o json lacks key all.%s", k)
		}
	}
	for _, k := range []string{`"short": {`, `"long": {`, `"min_words": 300`} {
		if !strings.Contains(out, k) {
			t.Errorf("eval -o json lacks %s", k)
		}
	}
	if rep.ModelVersion == "" || len(rep.Data) != 1 || rep.Data[0] != data {
		t.Errorf("eval -o json: model_version %q data %v, want the model's version and [%s]", rep.ModelVersion, rep.Data, data)
	}

	article := filepath.Join(dir, "a.txt")
	os.WriteFile(article, []byte("Army under fire\nTroops shelled the town and a missile hit the army base.\n"), 0o644)
	out, _, err = runCLI(t, "", "classify", "--model", model, "-o", "json", article)
	if err != nil {
		t.Fatalf("classify: %v", err)
	}
	var results []struct {
		Source string   `json:"source"`
		Labels []string `json:"labels"`
		Topics []struct {
			Label      string  `json:"label"`
			Confidence float64 `json:"confidence"`
		} `json:"topics"`
		ModelVersion string `json:"model_version"`
	}
	if err := json.Unmarshal([]byte(out), &results); err != nil {
		t.Fatalf("classify -o json is not a JSON array: %v\n%s", err, out)
	}
	if len(results) != 1 || results[0].Source != article || len(results[0].Topics) != 2 || results[0].ModelVersion == "" {
		t.Fatalf("classify -o json = %+v", results)
	}
	if len(results[0].Labels) != 1 || results[0].Labels[0] != "war" {
		t.Errorf("labels = %v, want [war]", results[0].Labels)
	}
}

func TestClassifyLocalStdinJSONL(t *testing.T) {
	out, _, err := runCLI(t, "Polls close\nVoters queued at polling stations as the election count began.", "classify", "--local", "-o", "jsonl", "-")
	if err != nil {
		t.Fatalf("classify: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `"labels":["elections"]`) {
		t.Errorf("classify --local -o jsonl = %q, want one line assigning elections", out)
	}
}

func TestUsageAndInputErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"unknown command", []string{"frobnicate"}, true, "unknown command"},
		{"unknown flag", []string{"eval", "--nope"}, true, "unknown flag"},
		{"train without data", []string{"train", "--out", "x"}, true, "--data is required"},
		{"classify with --local and --model", []string{"classify", "--local", "--model", "m", "x.txt"}, true, "at most one of --local and --model"},
		{"classify with --addr and --local", []string{"classify", "--addr", "localhost:1", "--local", "x.txt"}, true, "give one"},
		{"classify bad output format", []string{"classify", "--local", "-o", "yaml"}, true, "-o must be table, json, jsonl or csv"},
		{"classify negative top-k", []string{"classify", "--local", "--top-k", "-1"}, true, "--top-k is -1"},
		{"classify bad min-confidence", []string{"classify", "--local", "--min-confidence", "1.5"}, true, "--min-confidence is 1.5"},
		{"classify bad include", []string{"classify", "--local", "--include", "[", "."}, true, "--include"},
		{"cert without key", []string{"health", "--cert", "c.pem"}, true, "--cert and --key go together"},
		{"remote train without token", []string{"train", "--data", "x.jsonl"}, true, "needs its admin token"},
		{"remote train with --created", []string{"train", "--data", "x.jsonl", "--created", "2026-01-01T00:00:00Z"}, true, "--created, --baseline and --no-activate are for training in-process"},
		{"local train with --addr", []string{"train", "--data", "x.jsonl", "--out", "m", "--addr", "localhost:1"}, true, "--out and --store train in-process"},
		{"model bad output", []string{"model", "--local", "-o", "csv"}, true, "-o must be table or json"},
		{"health with arguments", []string{"health", "x"}, true, "unknown command"},
		{"models list without token", []string{"models", "list"}, true, "needs the server's admin token"},
		{"models activate without version", []string{"models", "activate", "--token-file", "t"}, true, "accepts 1 arg(s)"},
		{"URL as address", []string{"classify", "--addr", "http://localhost:50051", "x.txt"}, true, "not a http URL"},
		{"zero text limit", []string{"classify", "--local", "--max-text-bytes", "0"}, true, "--max-text-bytes 0 must be at least 1"},
		{"server unreachable", []string{"health", "--addr", "127.0.0.1:1", "--timeout", "5s"}, false, "cannot reach artclassd at 127.0.0.1:1"},
		{"bad output format", []string{"eval", "--data", "x", "-o", "yaml"}, true, "-o must be table or json"},
		{"missing data file", []string{"eval", "--data", filepath.Join(dir, "none.jsonl")}, false, "no such file"},
		{"missing model file", []string{"classify", "--model", filepath.Join(dir, "none.model"), "-"}, false, "no such file"},
		{"missing input", []string{"classify", "--local", filepath.Join(dir, "none.txt")}, false, "1 of 1 inputs failed"},
		{"empty directory", []string{"classify", "--local", dir}, false, "no articles found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := runCLI(t, "", tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			var u usageError
			if errors.As(err, &u) != tc.usage {
				t.Errorf("usage error = %v, want %v", errors.As(err, &u), tc.usage)
			}
		})
	}
}
