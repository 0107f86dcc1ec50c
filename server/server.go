package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/modelstore"
	artclassv1 "github.com/artclass/artclass/proto/artclass/v1"
)

// Model is what the server needs from a trained classifier.
// *classifier.Model implements it. Implementations must be safe for
// concurrent use and must not change once served.
type Model interface {
	Classify(title, text string) classifier.Result
	Metadata() classifier.Metadata
	Thresholds() map[string]float64
	Version() string
}

// Defaults for the zero fields of Config.
const (
	DefaultMaxBatch        = 1000
	DefaultMaxTrainSamples = 200_000
	DefaultMaxTrainBytes   = 256 << 20
)

// Config configures a Server. The zero value of every field but Logger is
// usable.
type Config struct {
	// Model is the model to serve at start. A Server without one answers
	// Unavailable, and reports NOT_SERVING, until SetModel or Reload gives it
	// one.
	Model Model
	// Store is the model store Train publishes to and ActivateModel and
	// ListModels work on; with a *modelstore.Store, Follow keeps the served
	// model on its active version. Without a store those three calls answer
	// FailedPrecondition.
	Store Store
	// Follow configures how Follow polls Store; a nil Follow.Logger is
	// Logger.
	Follow modelstore.FollowOptions
	// AdminToken is the bearer token Train, ListModels and ActivateModel
	// need. Empty disables them: they answer PermissionDenied.
	AdminToken string
	// Limits are the rules every article must meet; a zero MaxTextBytes is
	// classifier.DefaultMaxTextBytes.
	Limits classifier.Limits
	// MaxBatch bounds the articles of a ClassifyBatch call; DefaultMaxBatch
	// when zero.
	MaxBatch int
	// MaxTrainSamples and MaxTrainBytes bound what one Train call may
	// stream; DefaultMaxTrainSamples and DefaultMaxTrainBytes when zero.
	MaxTrainSamples int
	MaxTrainBytes   int64
	// Train trains a model; classifier.Train when nil.
	Train func(ctx context.Context, samples []classifier.Sample, opts classifier.TrainOptions) (*classifier.Model, error)
	// Load reads a model file; classifier.LoadFile when nil.
	Load func(path string) (Model, error)
	// Logger receives request logs and errors; slog.Default() when nil.
	Logger *slog.Logger
	// Registry receives the server's metrics; a new registry when nil.
	Registry *prometheus.Registry
	// MaxConnectionAge closes a client's connection (gracefully, after a
	// GOAWAY) once it is this old, so that clients balancing over a DNS
	// name re-resolve and spread over replicas that started since; 0 keeps
	// connections open indefinitely.
	MaxConnectionAge time.Duration
	// ServerOptions are added to the gRPC server's own (keepalive policy and
	// interceptors): transport credentials and message size limits, usually.
	ServerOptions []grpc.ServerOption
}

// Server is an artclass gRPC server. Create it with New, start it with
// Serve, and stop it with Shutdown.
type Server struct {
	cfg      Config
	log      *slog.Logger
	grpc     *grpc.Server
	health   *healthService
	stop     context.CancelFunc // ends health Watch streams
	registry *prometheus.Registry
	metrics  *metrics

	active   atomic.Pointer[activeModel]
	training atomic.Bool
	follower *modelstore.Follower // nil without a store
	storeMu  sync.Mutex           // orders installs of stored versions
	storeGen uint64               // the pointer generation of the last installed one
	draining atomic.Bool          // set by BeginShutdown: health stays NOT_SERVING
}

// activeModel is a served model with what each call needs of its metadata,
// read once when it is swapped in rather than on every call.
type activeModel struct {
	model   Model
	version string
	macroF1 float64
}

// healthServices are the names health reports on: the whole server ("") and
// the classifier service.
var healthServices = []string{"", artclassv1.ClassifierService_ServiceDesc.ServiceName}

// New creates a Server from cfg. It registers the classifier, health and
// reflection services; the server accepts calls once Serve runs.
func New(cfg Config) (*Server, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	stopping, stop := context.WithCancel(context.Background())
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		health:   &healthService{Server: health.NewServer(), stopping: stopping},
		stop:     stop,
		registry: cfg.Registry,
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	if st, ok := cfg.Store.(*modelstore.Store); ok {
		if s.follower, err = modelstore.NewFollower(st, s.swapFromStore, cfg.Follow); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		if err := m.followStore(cfg.Registry, s.follower); err != nil {
			return nil, err
		}
	}
	s.grpc = grpc.NewServer(append(s.serverOptions(), cfg.ServerOptions...)...)
	artclassv1.RegisterClassifierServiceServer(s.grpc, &classifierService{s: s})
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)
	s.metrics.grpc.InitializeMetrics(s.grpc)

	for _, name := range healthServices {
		s.health.SetServingStatus(name, healthpb.HealthCheckResponse_NOT_SERVING)
	}
	if cfg.Model != nil {
		s.SetModel(cfg.Model)
	}
	return s, nil
}

