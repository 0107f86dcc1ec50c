package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/client"
	"github.com/artclass/artclass/internal/testenv"
	"github.com/artclass/artclass/modelstore"
)

// running is run started in the background, in the test's process.
type running struct {
	out    *testenv.Buffer
	cancel context.CancelFunc
	done   chan error
	addr   string
}

// startRun runs artclassd in the test's process with args (and any
// ARTCLASS_* variables the test set), on free loopback ports, and waits
// until it listens.
func startRun(t *testing.T, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{out: new(testenv.Buffer), cancel: cancel, done: make(chan error, 1)}
	stderr := new(testenv.Buffer)
	args = append([]string{"--listen", "127.0.0.1:0", "--http-listen", ""}, args...)
	go func() { r.done <- run(ctx, args, r.out, stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			t.Error("run did not return after its context ended")
		}
	})
	deadline := time.After(30 * time.Second)
	for {
		if lines := logLines(r.out.String(), "listening"); len(lines) > 0 {
			r.addr = lines[0]["grpc_addr"].(string)
			return r
		}
		select {
		case err := <-r.done:
			t.Fatalf("run returned early: %v\nstdout:\n%s\nstderr:\n%s", err, r.out, stderr)
		case <-deadline:
			t.Fatalf("run did not log its address:\n%s", r.out)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// logged waits for a log line whose msg is msg and returns it.
func (r *running) logged(t *testing.T, msg string) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if lines := logLines(r.out.String(), msg); len(lines) > 0 {
			return lines[0]
		}
	}
	t.Fatalf("no %q log line; the log:\n%s", msg, r.out)
	return nil
}

func TestRunServesTheEmbeddedModel(t *testing.T) {
	r := startRun(t, "--metrics-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0")
	c := newClient(t, r.addr)
	t.Logf("SERVING %v after the address was logged", waitServing(t, c))

	res, err := c.Classify(testenv.Context(t), article, classifier.Filter{})
	if err != nil {
		t.Fatalf("Classify: %v", err)
	}
	def := testenv.DefaultModel(t)
	if res.ModelVersion != def.Version() {
		t.Errorf("model_version %q, want the embedded model's %q", res.ModelVersion, def.Version())
	}
	if m := served(t, c); m.StoreActiveVersion != "" {
		t.Errorf("store_active_version %q without a store, want empty", m.StoreActiveVersion)
	}
	if _, err := c.ListModels(testenv.Context(t)); !errors.Is(err, client.ErrPermissionDenied) {
		t.Errorf("ListModels without --admin-token-file: %v, want ErrPermissionDenied", err)
	}

	maddr := r.logged(t, "serving metrics")["addr"].(string)
	if body := scrape(t, "http://"+maddr+"/metrics"); !strings.Contains(body, `grpc_server_handled_total{grpc_code="OK",grpc_method="Classify"`) {
		t.Errorf("metrics lack the Classify call:\n%.2000s", body)
	}
	// The HTTP gateway answers through the same gRPC server.
	haddr := r.logged(t, "serving HTTP")["addr"].(string)
	if body := scrape(t, "http://"+haddr+"/v1/model"); !strings.Contains(body, def.Version()) {
		t.Errorf("GET /v1/model does not name the embedded model %s:\n%.1000s", def.Version(), body)
	}

	r.cancel()
	if err := <-r.done; err != nil {
		t.Errorf("run after a graceful stop: %v", err)
	}
	r.done <- nil // for the cleanup
	r.logged(t, "stopped")
}

