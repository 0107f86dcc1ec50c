package client

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	grpcretry "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/retry"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"

	artclassv1 "github.com/artclass/artclass/proto/artclass/v1"
)

// DefaultAddr is where artclassd listens unless told otherwise.
const DefaultAddr = "localhost:50051"

// Client calls an artclass server. It is safe for concurrent use; create it
// with New and release it with Close.
type Client struct {
	conn    *grpc.ClientConn
	rpc     artclassv1.ClassifierServiceClient
	health  healthpb.HealthClient
	timeout time.Duration
	// names are the host:port addresses of the target whose host is a
	// name, looked up when a call finds no server (see fromStatus).
	names []string
}

// Option configures New.
type Option func(*config) error

type config struct {
	tls           *tls.Config
	token         string
	insecureToken bool
	timeout       time.Duration
	retry         *RetryPolicy
	waitForReady  bool
	dialer        func(context.Context, string) (net.Conn, error)
	dialOptions   []grpc.DialOption
}

// RetryPolicy is how often and how patiently a call without side effects
// that the server answers UNAVAILABLE is tried again; a failed TLS handshake
// is not retried. The client waits a random time between zero and the
// current backoff before each new attempt, as gRPC's own retries do.
type RetryPolicy struct {
	// MaxAttempts counts the first attempt.
	MaxAttempts int
	// InitialBackoff is the backoff before the first retry; each further
	// retry multiplies it by Multiplier, up to MaxBackoff.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	Multiplier     float64
}

// DefaultRetryPolicy is the retry policy of a Client made without
// WithRetryPolicy: five attempts over up to about four seconds, enough for
// a server to restart.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 5, InitialBackoff: 250 * time.Millisecond, MaxBackoff: 2 * time.Second, Multiplier: 2}
}

// WithTLS makes the client use TLS with cfg. A nil cfg means the system's
// root certificates and no client certificate.
func WithTLS(cfg *tls.Config) Option {
	return func(c *config) error {
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		c.tls = cfg.Clone()
		return nil
	}
}

// WithCAFile makes the client use TLS and trust the server certificates
// signed by the PEM certificate authorities in path (instead of the
// system's).
func WithCAFile(path string) Option {
	return func(c *config) error {
		pool, err := LoadCertPool(path)
		if err != nil {
			return err
		}
		c.ensureTLS().RootCAs = pool
		return nil
	}
}

// WithClientCert makes the client use TLS and present the PEM certificate
// and key in certFile and keyFile, for a server that requires client
// certificates (mutual TLS).
func WithClientCert(certFile, keyFile string) Option {
	return func(c *config) error {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return fmt.Errorf("client certificate: %w", err)
		}
		t := c.ensureTLS()
		t.Certificates = append(t.Certificates, cert)
		return nil
	}
}

// WithServerName sets the name the server's certificate must carry, when it
// differs from the host of the target.
func WithServerName(name string) Option {
	return func(c *config) error {
		c.ensureTLS().ServerName = name
		return nil
	}
}

func (c *config) ensureTLS() *tls.Config {
	if c.tls == nil {
		c.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return c.tls
}

// WithToken sends `authorization: Bearer token` with every call; Train needs
// the server's admin token. gRPC sends such credentials only over TLS: for a
// plaintext server on this machine add WithInsecureToken.
func WithToken(token string) Option {
	return func(c *config) error {
		token = strings.TrimSpace(token)
		if token == "" {
			return errors.New("the bearer token is empty")
		}
		c.token = token
		return nil
	}
}

// WithInsecureToken lets WithToken's token travel in plaintext when every
// address of the target is a loopback address (localhost, 127.0.0.0/8, ::1)
// or WithDialer is used. Anywhere else New refuses a token without TLS.
func WithInsecureToken() Option {
	return func(c *config) error {
		c.insecureToken = true
		return nil
	}
}

// WithTimeout bounds each unary call (Classify, ClassifyBatch, GetModel,
// Health) by d, retries included, unless the caller's context ends sooner.
// Streaming calls are bounded only by their context. Zero means no bound.
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("timeout %v is negative", d)
		}
		c.timeout = d
		return nil
	}
}

// WithRetryPolicy replaces DefaultRetryPolicy(). A policy with MaxAttempts of
// 1 or less turns retries off.
func WithRetryPolicy(p RetryPolicy) Option {
	return func(c *config) error {
		if p.MaxAttempts > 1 && (p.InitialBackoff <= 0 || p.MaxBackoff < p.InitialBackoff || p.Multiplier < 1) {
			return fmt.Errorf("retry policy %+v: backoffs must be positive, MaxBackoff ≥ InitialBackoff and Multiplier ≥ 1", p)
		}
		c.retry = &p
		return nil
	}
}

