package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/client"
	"github.com/artclass/artclass/gateway"
	"github.com/artclass/artclass/modelstore"
	"github.com/artclass/artclass/server"
)

// daemon is a configured artclassd: its server, listeners and store, ready
// to serve.
type daemon struct {
	o     *options
	log   *slog.Logger
	srv   *server.Server
	store *modelstore.Store // nil without one
	tls   *tls.Config       // nil for plaintext

	grpcLis, httpLis, metricsLis net.Listener // httpLis and metricsLis may be nil
	gatewayLis                   *bufconn.Listener
}

// newDaemon builds everything that can fail before artclassd listens: a bad
// flag value, model, token or certificate is reported before anything logs
// "listening".
func newDaemon(ctx context.Context, o *options, stdout io.Writer) (_ *daemon, err error) {
	d := &daemon{o: o}
	if d.log, err = newLogger(o, stdout); err != nil {
		return nil, usageError{err}
	}
	cfg := server.Config{
		Limits:           classifier.Limits{MaxTextBytes: o.maxTextBytes},
		MaxBatch:         o.maxBatch,
		MaxConnectionAge: o.maxConnectionAge,
		Logger:           d.log,
		ServerOptions:    []grpc.ServerOption{grpc.MaxRecvMsgSize(o.maxMessageBytes)},
		Follow:           modelstore.FollowOptions{Interval: o.storePoll, CacheDir: o.modelCache, Logger: d.log},
	}
	if o.adminTokenFile != "" {
		warn := func(msg string) { d.log.Warn(msg) }
		if cfg.AdminToken, err = client.ReadTokenFile(o.adminTokenFile, warn); err != nil {
			return nil, fmt.Errorf("admin token: %w", err)
		}
	}
	if o.tlsCert != "" {
		if d.tls, err = tlsConfig(o); err != nil {
			return nil, err
		}
	}
	// A --model file is loaded now, so a bad one fails the start; the
	// embedded model only when it will be served: without a store, or as
	// the first model of an empty one (openStore).
	var initial *classifier.Model
	if o.model != "" || o.storeURL() == "" {
		var source string
		if initial, source, err = loadModel(o.model); err != nil {
			return nil, err
		}
		d.log.Info("model loaded", "source", source, "model_version", initial.Version())
	}
	if u := o.storeURL(); u != "" {
		if d.store, err = openStore(ctx, o, u, initial, d.log); err != nil {
			return nil, err
		}
		cfg.Store = d.store
	} else {
		cfg.Model = initial
	}
	if d.srv, err = server.New(cfg); err != nil {
		return nil, err
	}
	if err := d.listen(); err != nil {
		d.closeListeners()
		return nil, err
	}
	return d, nil
}

// listen opens every listener, so that a taken port fails the start.
func (d *daemon) listen() (err error) {
	o := d.o
	if d.grpcLis, err = net.Listen("tcp", o.listen); err != nil {
		return fmt.Errorf("gRPC listener: %w", err)
	}
	if d.tls != nil {
		// TLS is terminated on the listener rather than by gRPC's
		// credentials, so the HTTP gateway can reach the same gRPC server
		// over an in-process connection without a certificate of its own.
		// "h2" is offered because gRPC clients require it.
		tc := d.tls.Clone()
		tc.NextProtos = []string{"h2"}
		d.grpcLis = tls.NewListener(d.grpcLis, tc)
	}
	if o.httpListen != "" {
		if d.httpLis, err = net.Listen("tcp", o.httpListen); err != nil {
			return fmt.Errorf("HTTP listener: %w", err)
		}
		d.gatewayLis = bufconn.Listen(1 << 20)
	}
	if o.metricsListen != "" {
		if d.metricsLis, err = net.Listen("tcp", o.metricsListen); err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
	}
	return nil
}

func (d *daemon) closeListeners() {
	for _, l := range []net.Listener{d.grpcLis, d.httpLis, d.metricsLis} {
		if l != nil {
			l.Close()
		}
	}
	if d.gatewayLis != nil {
		d.gatewayLis.Close()
	}
}

// serve runs every part of artclassd until ctx ends or one part fails,
// then shuts them all down.
func (d *daemon) serve(ctx context.Context) error {
	defer func() {
		if d.store != nil {
			d.store.Close()
		}
	}()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return d.srv.Serve(d.grpcLis) })
	d.log.Info("listening", "grpc_addr", d.grpcLis.Addr().String(), "tls", d.tls != nil, "mtls", d.o.clientCA != "")
	if d.gatewayLis != nil {
		g.Go(func() error { return d.srv.Serve(d.gatewayLis) })
	}
	httpSrv, err := d.httpServer(gctx)
	if err != nil {
		d.srv.Shutdown(context.Background())
		return err
	}
	metricsSrv := d.metricsServer()
	for _, hs := range []struct {
		srv  *http.Server
		lis  net.Listener
		name string
	}{{httpSrv, d.httpLis, "HTTP"}, {metricsSrv, d.metricsLis, "metrics"}} {
		if hs.srv == nil {
			continue
		}
		g.Go(func() error {
			if err := hs.srv.Serve(hs.lis); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("%s server: %w", hs.name, err)
			}
			return nil
		})
		d.log.Info("serving "+hs.name, "addr", hs.lis.Addr().String())
	}
	g.Go(func() error { return d.srv.Follow(gctx) })
	g.Go(func() error { return d.signals(gctx) })
	g.Go(func() error {
		<-gctx.Done()
		return d.shutdown(ctx, httpSrv, metricsSrv)
	})
	return g.Wait()
}

