package client_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/client"
	"github.com/artclass/artclass/internal/testenv"
	"github.com/artclass/artclass/server"
)

const idlibText = "Syrian government warplanes bombed towns in Idlib province on Tuesday, killing fighters and civilians, as troops pushed north towards the Turkish border."

// TestFilteredResultKeepsLabels classifies an article with two labels
// through a server and in-process with the same filters: the remote Result
// has the same topics and the same Labels, which no filter cuts.
func TestFilteredResultKeepsLabels(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t, "127.0.0.1:0", server.Config{})
	c := newClient(t, ts.Addr)
	m := testenv.DefaultModel(t)
	a := classifier.Article{Title: "Air strikes hit rebel-held Idlib", Text: idlibText}
	whole := m.Classify(a.Title, a.Text)
	if len(whole.Labels()) < 2 {
		t.Fatalf("the article has labels %v; the test needs two", whole.Labels())
	}
	tests := []struct {
		name string
		f    classifier.Filter
	}{
		{"no filter", classifier.Filter{}},
		{"top 1", classifier.Filter{TopK: 1}},
		{"above every confidence", classifier.Filter{MinConfidence: 1}},
		{"min confidence 0.5 and top 3", classifier.Filter{MinConfidence: 0.5, TopK: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := whole.Filter(tt.f)
			got, err := c.Classify(testenv.Context(t), a, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Labels(), want.Labels()) {
				t.Errorf("labels %v, want %v", got.Labels(), want.Labels())
			}
			if len(got.Topics) != len(want.Topics) {
				t.Fatalf("%d topics, want %d", len(got.Topics), len(want.Topics))
			}
			for i := range want.Topics {
				if got.Topics[i].Label != want.Topics[i].Label || got.Topics[i].Confidence != want.Topics[i].Confidence {
					t.Errorf("topic %d = %+v, want %+v", i, got.Topics[i], want.Topics[i])
				}
			}
			if got.Coverage != want.Coverage || got.Warning != want.Warning || got.ModelVersion != m.Version() {
				t.Errorf("coverage %+v warning %v version %s, want %+v %v %s", got.Coverage, got.Warning, got.ModelVersion, want.Coverage, want.Warning, m.Version())
			}
		})
	}
}

// TestInvalidErrorsMatchInProcess checks that a bad article fails with the
// same classifier.InvalidError through every call as CheckArticle gives
// in-process.
func TestInvalidErrorsMatchInProcess(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t, "127.0.0.1:0", server.Config{})
	c := newClient(t, ts.Addr)
	bad := classifier.Article{ID: "x", Title: "\xff", Text: " "}
	local := classifier.DefaultLimits().CheckArticle(bad)
	var want *classifier.InvalidError
	if !errors.As(local, &want) {
		t.Fatalf("CheckArticle = %v", local)
	}
	_, single := c.Classify(testenv.Context(t), bad, classifier.Filter{})
	batch, err := c.ClassifyBatch(testenv.Context(t), []classifier.Article{bad}, classifier.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var streamed error
	err = c.ClassifyStream(testenv.Context(t), slices.Values([]classifier.Article{bad}), client.StreamOptions{}, func(r client.ItemResult) error {
		streamed = r.Err
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{"Classify": single, "ClassifyBatch": batch[0].Err, "ClassifyStream": streamed} {
		var got *classifier.InvalidError
		if !errors.As(err, &got) || !errors.Is(err, classifier.ErrInvalidArticle) || !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("%s: %v (%T) is not a classifier.InvalidError and ErrInvalidArgument", name, err, err)
			continue
		}
		if !slices.Equal(got.Violations, want.Violations) {
			t.Errorf("%s: violations %+v, want %+v", name, got.Violations, want.Violations)
		}
	}
	if batch[0].ID != "x" {
		t.Errorf("batch item id %q, want x", batch[0].ID)
	}
}

func TestReadTokenFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	long := strings.Repeat("a1", 16)
	tests := []struct {
		name      string
		path      string
		want      string
		wantErr   string
		wantWarns bool
	}{
		{"private", write("private", long+"\n", 0o600), long, "", false},
		{"world-readable", write("open", long, 0o644), long, "", true},
		{"short", write("short", "secret\n", 0o600), "", "holds 6 bytes; a token needs at least 16", false},
		{"empty", write("empty", " \n", 0o600), "", "holds 0 bytes", false},
		{"missing", filepath.Join(dir, "none"), "", "no such file", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var warns []string
			got, err := client.ReadTokenFile(tt.path, func(m string) { warns = append(warns, m) })
			switch {
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			case tt.wantErr == "" && err != nil:
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("token %q, want %q", got, tt.want)
			}
			if (len(warns) > 0) != tt.wantWarns || (tt.wantWarns && !strings.Contains(warns[0], "chmod 600")) {
				t.Errorf("warnings %q, want some: %v", warns, tt.wantWarns)
			}
		})
	}
}

func TestLoadCertPool(t *testing.T) {
	t.Parallel()
	pki := testenv.NewPKI(t)
	if _, err := client.LoadCertPool(pki.CAFile); err != nil {
		t.Errorf("CA file: %v", err)
	}
	if _, err := client.LoadCertPool(pki.ServerKey); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("a key file: %v, want holds no PEM certificate", err)
	}
}

// TestTLSFailureIsNotRetried: with a retry backoff of an hour, a call that
// fails the TLS handshake returns at once with the certificate error, while
// one that finds no server waits for its retry until its deadline.
func TestTLSFailureIsNotRetried(t *testing.T) {
	t.Parallel()
	pki := testenv.NewPKI(t)
	ts := testenv.StartServer(t, "127.0.0.1:0", server.Config{ServerOptions: []grpc.ServerOption{pki.ServerTLS(t, false)}})
	patient := client.WithRetryPolicy(client.RetryPolicy{MaxAttempts: 5, InitialBackoff: time.Hour, MaxBackoff: time.Hour, Multiplier: 1})
	tests := []struct {
		name   string
		target string
		opts   []client.Option
		want   error
		say    string
	}{
		{"untrusted certificate", ts.Addr, []client.Option{client.WithTLS(nil), patient}, client.ErrUnavailable, "certificate"},
		{"no server", "127.0.0.1:1", []client.Option{patient}, context.DeadlineExceeded, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(testenv.Context(t), 2*time.Second)
			defer cancel()
			_, err := newClient(t, tt.target, tt.opts...).GetModel(ctx)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.say) {
				t.Errorf("GetModel: %v, want %v saying %q", err, tt.want, tt.say)
			}
		})
	}
}
