// Artclassd serves the artclass gRPC API: it classifies news articles into
// topics with calibrated confidences, and retrains its model on request.
//
// Usage:
//
//	artclassd [flags]
//
// With no flags it serves the model embedded in the binary on
// localhost:50051, in plaintext, with Train disabled.
//
// Every flag can also be set by an environment variable: ARTCLASS_ and the
// flag's name in upper case with dashes as underscores (--model-dir is
// ARTCLASS_MODEL_DIR). A flag on the command line wins over the variable.
//
//	--listen ADDR              serve gRPC on ADDR (default localhost:50051)
//	--model FILE               serve the model file FILE instead of the embedded model
//	--model-dir DIR            the directory Train writes models into (see below)
//	--admin-token-file FILE    the bearer token Train needs; without it Train is disabled
//	--tls-cert FILE            serve TLS with this PEM certificate (needs --tls-key)
//	--tls-key FILE             the PEM private key of --tls-cert
//	--client-ca FILE           require client certificates signed by this PEM CA (mTLS)
//	--metrics-listen ADDR      serve Prometheus metrics on http://ADDR/metrics (default: none)
//	--max-text-bytes N         the longest title or text accepted (default 1048576)
//	--max-batch N              the most articles in one ClassifyBatch call (default 1000)
//	--max-message-bytes N      the largest gRPC message received (default 16777216)
//	--shutdown-timeout D       how long SIGINT or SIGTERM waits for calls in flight (default 10s)
//	--log-level LEVEL          debug, info, warn or error (default info)
//	--log-format FORMAT        json or text (default json)
//
// # Models
//
// The model served at start is, in this order: DIR/active.model if
// --model-dir is set and that file exists, FILE if --model is set, or the
// embedded default model. A Train call writes its model atomically to
// DIR/active.model, so a retrained model survives a restart. At start
// artclassd removes files named *.tmp in DIR, the remains of a write that
// was interrupted.
//
// # Signals
//
// SIGHUP reloads the model file (DIR/active.model, or FILE) and keeps the
// active model if the new one does not load. SIGINT and SIGTERM report
// NOT_SERVING on grpc.health.v1, stop accepting calls, wait up to
// --shutdown-timeout for the calls in flight, then close every connection.
//
// # Logs
//
// One line per call on standard output, with the method, status code,
// duration, model version and text bytes; never the text or the token.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "artclassd:", err)
		os.Exit(1)
	}
}

// options are the parsed flags.
type options struct {
	listen          string
	model           string
	modelDir        string
	adminTokenFile  string
	tlsCert         string
	tlsKey          string
	clientCA        string
	metricsListen   string
	maxTextBytes    int
	maxBatch        int
	maxMessageBytes int
	shutdownTimeout time.Duration
	logLevel        string
	logFormat       string
}

// parseFlags parses args, with ARTCLASS_* environment variables as the
// defaults that the command line overrides.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := new(options)
	fs := flag.NewFlagSet("artclassd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "localhost:50051", "serve gRPC on `ADDR`")
	fs.StringVar(&o.model, "model", "", "serve the model `FILE` instead of the embedded model")
	fs.StringVar(&o.modelDir, "model-dir", "", "the `DIR`ectory Train writes models into, as active.model")
	fs.StringVar(&o.adminTokenFile, "admin-token-file", "", "the `FILE` holding the bearer token Train needs; without it Train is disabled")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "serve TLS with the PEM certificate `FILE`")
	fs.StringVar(&o.tlsKey, "tls-key", "", "the PEM private key `FILE` of --tls-cert")
	fs.StringVar(&o.clientCA, "client-ca", "", "require client certificates signed by the PEM CA `FILE` (mTLS)")
	fs.StringVar(&o.metricsListen, "metrics-listen", "", "serve Prometheus metrics on http://`ADDR`/metrics; empty serves none")
	fs.IntVar(&o.maxTextBytes, "max-text-bytes", server.DefaultMaxTextBytes, "the longest title or text accepted, in bytes")
	fs.IntVar(&o.maxBatch, "max-batch", server.DefaultMaxBatch, "the most articles in one ClassifyBatch call")
	fs.IntVar(&o.maxMessageBytes, "max-message-bytes", 16<<20, "the largest gRPC message received, in bytes")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long a shutdown waits for calls in flight")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "json", "json or text")

	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := "ARTCLASS_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("%s=%q: %w", name, v, err)
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q; artclassd takes only flags", fs.Args())
	}
	switch {
	case o.maxTextBytes <= 0:
		return nil, fmt.Errorf("--max-text-bytes %d must be positive", o.maxTextBytes)
	case o.maxBatch <= 0:
		return nil, fmt.Errorf("--max-batch %d must be positive", o.maxBatch)
	case o.maxMessageBytes <= 0:
		return nil, fmt.Errorf("--max-message-bytes %d must be positive", o.maxMessageBytes)
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return nil, errors.New("--tls-cert and --tls-key go together")
	case o.clientCA != "" && o.tlsCert == "":
		return nil, errors.New("--client-ca needs --tls-cert and --tls-key")
	}
	return o, nil
}