// TestRunFollowsTheStore runs artclassd on an empty model directory, set
// through ARTCLASS_* variables, and classifies continuously while a Train
// publishes to the store, another process promotes a version that SIGHUP
// makes artclassd pick up, and ActivateModel rolls back: no call fails.
func TestRunFollowsTheStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "models") // created by artclassd
	t.Setenv("ARTCLASS_MODEL_DIR", dir)
	t.Setenv("ARTCLASS_ADMIN_TOKEN_FILE", writeToken(t))
	// Polls only at the start, on a promotion of its own and on SIGHUP.
	t.Setenv("ARTCLASS_STORE_POLL", "1h")
	r := startRun(t)
	c := newClient(t, r.addr)
	waitServing(t, c)
	def := testenv.DefaultModel(t)
	if got := r.logged(t, "the model store was empty; published the first model")["model_version"]; got != def.Version() {
		t.Errorf("published %v into the empty store, want the embedded model %s", got, def.Version())
	}
	waitVersion(t, c, def.Version(), true, 10*time.Second)

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var calls int
	var failures []error
	for range 3 {
		wg.Go(func() {
			for ctx.Err() == nil {
				_, err := c.Classify(ctx, article, classifier.Filter{})
				if ctx.Err() != nil {
					return
				}
				mu.Lock()
				calls++
				if err != nil {
					failures = append(failures, err)
				}
				mu.Unlock()
			}
		})
	}

	// Train publishes to the directory's store and serves its model.
	trained, err := c.Train(testenv.Context(t), samples(roundSamples(1)), roundTrain)
	if err != nil {
		t.Fatalf("Train: %v", err)
	}
	if want := roundModel(t, 1).Version(); trained.Model.Version != want || trained.PreviousVersion != def.Version() {
		t.Errorf("Train made %s active, replacing %s; want %s replacing %s", trained.Model.Version, trained.PreviousVersion, want, def.Version())
	}
	waitVersion(t, c, trained.Model.Version, true, 5*time.Second)

	// Another process promotes a version; SIGHUP polls the store at once.
	other, err := modelstore.Open(testenv.Context(t), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	p, err := other.Active(testenv.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	third := roundModel(t, 2)
	if _, _, err := other.Publish(testenv.Context(t), third, p); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	r.logged(t, "SIGHUP: polling the model store")
	waitVersion(t, c, third.Version(), true, 10*time.Second)

	// ActivateModel rolls back to the embedded model.
	act, err := c.ActivateModel(testenv.Context(t), def.Version())
	if err != nil {
		t.Fatalf("ActivateModel: %v", err)
	}
	if act.PreviousVersion != third.Version() {
		t.Errorf("ActivateModel replaced %s, want %s", act.PreviousVersion, third.Version())
	}
	waitVersion(t, c, def.Version(), true, 5*time.Second)
	list, err := c.ListModels(testenv.Context(t))
	if err != nil {
		t.Fatalf("ListModels: %v", err)
	}
	if len(list.Models) != 3 || list.ActiveVersion != def.Version() {
		t.Errorf("ListModels: %d versions, %s active; want 3, %s", len(list.Models), list.ActiveVersion, def.Version())
	}

	time.Sleep(50 * time.Millisecond)
	stop()
	wg.Wait()
	if len(failures) > 0 || calls == 0 {
		t.Fatalf("%d calls, %d failed: %v", calls, len(failures), failures)
	}
	t.Logf("%d calls during a Train, a promotion by SIGHUP and a rollback, none failed", calls)
}

// TestRunPublishesTheModelDirsModel starts artclassd on a --model-dir that
// holds an active.model from before the store: that model, not the
// embedded one, becomes the store's first version.
func TestRunPublishesTheModelDirsModel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	legacy := testenv.WeakModel(t)
	if err := legacy.WriteFile(filepath.Join(dir, "active.model")); err != nil {
		t.Fatal(err)
	}
	c := startChild(t, "--model-dir", dir)
	waitVersion(t, newClient(t, c.addr), legacy.Version(), true, 20*time.Second)
}

func TestRunFlagErrors(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		want  string
		usage bool // exit status 2 rather than 1
	}{
		{"unknown flag", []string{"--nope"}, nil, "nope", true},
		{"arguments", []string{"serve"}, nil, "only flags", true},
		{"cert without key", []string{"--tls-cert", "x"}, nil, "--tls-cert and --tls-key", true},
		{"client CA without TLS", []string{"--client-ca", "x"}, nil, "--client-ca needs", true},
		{"bad log level", []string{"--log-level", "loud"}, nil, "--log-level", true},
		{"bad log format", []string{"--log-format", "xml"}, nil, "--log-format", true},
		{"bad env value", nil, map[string]string{"ARTCLASS_MAX_BATCH": "many"}, "ARTCLASS_MAX_BATCH", true},
		{"zero batch", []string{"--max-batch", "0"}, nil, "--max-batch", true},
		{"store poll too short", []string{"--model-dir", "x", "--store-poll", "10ms"}, nil, "--store-poll", true},
		{"model dir and store", []string{"--model-dir", "x", "--model-store", "mem://"}, nil, "give one of them", true},
		{"cache without store", []string{"--model-cache", "x"}, nil, "--model-cache", true},
		{"store URL scheme", []string{"--model-store", "ftp://host/dir"}, nil, "--model-store", true},
		{"negative shutdown delay", []string{"--shutdown-delay", "-1s"}, nil, "must not be negative", true},
		{"missing token file", []string{"--admin-token-file", "/nonexistent/token"}, nil, "admin token", false},
		{"missing model", []string{"--model", "/nonexistent/model"}, nil, "load model", false},
		{"taken port", []string{"--listen", taken.Addr().String()}, nil, "gRPC listener", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var out, errOut bytes.Buffer
			err := run(testenv.Context(t), append([]string{"--listen", "127.0.0.1:0", "--http-listen", ""}, tt.args...), &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run = %v, want an error mentioning %q", err, tt.want)
			}
			if got := errors.As(err, new(usageError)); got != tt.usage {
				t.Errorf("run = %v: a usage error (exit status 2): %v, want %v", err, got, tt.usage)
			}
		})
	}
}

