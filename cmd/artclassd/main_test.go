package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/artclass/artclass/classifier"
	artclassv1 "github.com/artclass/artclass/proto/artclass/v1"
	"github.com/artclass/artclass/server"
)

// syncBuffer collects run's log lines; the test reads them as they come.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logged waits for a JSON log line whose msg is msg and returns it.
func (b *syncBuffer) logged(t *testing.T, msg string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(b.String()))
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == msg {
				return line
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no %q log line; the log:\n%s", msg, b.String())
	return nil
}

// daemon is run started in the background.
type daemon struct {
	out    *syncBuffer
	cancel context.CancelFunc
	done   chan error
	addr   string
}

func startRun(t *testing.T, args ...string) *daemon {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &daemon{out: new(syncBuffer), cancel: cancel, done: make(chan error, 1)}
	stderr := new(syncBuffer)
	go func() { d.done <- run(ctx, append([]string{"--listen", "127.0.0.1:0"}, args...), d.out, stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-d.done:
		case <-time.After(20 * time.Second):
			t.Error("run did not return after its context ended")
		}
	})
	// Wait for the address or an early failure.
	deadline := time.After(20 * time.Second)
	for d.addr == "" {
		select {
		case err := <-d.done:
			t.Fatalf("run returned early: %v\nstdout:\n%s\nstderr:\n%s", err, d.out, stderr)
		case <-deadline:
			t.Fatalf("run did not log its address:\n%s", d.out)
		case <-time.After(5 * time.Millisecond):
		}
		if strings.Contains(d.out.String(), `"msg":"listening"`) {
			d.addr = d.out.logged(t, "listening")["grpc_addr"].(string)
		}
	}
	return d
}