func newLogger(o *options, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q is not one of debug, info, warn, error", o.logLevel)
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch o.logFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, hopts)), nil
	default:
		return nil, fmt.Errorf("--log-format %q is not json or text", o.logFormat)
	}
}

// run is artclassd: it serves until ctx ends, then shuts down gracefully.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log, err := newLogger(o, stdout)
	if err != nil {
		return err
	}

	cfg := server.Config{
		ModelDir:     o.modelDir,
		MaxTextBytes: o.maxTextBytes,
		MaxBatch:     o.maxBatch,
		Logger:       log,
		ServerOptions: []grpc.ServerOption{
			grpc.MaxRecvMsgSize(o.maxMessageBytes),
		},
	}
	if o.adminTokenFile != "" {
		b, err := os.ReadFile(o.adminTokenFile)
		if err != nil {
			return fmt.Errorf("admin token: %w", err)
		}
		if cfg.AdminToken = strings.TrimSpace(string(b)); cfg.AdminToken == "" {
			return fmt.Errorf("admin token file %s is empty", o.adminTokenFile)
		}
	}
	if o.tlsCert != "" {
		tc, err := tlsConfig(o)
		if err != nil {
			return err
		}
		cfg.ServerOptions = append(cfg.ServerOptions, grpc.Creds(credentials.NewTLS(tc)))
	}
	if o.modelDir != "" {
		if err := prepareModelDir(o.modelDir, log); err != nil {
			return err
		}
	}

	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	// Serve before the model is loaded: health answers NOT_SERVING until it
	// is, so an orchestrator can tell starting from dead.
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(lis) }()
	log.Info("listening", "grpc_addr", lis.Addr().String(), "tls", o.tlsCert != "", "mtls", o.clientCA != "")

	var metrics *http.Server
	if o.metricsListen != "" {
		mlis, err := net.Listen("tcp", o.metricsListen)
		if err != nil {
			_ = srv.Shutdown(ctx)
			return fmt.Errorf("metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", srv.MetricsHandler())
		metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := metrics.Serve(mlis); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("metrics: %w", err)
			}
		}()
		log.Info("serving metrics", "metrics_addr", mlis.Addr().String())
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	shutdown := func() error {
		log.Info("shutting down", "timeout", o.shutdownTimeout.String())
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.shutdownTimeout)
		defer cancel()
		err := srv.Shutdown(sctx)
		if metrics != nil {
			_ = metrics.Shutdown(sctx)
		}
		log.Info("stopped")
		return err
	}

	m, source, err := loadModel(o)
	if err != nil {
		_ = shutdown()
		return err
	}
	srv.SetModel(m)
	log.Info("model loaded", "source", source, "model_version", m.Version())

	for {
		select {
		case <-ctx.Done():
			return shutdown()
		case err := <-errc:
			_ = shutdown()
			return err
		case <-hup:
			path := modelFile(o)
			if path == "" {
				// Say what is actually served: a trained model stays active
				// even when its file has since been removed.
				log.Warn("SIGHUP: no model file to reload; keeping the active model", "model_version", srv.Model().Version())
				continue
			}
			log.Info("SIGHUP: reloading the model", "path", path)
			_ = srv.Reload(path) // Reload logs a failure and keeps the model.
		}
	}
}

// prepareModelDir creates dir if needed and removes the *.tmp files an
// interrupted model write left there.
func prepareModelDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("model dir: %w", err)
	}
	tmps, err := filepath.Glob(filepath.Join(dir, "*.tmp"))
	if err != nil {
		return fmt.Errorf("model dir: %w", err)
	}
	for _, t := range tmps {
		if err := os.Remove(t); err != nil {
			return fmt.Errorf("model dir: %w", err)
		}
		log.Info("removed a leftover temporary file", "path", t)
	}
	return nil
}

// modelFile is the model file artclassd serves and reloads: the model
// directory's active model if there is one, else --model; "" means the
// embedded model.
func modelFile(o *options) string {
	if o.modelDir != "" {
		p := filepath.Join(o.modelDir, server.ActiveModelFile)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return o.model
}

func loadModel(o *options) (server.Model, string, error) {
	path := modelFile(o)
	if path == "" {
		m, err := classifier.Default()
		if err != nil {
			return nil, "", err
		}
		return m, "embedded", nil
	}
	m, err := classifier.LoadFile(path)
	if err != nil {
		return nil, "", err // it says "load model PATH: why"
	}
	return m, path, nil
}

func tlsConfig(o *options) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if o.clientCA != "" {
		pem, err := os.ReadFile(o.clientCA)
		if err != nil {
			return nil, fmt.Errorf("client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client CA %s holds no PEM certificate", o.clientCA)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}
