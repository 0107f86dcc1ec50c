package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/internal/testenv"
	"github.com/artclass/artclass/server"
)

// bigArticle writes a text article of about n bytes.
func bigArticle(t *testing.T, n int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "big.txt")
	body := strings.Repeat("Voters queued at polling stations as the election count began. ", n/64+1)
	if err := os.WriteFile(p, []byte("Long election report\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTextSizeIsTheClassifiersCall: remotely the server's limit decides,
// in-process --max-text-bytes does, and a JSONL line may be as long as the
// limit lets an article be.
func TestTextSizeIsTheClassifiersCall(t *testing.T) {
	const size = 5 << 20
	ts := testenv.StartServer(t, "127.0.0.1:0", server.Config{Limits: classifier.Limits{MaxTextBytes: 8 << 20},
		ServerOptions: []grpc.ServerOption{grpc.MaxRecvMsgSize(32 << 20)}})
	article := bigArticle(t, size)
	text, err := os.ReadFile(article)
	if err != nil {
		t.Fatal(err)
	}
	jsonl := filepath.Join(t.TempDir(), "big.jsonl")
	if err := os.WriteFile(jsonl, []byte(`{"id": "big", "text": "`+strings.TrimSpace(strings.ReplaceAll(string(text), "\n", " "))+`"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		wantErr string // in stderr; "" for success
	}{
		{"server with an 8 MiB limit", []string{"--addr", ts.Addr, article}, ""},
		{"server, JSONL line over 4 MiB", []string{"--addr", ts.Addr, jsonl}, ""},
		{"in-process default limit", []string{"--local", article}, "text: is 5"},
		{"in-process default limit, JSONL", []string{"--local", jsonl}, "text: is 5"},
		{"in-process raised limit", []string{"--local", "--max-text-bytes", "8388608", article}, ""},
		{"in-process raised limit, JSONL", []string{"--local", "--max-text-bytes", "8388608", jsonl}, ""},
		{"in-process, JSONL line over the limit", []string{"--local", "--max-text-bytes", "100000", jsonl}, "line is longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, err := runCLI(t, "", append([]string{"classify", "-o", "jsonl"}, tt.args...)...)
			if tt.wantErr == "" {
				if err != nil || !strings.Contains(out, `"labels":["elections"]`) {
					t.Fatalf("err %v, out %.200q, stderr %s", err, out, stderr)
				}
				return
			}
			if err == nil || !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("err %v, stderr %q; want %q", err, stderr, tt.wantErr)
			}
		})
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTrainSampleChecks: a sample without "labels" is an error naming file
// and line; a rare label is a warning naming its lines.
func TestTrainSampleChecks(t *testing.T) {
	dir := t.TempDir()
	good := writeSamples(t, dir)
	typo := writeFile(t, "typo.jsonl", `{"text": "Troops crossed the border", "labels": ["war"]}`+"\n"+`{"text": "Voters went to the polls", "label": ["vote"]}`+"\n")
	rare := writeFile(t, "rare.jsonl", `{"text": "Navy ships sailed", "labels": ["wars"]}`+"\n")

	_, _, err := runCLI(t, "", "train", "--data", typo, "--out", filepath.Join(dir, "m"))
	if err == nil || !strings.Contains(err.Error(), typo+`:2: invalid sample: "labels" is missing`) {
		t.Errorf("missing labels: %v", err)
	}
	_, stderr, err := runCLI(t, "", "eval", "--local", "--data", good, "--data", rare)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, `warning: label "wars" is used by 1 sample(s), fewer than 5 (`+rare+":1): a typo?") {
		t.Errorf("stderr lacks the rare label warning:\n%s", stderr)
	}
	if strings.Contains(stderr, `"war"`) {
		t.Errorf("a label with 6 samples is warned about:\n%s", stderr)
	}
}

// TestTrainOutGate: train --out refuses a model worse than its baseline
// unless --force, and an output directory it cannot write before training.
func TestTrainOutGate(t *testing.T) {
	dir := t.TempDir()
	data := writeSamples(t, dir)
	out := filepath.Join(dir, "m.model")
	args := []string{"train", "--data", data, "--min-df", "1", "--folds", "3"}

	_, _, err := runCLI(t, "", append(args, "--out", out)...)
	if err == nil || !strings.Contains(err.Error(), "below the baseline's") || strings.Count(err.Error(), "force") != 1 {
		t.Fatalf("a worse model than the embedded one: %v, want a refusal that says force once", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused model was written: %v", err)
	}
	if _, _, err := runCLI(t, "", append(args, "--out", out, "--force")...); err != nil {
		t.Fatalf("--force: %v", err)
	}
	// The same samples against their own model as the baseline pass.
	if _, _, err := runCLI(t, "", append(args, "--out", filepath.Join(dir, "again.model"), "--baseline", out)...); err != nil {
		t.Errorf("--baseline of an equal model: %v", err)
	}

	notDir := writeFile(t, "file", "x")
	_, stderr, err := runCLI(t, "", append(args, "--out", filepath.Join(notDir, "m.model"), "--force")...)
	if err == nil || !strings.Contains(err.Error(), "cannot write") || strings.Contains(err.Error(), ".artclass-write-check") {
		t.Errorf("unwritable output: %v", err)
	}
	if strings.Contains(stderr, "training on") {
		t.Errorf("it trained before finding the output unwritable:\n%s", stderr)
	}
}

// TestConnectionErrors: each way of not reaching a server says which it
// is; a malformed address is a usage error at once.
func TestConnectionErrors(t *testing.T) {
	pki := testenv.NewPKI(t)
	ts := testenv.StartServer(t, "127.0.0.1:0", server.Config{ServerOptions: []grpc.ServerOption{pki.ServerTLS(t, false)}})
	tests := []struct {
		name  string
		args  []string
		want  string
		usage bool
	}{
		{"URL", []string{"--addr", "http://localhost:50051"}, "not a http URL", true},
		{"no port", []string{"--addr", "localhost"}, "want host:port", true},
		{"unknown host", []string{"--addr", "no-such-host.invalid:50051"}, "cannot resolve the host of no-such-host.invalid:50051", false},
		{"nothing answers", []string{"--addr", "127.0.0.1:1"}, "cannot reach artclassd at 127.0.0.1:1: nothing answers", false},
		{"untrusted certificate", []string{"--addr", ts.Addr, "--tls"}, "TLS with " + ts.Addr + " failed", false},
		{"trusted certificate", []string{"--addr", ts.Addr, "--ca-file", pki.CAFile}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := runCLI(t, "", append([]string{"health", "--timeout", "10s"}, tt.args...)...)
			if tt.want == "" {
				if err != nil || out != "SERVING\n" {
					t.Fatalf("health = %q, %v", out, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			var u usageError
			if errors.As(err, &u) != tt.usage {
				t.Errorf("usage error %v, want %v", errors.As(err, &u), tt.usage)
			}
		})
	}
}

// TestEveryCommandReadsARTCLASS_ADDR: eval asks the server ARTCLASS_ADDR
// names, as classify and model do; --local still works in-process.
func TestEveryCommandReadsARTCLASS_ADDR(t *testing.T) {
	ts := testenv.StartServer(t, "127.0.0.1:0", server.Config{})
	t.Setenv("ARTCLASS_ADDR", ts.Addr)
	data := writeSamples(t, t.TempDir())
	for _, args := range [][]string{{"eval", "--data", data}, {"model"}, {"health"}} {
		before := ts.Calls()
		if _, stderr, err := runCLI(t, "", args...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, stderr)
		}
		if ts.Calls() == before {
			t.Errorf("%v did not ask the server of ARTCLASS_ADDR", args)
		}
	}
	before := ts.Calls()
	if _, _, err := runCLI(t, "", "model", "--local"); err != nil {
		t.Errorf("--local with ARTCLASS_ADDR set: %v", err)
	}
	if ts.Calls() != before {
		t.Error("--local asked the server")
	}
	t.Setenv("ARTCLASS_TOP_K", "x")
	if _, _, err := runCLI(t, "", "classify", "--local"); err == nil || !strings.Contains(err.Error(), "ARTCLASS_TOP_K (--top-k)") {
		t.Errorf("a bad variable: %v, want it named", err)
	}
}