// setDefaults fills in the zero fields of cfg and refuses negative limits.
func (cfg *Config) setDefaults() error {
	if cfg.Limits.MaxTextBytes == 0 {
		cfg.Limits.MaxTextBytes = classifier.DefaultMaxTextBytes
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.MaxTrainSamples == 0 {
		cfg.MaxTrainSamples = DefaultMaxTrainSamples
	}
	if cfg.MaxTrainBytes == 0 {
		cfg.MaxTrainBytes = DefaultMaxTrainBytes
	}
	if cfg.Limits.MaxTextBytes < 0 || cfg.MaxBatch < 0 || cfg.MaxTrainSamples < 0 || cfg.MaxTrainBytes < 0 {
		return errors.New("server: limits must not be negative")
	}
	if cfg.Train == nil {
		cfg.Train = classifier.Train
	}
	if cfg.Load == nil {
		cfg.Load = func(path string) (Model, error) {
			m, err := classifier.LoadFile(path)
			if err != nil {
				return nil, err
			}
			return m, nil
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// A refused version or a store that cannot be read is an error of the
	// server's, so its log gets the follower's lines unless told otherwise.
	if cfg.Follow.Logger == nil {
		cfg.Follow.Logger = cfg.Logger
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	return nil
}

// serverOptions are the gRPC server's own options: keepalive and the
// interceptor chains.
func (s *Server) serverOptions() []grpc.ServerOption {
	recoverOpt := recovery.WithRecoveryHandlerContext(s.recovered)
	// The calls that change or list models need the admin token; health,
	// reflection and the classifying RPCs stay open.
	adminOnly := selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool {
		switch c.FullMethod() {
		case artclassv1.ClassifierService_Train_FullMethodName,
			artclassv1.ClassifierService_ListModels_FullMethodName,
			artclassv1.ClassifierService_ActivateModel_FullMethodName:
			return true
		}
		return false
	})
	return []grpc.ServerOption{
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             10 * time.Second,
			PermitWithoutStream: true,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:                  2 * time.Minute,
			Timeout:               20 * time.Second,
			MaxConnectionAge:      s.cfg.MaxConnectionAge,
			MaxConnectionAgeGrace: maxConnectionAgeGrace(s.cfg.MaxConnectionAge),
		}),
		// The logger is outermost so it sees the code the client gets, and
		// recovery innermost so a panic is counted and logged as Internal.
		grpc.ChainUnaryInterceptor(
			s.logUnary,
			s.metrics.grpc.UnaryServerInterceptor(),
			recovery.UnaryServerInterceptor(recoverOpt),
			selector.UnaryServerInterceptor(auth.UnaryServerInterceptor(s.authenticateAdmin), adminOnly),
		),
		grpc.ChainStreamInterceptor(
			s.logStream,
			s.metrics.grpc.StreamServerInterceptor(),
			recovery.StreamServerInterceptor(recoverOpt),
			selector.StreamServerInterceptor(auth.StreamServerInterceptor(s.authenticateAdmin), adminOnly),
		),
	}
}

// Serve accepts connections on lis until Shutdown. It returns nil after a
// Shutdown and the listener's error otherwise.
func (s *Server) Serve(lis net.Listener) error {
	if err := s.grpc.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// maxConnectionAgeGrace is how long a connection past its age may finish
// its calls: long enough for any Classify and most Train calls.
func maxConnectionAgeGrace(age time.Duration) time.Duration {
	if age == 0 {
		return 0
	}
	return 5 * time.Minute
}

// BeginShutdown reports NOT_SERVING on every health service while the
// server keeps answering calls: load balancers and clients that watch
// health stop sending new calls before Shutdown drains and stops.
func (s *Server) BeginShutdown() {
	s.draining.Store(true)
	for _, name := range healthServices {
		s.health.SetServingStatus(name, healthpb.HealthCheckResponse_NOT_SERVING)
	}
}

// PollStore makes Follow poll the store now rather than at its next tick;
// artclassd calls it on SIGHUP. Without a store it does nothing.
func (s *Server) PollStore() { s.wake() }

// Shutdown reports NOT_SERVING, stops accepting calls and waits for the
// calls in flight to finish. When ctx ends first it cancels the remaining
// calls, closes every connection and returns an error wrapping ctx's.
func (s *Server) Shutdown(ctx context.Context) error {
	s.health.Shutdown()
	s.stop()
	done := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		// Stop cancels the calls left and closes every connection. It does
		// not wait for a handler that ignores its cancelled context, and
		// neither does Shutdown.
		s.grpc.Stop()
		return fmt.Errorf("server: forced stop after the drain timeout: %w", ctx.Err())
	}
}

// MetricsHandler serves the server's Prometheus metrics.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry})
}

// Model returns the active model, or nil if there is none.
func (s *Server) Model() Model {
	if a := s.active.Load(); a != nil {
		return a.model
	}
	return nil
}

// SetModel makes m the active model. Calls in flight finish on the model
// they started with.
func (s *Server) SetModel(m Model) {
	md := m.Metadata()
	a := &activeModel{model: m, version: m.Version(), macroF1: md.CV.MacroF1}
	s.active.Store(a)
	s.metrics.setModel(a.version)
	if !s.draining.Load() {
		for _, name := range healthServices {
			s.health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
		}
	}
	s.log.Info("model active", "model_version", a.version, "labels", len(md.Labels), "cv_macro_f1", md.CV.MacroF1)
}

// Reload loads the model file at path and makes it the active model. On
// failure the active model stays, and the error says why.
func (s *Server) Reload(path string) error {
	m, err := s.cfg.Load(path)
	if err != nil {
		s.metrics.reloads.WithLabelValues("failed").Inc()
		s.log.Error("reload failed; keeping the active model", "path", path, "err", err)
		return fmt.Errorf("reload %s: %w", path, err)
	}
	s.SetModel(m)
	s.metrics.reloads.WithLabelValues("ok").Inc()
	return nil
}

// recovered turns a panic in a handler into Internal, logging the stack:
// the client learns only that something went wrong.
func (s *Server) recovered(ctx context.Context, p any) error {
	s.log.ErrorContext(ctx, "panic in handler", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	return errInternal
}

// errInternal is all a client learns of an internal error; the details go
// to the log.
var errInternal = status.Error(codes.Internal, "internal error")

// internal logs err and returns errInternal.
func (s *Server) internal(ctx context.Context, msg string, err error) error {
	s.log.ErrorContext(ctx, msg, "err", err)
	return errInternal
}