// WithWaitForReady makes the idempotent unary calls wait, until their
// deadline, for a server to become reachable instead of failing at once
// with ErrUnavailable when none is. Pair it with WithTimeout or a context
// deadline.
func WithWaitForReady() Option {
	return func(c *config) error {
		c.waitForReady = true
		return nil
	}
}

// WithDialer makes the client open its connections with dial, for example
// to reach an in-process server through google.golang.org/grpc/test/bufconn.
func WithDialer(dial func(ctx context.Context, addr string) (net.Conn, error)) Option {
	return func(c *config) error {
		c.dialer = dial
		return nil
	}
}

// WithDialOptions adds gRPC dial options after the client's own, for what
// the other options do not cover (interceptors, keepalive, user agent).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(c *config) error {
		c.dialOptions = append(c.dialOptions, opts...)
		return nil
	}
}

// New returns a Client for target: "host:port", "dns:///host:port" (every
// address the name resolves to), or a comma-separated list of host:port
// addresses. Calls are balanced round-robin over the addresses. New does not
// connect; the first call does.
func New(target string, opts ...Option) (*Client, error) {
	var cfg config
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
	}
	if cfg.retry == nil {
		p := DefaultRetryPolicy()
		cfg.retry = &p
	}
	target = strings.TrimSpace(target)
	if err := checkTarget(target); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}

	sc, err := serviceConfig(cfg.waitForReady)
	if err != nil {
		return nil, fmt.Errorf("client: service config: %w", err)
	}
	dopts := []grpc.DialOption{
		grpc.WithDefaultServiceConfig(sc),
		grpc.WithChainUnaryInterceptor(retrying(*cfg.retry)),
		// Look for a restarted server soon: gRPC's default backoff between
		// connection attempts starts at one second and grows to two minutes.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 5 * time.Second},
			MinConnectTimeout: 5 * time.Second,
		}),
	}
	if cfg.tls != nil {
		dopts = append(dopts, grpc.WithTransportCredentials(credentials.NewTLS(cfg.tls)))
	} else {
		dopts = append(dopts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	if cfg.dialer != nil {
		dopts = append(dopts, grpc.WithContextDialer(cfg.dialer))
	}

	dialTarget := target
	hosts := splitList(target)
	if len(hosts) > 1 {
		// A fixed list: a manual resolver hands gRPC every address, and the
		// round_robin policy of the service config spreads calls over them.
		r := manual.NewBuilderWithScheme("artclass-list")
		var state resolver.State
		for _, a := range hosts {
			state.Endpoints = append(state.Endpoints, resolver.Endpoint{Addresses: []resolver.Address{{Addr: a}}})
		}
		r.InitialState(state)
		dopts = append(dopts, grpc.WithResolvers(r))
		dialTarget = r.Scheme() + ":///list"
	}

	if cfg.token != "" {
		if err := cfg.checkToken(hosts); err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
		dopts = append(dopts, grpc.WithPerRPCCredentials(bearer{token: cfg.token, requireTLS: cfg.tls != nil}))
	}
	dopts = append(dopts, cfg.dialOptions...)

	conn, err := grpc.NewClient(dialTarget, dopts...)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	c := &Client{
		conn:    conn,
		rpc:     artclassv1.NewClassifierServiceClient(conn),
		health:  healthpb.NewHealthClient(conn),
		timeout: cfg.timeout,
	}
	if cfg.dialer == nil {
		c.names = hostNames(hosts)
	}
	return c, nil
}

// Close closes the connection. Calls in flight fail with ErrCanceled.
func (c *Client) Close() error { return c.conn.Close() }

// unary makes the unary call method(req) within the client's per-call
// timeout; its error is one of this package's (Client.fromStatus).
func unary[Req, Resp any](ctx context.Context, c *Client, method func(context.Context, *Req, ...grpc.CallOption) (*Resp, error), req *Req) (*Resp, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	resp, err := method(ctx, req)
	if err != nil {
		return nil, c.fromStatus(err)
	}
	return resp, nil
}

// checkToken refuses to send the bearer token in plaintext anywhere but to
// this machine, and there only when WithInsecureToken asked for it.
func (c *config) checkToken(hosts []string) error {
	if c.tls != nil {
		return nil
	}
	if !c.insecureToken {
		return errors.New("a bearer token needs TLS; use WithTLS or WithCAFile, or WithInsecureToken for a plaintext server on this machine")
	}
	if c.dialer == nil {
		for _, h := range hosts {
			if !isLoopback(h) {
				return fmt.Errorf("the bearer token would travel in plaintext to %s, which is not a loopback address; use TLS", h)
			}
		}
	}
	return nil
}

// ErrInvalidTarget is wrapped by New's error for a target it cannot dial:
// a mistake in how the program was called, found before any connection.
var ErrInvalidTarget = errors.New("invalid target")

// targetSchemes are the gRPC name schemes New accepts.
var targetSchemes = []string{"dns", "unix", "unix-abstract", "passthrough"}

// checkTarget refuses a target gRPC would only fail on later, after
// retries: an empty one, a URL such as http://host:port, an address without
// a port or with a port that is not a number.
func checkTarget(target string) error {
	if target == "" {
		return fmt.Errorf("%w: the target is empty", ErrInvalidTarget)
	}
	if scheme, rest, ok := strings.Cut(target, "://"); ok {
		if !slices.Contains(targetSchemes, scheme) {
			return fmt.Errorf("%w: %q: a target is host:port, dns:///host:port or a comma-separated list of host:port, not a %s URL", ErrInvalidTarget, target, scheme)
		}
		if scheme == "dns" {
			// dns://[authority]/host:port
			_, hostPort, _ := strings.Cut(rest, "/")
			return checkHostPort(target, hostPort)
		}
		return nil
	}
	if strings.HasPrefix(target, "unix:") {
		return nil
	}
	for _, a := range splitList(target) {
		if err := checkHostPort(target, a); err != nil {
			return err
		}
	}
	return nil
}

func checkHostPort(target, a string) error {
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("%w: address %q in %q: want host:port", ErrInvalidTarget, a, target)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%w: address %q in %q: port %q is not a number in [1, 65535]", ErrInvalidTarget, a, target, port)
	}
	return nil
}