func dial(t *testing.T, addr string, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitServing polls health until it reports SERVING and returns how long
// that took.
func waitServing(t *testing.T, conn *grpc.ClientConn) time.Duration {
	t.Helper()
	start := time.Now()
	h := healthpb.NewHealthClient(conn)
	for time.Since(start) < 20*time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := h.Check(ctx, &healthpb.HealthCheckRequest{Service: "artclass.v1.ClassifierService"})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return time.Since(start)
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("health never reported SERVING")
	return 0
}

const article = "Voters went to the polls on Sunday in a parliamentary election, and the ballot count was close."

func TestRunServesTheEmbeddedModel(t *testing.T) {
	d := startRun(t, "--metrics-listen", "127.0.0.1:0")
	conn := dial(t, d.addr, nil)
	t.Logf("SERVING %v after the address was logged", waitServing(t, conn))

	resp, err := artclassv1.NewClassifierServiceClient(conn).Classify(context.Background(), &artclassv1.ClassifyRequest{Text: article})
	if err != nil {
		t.Fatalf("Classify: %v", err)
	}
	def, err := classifier.Default()
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetModelVersion() != def.Version() {
		t.Errorf("model_version %q, want the embedded model's %q", resp.GetModelVersion(), def.Version())
	}

	maddr := d.out.logged(t, "serving metrics")["metrics_addr"].(string)
	r, err := http.Get("http://" + maddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if !strings.Contains(string(body), `grpc_server_handled_total{grpc_code="OK",grpc_method="Classify"`) {
		t.Errorf("metrics lack the Classify call:\n%.2000s", body)
	}

	d.cancel()
	if err := <-d.done; err != nil {
		t.Errorf("run after a graceful stop: %v", err)
	}
	d.done <- nil // for the cleanup
	d.out.logged(t, "stopped")
}

// trainSamples are short invented articles about two topics and about
// neither.
func trainSamples() []*artclassv1.Sample {
	var out []*artclassv1.Sample
	for i, s := range []string{
		"The striker scored twice as the club won the league match",
		"A late goal sealed the cup final for the visitors",
		"The tennis champion won the tournament final",
		"The goalkeeper saved a penalty in the semi final",
		"The runner set a record in the marathon",
		"The cyclist won the mountain stage of the race",
	} {
		out = append(out, &artclassv1.Sample{Title: "Sport " + string(rune('a'+i)), Text: s, Labels: []string{"sport"}})
	}
	for _, s := range []string{
		"Heavy rain and strong winds are forecast for the coast",
		"A heatwave pushed temperatures above forty degrees",
		"Snow closed mountain roads as the storm moved east",
		"Forecasters warned of flooding after heavy rain",
		"Thunderstorms and hail are expected on Tuesday",
		"Fog and frost followed the cold front overnight",
	} {
		out = append(out, &artclassv1.Sample{Text: s, Labels: []string{"weather"}})
	}
	for _, s := range []string{
		"The central bank held interest rates steady",
		"The museum opened an exhibition of photographs",
		"Parliament debated the budget for schools",
		"The company reported higher profits this year",
	} {
		out = append(out, &artclassv1.Sample{Text: s})
	}
	return out
}

// TestRunSwapsUnderLoad runs artclassd with a model directory and an admin
// token, classifies continuously, and meanwhile retrains over gRPC and
// reloads on SIGHUP (once a good file, once a broken one): no call fails.
func TestRunSwapsUnderLoad(t *testing.T) {
	dir := t.TempDir()
	leftover := filepath.Join(dir, "active.model.123.tmp")
	if err := os.WriteFile(leftover, []byte("half a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	def, err := classifier.Default()
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ARTCLASS_MODEL_DIR", dir)
	t.Setenv("ARTCLASS_ADMIN_TOKEN_FILE", tokenFile)
	d := startRun(t)
	conn := dial(t, d.addr, nil)
	waitServing(t, conn)
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Errorf("the leftover temporary file is still there: %v", err)
	}
	if got := d.out.logged(t, "model loaded")["source"]; got != "embedded" {
		t.Errorf("model source %v, want embedded (the directory had no model)", got)
	}
	client := artclassv1.NewClassifierServiceClient(conn)

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var calls int
	var failures []error
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				_, err := client.Classify(ctx, &artclassv1.ClassifyRequest{Text: article})
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
		}()
	}

	// Retrain: the new model is written to the directory and served.
	tctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer tok")
	stream, err := client.Train(tctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&artclassv1.TrainRequest{
		Options: &artclassv1.TrainOptions{Algorithm: "rocchio", MinDf: 1, Folds: 2, Force: true},
		Samples: trainSamples(),
	}); err != nil {
		t.Fatal(err)
	}
	trained, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatalf("Train: %v", err)
	}
	onDisk, err := classifier.LoadFile(filepath.Join(dir, server.ActiveModelFile))
	if err != nil || onDisk.Version() != trained.GetModel().GetVersion() {
		t.Fatalf("model file after Train: %v, %v; want version %s", onDisk, err, trained.GetModel().GetVersion())
	}

	// Another model file replaces it; SIGHUP makes it active.
	if err := def.WriteFile(filepath.Join(dir, server.ActiveModelFile)); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	d.out.logged(t, "SIGHUP: reloading the model")
	waitVersion(t, client, def.Version())

	// A broken file: SIGHUP keeps the model.
	if err := os.WriteFile(filepath.Join(dir, server.ActiveModelFile), []byte("broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	d.out.logged(t, "reload failed; keeping the active model")
	waitVersion(t, client, def.Version())

	time.Sleep(50 * time.Millisecond)
	stop()
	wg.Wait()
	if len(failures) > 0 || calls == 0 {
		t.Fatalf("%d calls, %d failed: %v", calls, len(failures), failures)
	}
	t.Logf("%d calls during a Train and two SIGHUPs, none failed", calls)
}

// waitVersion waits until the server's active model has version v.
func waitVersion(t *testing.T, client artclassv1.ClassifierServiceClient, v string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.GetModel(context.Background(), &artclassv1.GetModelRequest{})
		if err == nil && resp.GetModel().GetVersion() == v {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("active model %v (%v), want %s", resp.GetModel().GetVersion(), err, v)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRunFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown flag", []string{"--nope"}, nil, "nope"},
		{"cert without key", []string{"--tls-cert", "x"}, nil, "--tls-cert and --tls-key"},
		{"client CA without TLS", []string{"--client-ca", "x"}, nil, "--client-ca needs"},
		{"bad log level", []string{"--log-level", "loud"}, nil, "--log-level"},
		{"bad log format", []string{"--log-format", "xml"}, nil, "--log-format"},
		{"bad env value", nil, map[string]string{"ARTCLASS_MAX_BATCH": "many"}, "ARTCLASS_MAX_BATCH"},
		{"zero batch", []string{"--max-batch", "0"}, nil, "--max-batch"},
		{"missing token file", []string{"--admin-token-file", "/nonexistent/token"}, nil, "admin token"},
		{"missing model", []string{"--model", "/nonexistent/model"}, nil, "load model"},
		{"arguments", []string{"serve"}, nil, "only flags"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var out, errOut bytes.Buffer
			err := run(ctx, append([]string{"--listen", "127.0.0.1:0"}, tt.args...), &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

// certs is a CA with a server and a client certificate it signed, as PEM
// files in a temporary directory.
type certs struct {
	caFile, certFile, keyFile     string
	clientCertFile, clientKeyFile string
	pool                          *x509.CertPool
	clientCert                    tls.Certificate
}

func newCerts(t *testing.T) *certs {
	t.Helper()
	dir := t.TempDir()
	c := new(certs)
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "artclass test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	c.pool = x509.NewCertPool()
	c.pool.AddCert(ca)
	c.caFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)

	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (certFile, keyFile string, pair tls.Certificate) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, _ := x509.MarshalECPrivateKey(key)
		certFile = writePEM(t, dir, name+".pem", "CERTIFICATE", der)
		keyFile = writePEM(t, dir, name+"-key.pem", "EC PRIVATE KEY", keyDER)
		pair, err = tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		return certFile, keyFile, pair
	}
	c.certFile, c.keyFile, _ = leaf("server", 2, x509.ExtKeyUsageServerAuth)
	c.clientCertFile, c.clientKeyFile, c.clientCert = leaf("client", 3, x509.ExtKeyUsageClientAuth)
	return c
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunTLS(t *testing.T) {
	c := newCerts(t)
	tlsOnly := startRun(t, "--tls-cert", c.certFile, "--tls-key", c.keyFile)
	mtls := startRun(t, "--tls-cert", c.certFile, "--tls-key", c.keyFile, "--client-ca", c.caFile)

	classify := func(addr string, creds credentials.TransportCredentials) error {
		conn := dial(t, addr, creds)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := artclassv1.NewClassifierServiceClient(conn).Classify(ctx, &artclassv1.ClassifyRequest{Text: article})
		return err
	}
	serverOnly := credentials.NewTLS(&tls.Config{RootCAs: c.pool})
	withCert := credentials.NewTLS(&tls.Config{RootCAs: c.pool, Certificates: []tls.Certificate{c.clientCert}})
	untrusted := credentials.NewTLS(&tls.Config{})
	tests := []struct {
		name   string
		addr   string
		creds  credentials.TransportCredentials
		wantOK bool
	}{
		{"TLS", tlsOnly.addr, serverOnly, true},
		{"TLS, server not trusted", tlsOnly.addr, untrusted, false},
		{"TLS server, plaintext client", tlsOnly.addr, insecure.NewCredentials(), false},
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
			waitServing(t, dial(t, tt.addr, good))
			err := classify(tt.addr, tt.creds)
			if (err == nil) != tt.wantOK {
				t.Errorf("Classify = %v, want success %v", err, tt.wantOK)
			}
		})
	}
}