// signals reloads the model on SIGHUP until ctx ends: the --model file
// without a store, a poll of the store with one.
func (d *daemon) signals(ctx context.Context) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			switch {
			case d.store != nil:
				d.log.Info("SIGHUP: polling the model store")
				d.srv.PollStore()
			case d.o.model != "":
				d.log.Info("SIGHUP: reloading the model", "path", d.o.model)
				_ = d.srv.Reload(d.o.model) // Reload logs a failure and keeps the model.
			default:
				d.log.Warn("SIGHUP: no model file or store to reload from; keeping the active model")
			}
		}
	}
}

// shutdown reports NOT_SERVING, waits --shutdown-delay, then drains the
// gRPC and HTTP servers for up to --shutdown-timeout. parent is run's
// context: its end is what asked for the shutdown (or a part failed).
func (d *daemon) shutdown(parent context.Context, servers ...*http.Server) error {
	d.srv.BeginShutdown()
	if d.o.shutdownDelay > 0 && parent.Err() != nil {
		d.log.Info("not serving; waiting before the drain", "delay", d.o.shutdownDelay.String())
		time.Sleep(d.o.shutdownDelay)
	}
	d.log.Info("shutting down", "timeout", d.o.shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(parent), d.o.shutdownTimeout)
	defer cancel()
	for _, hs := range servers {
		if hs != nil {
			_ = hs.Shutdown(sctx)
		}
	}
	err := d.srv.Shutdown(sctx)
	d.log.Info("stopped")
	return err
}

// httpServer returns the HTTP/JSON gateway's server, nil without
// --http-listen. The gateway calls the gRPC server over an in-process
// connection, so every interceptor applies to HTTP calls too.
func (d *daemon) httpServer(ctx context.Context) (*http.Server, error) {
	if d.httpLis == nil {
		return nil, nil
	}
	conn, err := grpc.NewClient("passthrough:///artclassd",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return d.gatewayLis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(d.o.maxMessageBytes)))
	if err != nil {
		return nil, fmt.Errorf("gateway connection: %w", err)
	}
	h, err := gateway.New(ctx, conn, gateway.Options{CORSOrigins: d.o.corsOrigins})
	if err != nil {
		conn.Close()
		return nil, usageError{err}
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(d.log.Handler(), slog.LevelWarn)}
	hs.RegisterOnShutdown(func() { conn.Close() })
	if d.tls != nil {
		d.httpLis = tls.NewListener(d.httpLis, d.tls.Clone())
	}
	return hs, nil
}

// metricsServer returns the Prometheus endpoint's server, nil without
// --metrics-listen.
func (d *daemon) metricsServer() *http.Server {
	if d.metricsLis == nil {
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", d.srv.MetricsHandler())
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(d.log.Handler(), slog.LevelWarn)}
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

// loadModel loads the model file at path, or the embedded model when path
// is empty, and says which it served.
func loadModel(path string) (*classifier.Model, string, error) {
	if path == "" {
		m, err := classifier.Default()
		return m, "embedded", err
	}
	m, err := classifier.LoadFile(path)
	if err != nil {
		return nil, "", err // it says "load model PATH: why"
	}
	return m, path, nil
}

// openStore opens the model store and, when it holds no active version
// yet, publishes initial (the embedded model when nil) as the first;
// replicas starting together race to do so and all but one lose,
// harmlessly. A --model-dir that held an active.model file from before the
// store publishes that file instead.
func openStore(ctx context.Context, o *options, url string, initial *classifier.Model, log *slog.Logger) (*modelstore.Store, error) {
	if o.modelDir != "" {
		if err := os.MkdirAll(o.modelDir, 0o755); err != nil {
			return nil, fmt.Errorf("model dir: %w", err)
		}
	}
	st, err := modelstore.Open(ctx, url)
	if err != nil {
		return nil, usageError{fmt.Errorf("--model-store: %w", err)}
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = st.Active(sctx)
	switch {
	case errors.Is(err, modelstore.ErrNoActive):
		// A damaged active.model fails the start, as it did before the
		// store: publishing the embedded model in its place would hide it.
		if o.modelDir != "" {
			legacy, err := classifier.LoadFile(filepath.Join(o.modelDir, "active.model"))
			switch {
			case err == nil:
				initial = legacy
			case !errors.Is(err, fs.ErrNotExist):
				st.Close()
				return nil, err
			}
		}
		if initial == nil {
			if initial, err = classifier.Default(); err != nil {
				st.Close()
				return nil, err
			}
		}
		if _, p, err := st.Publish(sctx, initial, modelstore.Pointer{}); err == nil {
			log.Info("the model store was empty; published the first model", "model_version", p.Version, "store", url)
		} else if !errors.Is(err, modelstore.ErrConflict) {
			log.Warn("could not publish the first model to the empty store; following it anyway", "err", err)
		}
	case err != nil:
		// The store is down: start anyway, serve the cached model if there is
		// one, and follow the store once it is back.
		log.Warn("the model store cannot be read now; following it with retries", "store", url, "err", err)
	}
	return st, nil
}

// tlsConfig builds the server's TLS configuration, with client
// certificates required when --client-ca is set.
func tlsConfig(o *options) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if o.clientCA != "" {
		pool, err := client.LoadCertPool(o.clientCA)
		if err != nil {
			return nil, fmt.Errorf("client CA: %w", err)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}