// splitList splits a comma-separated address list; a single address (or a
// target with a scheme) comes back as one element.
func splitList(target string) []string {
	if strings.Contains(target, "://") || !strings.Contains(target, ",") {
		return []string{target}
	}
	var out []string
	for _, a := range strings.Split(target, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// isLoopback reports whether a target names only this machine.
func isLoopback(target string) bool {
	if i := strings.Index(target, ":///"); i >= 0 {
		switch target[:i] {
		case "dns", "passthrough":
			target = target[i+4:]
		case "unix", "unix-abstract":
			return true
		default:
			return false
		}
	} else if strings.HasPrefix(target, "unix:") {
		return true
	}
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		host = target
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// bearer is the per-call credential of WithToken.
type bearer struct {
	token      string
	requireTLS bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

func (b bearer) RequireTransportSecurity() bool { return b.requireTLS }

// idempotentMethods are the calls that may be retried: they have no side
// effects (NO_SIDE_EFFECTS in the proto).
var idempotentMethods = []struct{ service, method string }{
	{"artclass.v1.ClassifierService", "Classify"},
	{"artclass.v1.ClassifierService", "ClassifyBatch"},
	{"artclass.v1.ClassifierService", "GetModel"},
	{"grpc.health.v1.Health", "Check"},
}

// serviceConfig is the gRPC service config of a Client: round-robin over
// every resolved address, and waitForReady for the idempotent calls.
// Retries are not in it: gRPC's retry policy cannot tell a TLS failure,
// which no retry mends, from a server that is briefly away (retrying).
func serviceConfig(waitForReady bool) (string, error) {
	type name struct {
		Service string `json:"service"`
		Method  string `json:"method"`
	}
	type methodConfig struct {
		Name         []name `json:"name"`
		WaitForReady bool   `json:"waitForReady,omitempty"`
	}
	mc := methodConfig{WaitForReady: waitForReady}
	for _, m := range idempotentMethods {
		mc.Name = append(mc.Name, name{m.service, m.method})
	}
	sc := map[string]any{
		"loadBalancingConfig": []any{map[string]any{"round_robin": map[string]any{}}},
		"methodConfig":        []methodConfig{mc},
	}
	b, err := json.Marshal(sc)
	return string(b), err
}

// retrying is the interceptor that retries the idempotent calls by p when
// the server answers UNAVAILABLE, except after a failed TLS handshake (a
// certificate problem stays one). Each retry waits a random time up to the
// current backoff, as gRPC's own retries do.
func retrying(p RetryPolicy) grpc.UnaryClientInterceptor {
	retry := grpcretry.UnaryClientInterceptor(
		grpcretry.WithMax(uint(max(p.MaxAttempts, 1))),
		grpcretry.WithBackoff(func(_ context.Context, attempt uint) time.Duration {
			d := float64(p.InitialBackoff) * math.Pow(p.Multiplier, float64(attempt)-1)
			return time.Duration(rand.Int64N(int64(min(d, float64(p.MaxBackoff))) + 1))
		}),
		grpcretry.WithRetriable(func(err error) bool {
			st := status.Convert(err)
			return st.Code() == codes.Unavailable && connectionFailure(st.Message()) != ErrTLSHandshake
		}),
	)
	idempotent := map[string]bool{}
	for _, m := range idempotentMethods {
		idempotent["/"+m.service+"/"+m.method] = true
	}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if !idempotent[method] || p.MaxAttempts <= 1 {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
		return retry(ctx, method, req, reply, cc, invoker, opts...)
	}
}