// TestExitStatus runs artclassd's main as a process: a usage error exits
// 2, another failure 1, both with one line on standard error, and --help
// vets the environment as a start would.
func TestExitStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		env        []string
		args       []string
		wantStatus int
		wantStderr string
		wantStdout string
	}{
		{"unknown flag", nil, []string{"--nope"}, 2, "artclassd: unknown flag: --nope", ""},
		{"bad variable", []string{"ARTCLASS_STORE_POLL=soon"}, nil, 2, "ARTCLASS_STORE_POLL", ""},
		{"missing model", nil, []string{"--model", "/nonexistent/model"}, 1, "artclassd: load model", ""},
		{"help", nil, []string{"--help"}, 0, "", "--model-store URL"},
		{"help with a bad variable", []string{"ARTCLASS_MAX_BATCH=0"}, []string{"--help"}, 2, "--max-batch 0 must be positive", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := spawn(t, tt.env, tt.args...)
			if got := c.wait(t); got != tt.wantStatus {
				t.Errorf("exit status %d, want %d; stderr:\n%s", got, tt.wantStatus, c.stderr)
			}
			stderr := c.stderr.String()
			if tt.wantStderr != "" && (!strings.Contains(stderr, tt.wantStderr) || strings.Count(stderr, "\n") != 1) {
				t.Errorf("stderr %q, want one line with %q", stderr, tt.wantStderr)
			}
			if !strings.Contains(c.stdout.String(), tt.wantStdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.wantStdout, c.stdout)
			}
		})
	}
}

func TestRunTLS(t *testing.T) {
	pki := testenv.NewPKI(t)
	tlsOnly := startRun(t, "--tls-cert", pki.ServerCert, "--tls-key", pki.ServerKey)
	mtls := startRun(t, "--tls-cert", pki.ServerCert, "--tls-key", pki.ServerKey, "--client-ca", pki.CAFile,
		"--http-listen", "127.0.0.1:0")

	serverOnly := []client.Option{client.WithCAFile(pki.CAFile)}
	withCert := []client.Option{client.WithCAFile(pki.CAFile), client.WithClientCert(pki.ClientCert, pki.ClientKey)}
	untrusted := []client.Option{client.WithTLS(&tls.Config{})}
	tests := []struct {
		name   string
		addr   string
		opts   []client.Option
		wantOK bool
	}{
		{"TLS", tlsOnly.addr, serverOnly, true},
		{"TLS, server not trusted", tlsOnly.addr, untrusted, false},
		{"TLS server, plaintext client", tlsOnly.addr, nil, false},
		{"mTLS with a client certificate", mtls.addr, withCert, true},
		{"mTLS without a client certificate", mtls.addr, serverOnly, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Wait until the model is loaded, over a connection that works.
			good := serverOnly
			if tt.addr == mtls.addr {
				good = withCert
			}
			waitServing(t, newClient(t, tt.addr, good...))
			_, err := newClient(t, tt.addr, tt.opts...).Classify(testenv.Context(t), article, classifier.Filter{})
			if (err == nil) != tt.wantOK {
				t.Errorf("Classify = %v, want success %v", err, tt.wantOK)
			}
		})
	}

	// The HTTP gateway is behind the same mTLS.
	pool, err := client.LoadCertPool(pki.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(pki.ClientCert, pki.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	url := "https://" + mtls.logged(t, "serving HTTP")["addr"].(string) + "/healthz"
	for _, tt := range []struct {
		name   string
		certs  []tls.Certificate
		wantOK bool
	}{{"HTTPS with a client certificate", []tls.Certificate{cert}, true}, {"HTTPS without", nil, false}} {
		t.Run(tt.name, func(t *testing.T) {
			hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: tt.certs}}}
			resp, err := hc.Get(url)
			if err == nil {
				resp.Body.Close()
			}
			if ok := err == nil && resp.StatusCode == http.StatusOK; ok != tt.wantOK {
				t.Errorf("GET /healthz: %v (status %v), want success %v", err, resp, tt.wantOK)
			}
		})
	}
}
