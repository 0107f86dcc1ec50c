package client_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/client"
	"github.com/artclass/artclass/internal/testenv"
	"github.com/artclass/artclass/server"
)

func newClient(t testing.TB, target string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(target, opts...)
	if err != nil {
		t.Fatalf("client.New(%q): %v", target, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

const electionText = "Voters went to the polls on Sunday in a parliamentary election, and the ballot count was close."

func TestClassify(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t, "127.0.0.1:0", server.Config{})
	c := newClient(t, ts.Addr)
	m := testenv.DefaultModel(t)
	want := m.Classify("Polls", electionText)

	got, err := c.Classify(testenv.Context(t), classifier.Article{Title: "Polls", Text: electionText}, classifier.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if got.ModelVersion != m.Version() {
		t.Errorf("model version %q, want %q", got.ModelVersion, m.Version())
	}
	if !slices.Equal(got.Labels(), want.Labels()) {
		t.Errorf("labels %v, want %v", got.Labels(), want.Labels())
	}
	if len(got.Topics) != len(want.Topics) {
		t.Fatalf("%d topics, want %d", len(got.Topics), len(want.Topics))
	}
	for i := range want.Topics {
		g, w := got.Topics[i], want.Topics[i]
		if g.Label != w.Label || g.Confidence != w.Confidence || g.Assigned != w.Assigned || !slices.Equal(g.Terms, w.Terms) {
			t.Errorf("topic %d = %+v, want %+v", i, g, w)
		}
	}

	top, err := c.Classify(testenv.Context(t), classifier.Article{Text: electionText}, classifier.Filter{TopK: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Topics) != 1 || !slices.Equal(top.Labels(), want.Labels()) {
		t.Errorf("TopK 1: topics %v labels %v; want one topic and the labels untouched", top.Topics, top.Labels())
	}
}

func TestClassifyBatchAndStream(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t, "127.0.0.1:0", server.Config{})
	c := newClient(t, ts.Addr)
	var articles []classifier.Article
	for i := range 300 {
		text := electionText
		if i%7 == 3 {
			text = " " // invalid: blank
		}
		articles = append(articles, classifier.Article{ID: fmt.Sprint(i), Text: text})
	}

	check := func(t *testing.T, results []client.ItemResult) {
		t.Helper()
		if len(results) != len(articles) {
			t.Fatalf("%d results, want %d", len(results), len(articles))
		}
		for i, r := range results {
			if r.ID != articles[i].ID {
				t.Fatalf("result %d has id %q, want %q", i, r.ID, articles[i].ID)
			}
			var invalid *client.InvalidInputError
			if i%7 == 3 {
				if !errors.As(r.Err, &invalid) || len(invalid.Invalid.Violations) != 1 || invalid.Invalid.Violations[0].Field != "text" {
					t.Errorf("result %d: err %v, want an InvalidInputError on text", i, r.Err)
				}
				continue
			}
			if r.Err != nil || !slices.Equal(r.Labels(), []string{"elections"}) {
				t.Errorf("result %d: labels %v err %v, want [elections]", i, r.Labels(), r.Err)
			}
		}
	}

	t.Run("batch", func(t *testing.T) {
		results, err := c.ClassifyBatch(testenv.Context(t), articles, classifier.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		check(t, results)
	})
	t.Run("stream", func(t *testing.T) {
		var results []client.ItemResult
		err := c.ClassifyStream(testenv.Context(t), slices.Values(articles), client.StreamOptions{Window: 8}, func(r client.ItemResult) error {
			results = append(results, r)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		check(t, results)
	})
	t.Run("stream stops at fn's error", func(t *testing.T) {
		stop := errors.New("enough")
		n := 0
		err := c.ClassifyStream(testenv.Context(t), slices.Values(articles), client.StreamOptions{}, func(client.ItemResult) error {
			if n++; n == 10 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 10 {
			t.Errorf("err %v after %d results, want %v after 10", err, n, stop)
		}
	})
	t.Run("empty batch", func(t *testing.T) {
		_, err := c.ClassifyBatch(testenv.Context(t), nil, classifier.Filter{})
		var invalid *client.InvalidInputError
		if !errors.As(err, &invalid) || invalid.Invalid.Violations[0].Field != "articles" {
			t.Errorf("err %v, want an InvalidInputError on articles", err)
		}
	})
}

func TestGetModelAndHealth(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t, "127.0.0.1:0", server.Config{})
	c := newClient(t, ts.Addr)
	md, err := c.GetModel(testenv.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	want := testenv.DefaultModel(t).Metadata()
	if md.Version != want.Version || !slices.Equal(md.Labels, want.Labels) || md.Samples != want.Samples ||
		md.CV.MacroF1 != want.CV.MacroF1 || !slices.Equal(md.CV.PerLabel, want.CV.PerLabel) || !md.Created.Equal(want.Created) ||
		md.Options.MinDF != want.Options.MinDF || md.LabelCounts[want.Labels[0]] != want.LabelCounts[want.Labels[0]] {
		t.Errorf("GetModel = %+v\nwant %+v", md, want)
	}
	st, err := c.Health(testenv.Context(t))
	if err != nil || st != client.Serving {
		t.Errorf("Health = %v, %v; want SERVING", st, err)
	}
}

func TestErrorsFromTheServer(t *testing.T) {
	t.Parallel()
	trainStarted, releaseTrain := make(chan struct{}, 1), make(chan struct{})
	slowTrain := func(ctx context.Context, _ []classifier.Sample, _ classifier.TrainOptions) (*classifier.Model, error) {
		trainStarted <- struct{}{}
		<-releaseTrain
		return testenv.DefaultModel(t), nil
	}
	weak := testenv.WeakModel(t)
	lowTrain := func(context.Context, []classifier.Sample, classifier.TrainOptions) (*classifier.Model, error) {
		return weak, nil
	}
	open := testenv.StartServer(t, "127.0.0.1:0", server.Config{})
	empty, err := server.New(server.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go empty.Serve(lis)
	t.Cleanup(func() { empty.Shutdown(context.Background()) })
	adminStore, _ := testenv.NewStore(t, nil)
	admin := testenv.StartServer(t, "127.0.0.1:0", server.Config{AdminToken: "secret", Store: adminStore, Train: slowTrain})
	noDir := testenv.StartServer(t, "127.0.0.1:0", server.Config{AdminToken: "secret"})
	goodStore, _ := testenv.NewStore(t, testenv.DefaultModel(t))
	lowQ := testenv.StartServer(t, "127.0.0.1:0", server.Config{AdminToken: "secret", Store: goodStore, Train: lowTrain})

	noRetry := client.WithRetryPolicy(client.RetryPolicy{MaxAttempts: 1})
	samples := func(yield func(classifier.Sample) error) error {
		for range 3 {
			if err := yield(classifier.Sample{Text: electionText, Labels: []string{"elections"}}); err != nil {
				return err
			}
		}
		return nil
	}
	classify := func(addr string, a classifier.Article, opts ...client.Option) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := newClient(t, addr, opts...).Classify(ctx, a, classifier.Filter{})
			return err
		}
	}
	train := func(addr string, opts ...client.Option) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := newClient(t, addr, opts...).Train(ctx, samples, client.TrainOptions{})
			return err
		}
	}
	token := []client.Option{client.WithToken("secret"), client.WithInsecureToken()}

	// Hold the admin server's one training slot.
	go train(admin.Addr, token...)(testenv.Context(t))
	<-trainStarted
	t.Cleanup(func() { close(releaseTrain) })

	tests := []struct {
		name       string
		call       func(context.Context) error
		want       []error
		violations []string
	}{
		{"blank text", classify(open.Addr, classifier.Article{Text: "  "}), []error{client.ErrInvalidArgument}, []string{"text"}},
		{"bad title and text", classify(open.Addr, classifier.Article{Title: "\xff", Text: ""}), []error{client.ErrInvalidArgument}, []string{"title", "text"}},
		{"no model loaded", classify(lis.Addr().String(), classifier.Article{Text: electionText}, noRetry), []error{client.ErrUnavailable}, nil},
		{"no server", classify("127.0.0.1:1", classifier.Article{Text: electionText}, noRetry), []error{client.ErrUnavailable}, nil},
		{"deadline", func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, time.Nanosecond)
			defer cancel()
			time.Sleep(time.Millisecond)
			return classify(open.Addr, classifier.Article{Text: electionText})(ctx)
		}, []error{context.DeadlineExceeded}, nil},
		{"train without token", train(admin.Addr), []error{client.ErrUnauthenticated}, nil},
		{"train with a wrong token", train(admin.Addr, client.WithToken("nope"), client.WithInsecureToken()), []error{client.ErrUnauthenticated}, nil},
		{"train disabled", train(open.Addr, token...), []error{client.ErrPermissionDenied}, nil},
		{"train without a model store", train(noDir.Addr, token...), []error{client.ErrFailedPrecondition}, nil},
		{"train while training", train(admin.Addr, token...), []error{client.ErrAborted, client.ErrTrainingInProgress}, nil},
		{"quality regression", train(lowQ.Addr, token...), []error{client.ErrFailedPrecondition, client.ErrQualityRegression}, nil},
		{"bad sample", func(ctx context.Context) error {
			_, err := newClient(t, lowQ.Addr, token...).Train(ctx, func(yield func(classifier.Sample) error) error {
				return yield(classifier.Sample{Text: electionText, Labels: []string{"Bad Label"}})
			}, client.TrainOptions{})
			return err
		}, []error{client.ErrInvalidArgument}, []string{"samples[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(testenv.Context(t))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("error %q (%T) is not %v", err, err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans lines", err)
			}
			var invalid *client.InvalidInputError
			if errors.As(err, &invalid) {
				var fields []string
				for _, v := range invalid.Invalid.Violations {
					fields = append(fields, v.Field)
					if !strings.Contains(err.Error(), v.Field+": "+v.Description) {
						t.Errorf("error %q does not spell out %s: %s", err, v.Field, v.Description)
					}
				}
				if !slices.Equal(fields, tt.violations) {
					t.Errorf("violations on %v, want %v", fields, tt.violations)
				}
			} else if tt.violations != nil {
				t.Errorf("error %q (%T) is not an *InvalidInputError", err, err)
			}
		})
	}
}

// TestErrorMapping converts statuses the server may send, details
// included, without a server.
func TestErrorMapping(t *testing.T) {
	t.Parallel()
	st := func(c codes.Code, msg string) *status.Status { return status.New(c, msg) }
	bad, _ := st(codes.InvalidArgument, "invalid request").WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: "articles[2].text", Description: "is empty"}, {Field: "top_k", Description: "is -1; it must be 0 or more"},
	}})
	busy, _ := st(codes.Aborted, "another Train call is running").WithDetails(&errdetails.ErrorInfo{Reason: "TRAINING_IN_PROGRESS", Domain: "artclass.v1"})
	worse, _ := st(codes.FailedPrecondition, "worse").WithDetails(&errdetails.ErrorInfo{Reason: "MODEL_QUALITY_REGRESSION", Metadata: map[string]string{"new_macro_f1": "0.5"}})
	tests := []struct {
		name    string
		st      *status.Status
		is      []error
		isNot   []error
		message string
	}{
		{"bad request", bad, []error{client.ErrInvalidArgument}, []error{client.ErrUnavailable}, "invalid argument: articles[2].text: is empty; top_k: is -1; it must be 0 or more"},
		{"bare invalid argument", st(codes.InvalidArgument, "bad\nthing"), []error{client.ErrInvalidArgument}, nil, "invalid argument: bad thing"},
		{"unauthenticated", st(codes.Unauthenticated, "no token"), []error{client.ErrUnauthenticated}, []error{client.ErrPermissionDenied}, "unauthenticated: no token"},
		{"permission denied", st(codes.PermissionDenied, "disabled"), []error{client.ErrPermissionDenied}, nil, "permission denied: disabled"},
		{"unavailable", st(codes.Unavailable, "down"), []error{client.ErrUnavailable}, []error{client.ErrTLSHandshake, client.ErrUnresolvable, client.ErrUnreachable}, "unavailable: down"},
		{"TLS handshake", st(codes.Unavailable, `connection error: desc = "transport: authentication handshake failed: tls: first record does not look like a TLS handshake"`),
			[]error{client.ErrUnavailable, client.ErrTLSHandshake}, []error{client.ErrUnreachable}, `TLS handshake failed: connection error: desc = "transport: authentication handshake failed: tls: first record does not look like a TLS handshake"`},
		{"unknown host", st(codes.Unavailable, "name resolver error: produced zero addresses"),
			[]error{client.ErrUnavailable, client.ErrUnresolvable}, []error{client.ErrTLSHandshake}, "cannot resolve the host: name resolver error: produced zero addresses"},
		{"connection refused", st(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"`),
			[]error{client.ErrUnavailable, client.ErrUnreachable}, []error{client.ErrUnresolvable}, `nothing answers: connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"`},
		{"TLS words in another code", st(codes.Internal, "tls: bad"), []error{client.ErrInternal}, []error{client.ErrTLSHandshake}, "internal error: tls: bad"},
		{"training in progress", busy, []error{client.ErrAborted, client.ErrTrainingInProgress}, nil, "training in progress: another Train call is running"},
		{"plain aborted", st(codes.Aborted, "x"), []error{client.ErrAborted}, []error{client.ErrTrainingInProgress}, "aborted: x"},
		{"quality regression", worse, []error{client.ErrFailedPrecondition, client.ErrQualityRegression}, nil, "model quality regression: worse"},
		{"failed precondition", st(codes.FailedPrecondition, "no dir"), []error{client.ErrFailedPrecondition}, []error{client.ErrQualityRegression}, "failed precondition: no dir"},
		{"resource exhausted", st(codes.ResourceExhausted, "big"), []error{client.ErrResourceExhausted}, nil, "resource exhausted: big"},
		{"internal", st(codes.Internal, "internal error"), []error{client.ErrInternal}, nil, "internal error: internal error"},
		{"deadline", st(codes.DeadlineExceeded, "late"), []error{context.DeadlineExceeded}, nil, "context deadline exceeded: late"},
		{"canceled", st(codes.Canceled, "gone"), []error{context.Canceled}, nil, "context canceled: gone"},
		{"unimplemented", st(codes.Unimplemented, "no"), []error{client.ErrServer}, nil, "server error: no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := client.FromStatusForTest(tt.st.Err())
			for _, w := range tt.is {
				if !errors.Is(err, w) {
					t.Errorf("%v is not %v", err, w)
				}
			}
			for _, w := range tt.isNot {
				if errors.Is(err, w) {
					t.Errorf("%v is %v", err, w)
				}
			}
			if err.Error() != tt.message {
				t.Errorf("message %q, want %q", err.Error(), tt.message)
			}
			if got := status.Code(err); got != tt.st.Code() {
				t.Errorf("status.Code = %v, want %v", got, tt.st.Code())
			}
		})
	}
	var e *client.Error
	if err := client.FromStatusForTest(worse.Err()); !errors.As(err, &e) || e.Reason != "MODEL_QUALITY_REGRESSION" || e.Metadata["new_macro_f1"] != "0.5" {
		t.Errorf("quality regression: %#v, want the ErrorInfo reason and metadata", err)
	}
}

// TestNoServer: a call that finds no server says why — a name that does
// not resolve, or nothing answering — beside ErrUnavailable.
func TestNoServer(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	tests := []struct {
		target string
		want   error
		not    error
	}{
		{"no-such-host.invalid:50051", client.ErrUnresolvable, client.ErrUnreachable},
		{"dns:///no-such-host.invalid:50051", client.ErrUnresolvable, client.ErrUnreachable},
		{closed, client.ErrUnreachable, client.ErrUnresolvable},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			t.Parallel()
			c := newClient(t, tt.target, client.WithRetryPolicy(client.RetryPolicy{MaxAttempts: 1}), client.WithTimeout(10*time.Second))
			_, err := c.GetModel(context.Background())
			if !errors.Is(err, client.ErrUnavailable) || !errors.Is(err, tt.want) || errors.Is(err, tt.not) {
				t.Errorf("GetModel: %v, want %v and %v, not %v", err, client.ErrUnavailable, tt.want, tt.not)
			}
		})
	}
}

// TestErrorCause: Cause digs gRPC's reason out of its nested quoting.
func TestErrorCause(t *testing.T) {
	t.Parallel()
	for msg, want := range map[string]string{
		`connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"`:         "Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused",
		`connection error: desc = "transport: authentication handshake failed: x509: certificate signed by unknown authority"`: "authentication handshake failed: x509: certificate signed by unknown authority",
		"no children to pick from": "no children to pick from",
		"the model\nis loading":    "the model is loading",
	} {
		e := &client.Error{Code: codes.Unavailable, Message: msg}
		if got := e.Cause(); got != want {
			t.Errorf("Cause of %q = %q, want %q", msg, got, want)
		}
	}
}

// TestRestartedServerIsRetried stops the server and starts another on the
// same port in the middle of a sequence of calls: none fails.
func TestRestartedServerIsRetried(t *testing.T) {
	t.Parallel()
	first := testenv.StartServer(t, "127.0.0.1:0", server.Config{})
	c := newClient(t, first.Addr, client.WithTimeout(20*time.Second))
	ctx := testenv.Context(t)
	call := func(i int) {
		t.Helper()
		if _, err := c.Classify(ctx, classifier.Article{Text: electionText}, classifier.Filter{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	for i := range 5 {
		call(i)
	}
	first.Stop()
	restarted := make(chan *testenv.Server)
	go func() {
		time.Sleep(300 * time.Millisecond) // calls made meanwhile find no server
		restarted <- testenv.StartServer(t, first.Addr, server.Config{})
	}()
	for i := 5; i < 10; i++ {
		call(i)
	}
	second := <-restarted
	if second.Calls() == 0 {
		t.Error("the restarted server answered no call")
	}
	if _, err := c.GetModel(ctx); err != nil {
		t.Errorf("GetModel after the restart: %v", err)
	}
}

// TestRoundRobin spreads calls over a list of two servers and goes on when
// one of them stops.
func TestRoundRobin(t *testing.T) {
	t.Parallel()
	a := testenv.StartServer(t, "127.0.0.1:0", server.Config{})
	b := testenv.StartServer(t, "127.0.0.1:0", server.Config{})
	c := newClient(t, a.Addr+","+b.Addr)
	ctx := testenv.Context(t)
	// round_robin picks among the connections that are ready, and the
	// second connects in the background: on a busy machine the first calls
	// can all go to one server. Within a few seconds both must be in use.
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; a.Calls() == 0 || b.Calls() == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("after %d calls in 5 s, calls per server: %d and %d; want both used", i, a.Calls(), b.Calls())
		}
		if _, err := c.Classify(ctx, classifier.Article{Text: electionText}, classifier.Filter{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	// Once both are ready, calls alternate between them.
	before := a.Calls()
	for i := range 20 {
		if _, err := c.Classify(ctx, classifier.Article{Text: electionText}, classifier.Filter{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if got := a.Calls() - before; got < 5 || got > 15 {
		t.Errorf("server a took %d of 20 calls once both were ready; want about half", got)
	}
	a.Stop()
	for i := range 20 {
		if _, err := c.Classify(ctx, classifier.Article{Text: electionText}, classifier.Filter{}); err != nil {
			t.Fatalf("call %d after a server stopped: %v", i, err)
		}
	}
}

func TestNewOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		target string
		opts   []client.Option
		want   string // "" for no error
	}{
		{"plain", "localhost:50051", nil, ""},
		{"dns", "dns:///localhost:50051", nil, ""},
		{"list", "127.0.0.1:1, 127.0.0.1:2", nil, ""},
		{"bad list", "127.0.0.1:1,nohost", nil, `address "nohost" in "127.0.0.1:1,nohost": want host:port`},
		{"URL", "http://localhost:50051", nil, "not a http URL"},
		{"no port", "localhost", nil, "want host:port"},
		{"port not a number", "localhost:http", nil, `port "http" is not a number`},
		{"dns without port", "dns:///localhost", nil, "want host:port"},
		{"unix socket", "unix:///tmp/artclass.sock", nil, ""},
		{"empty", " ", nil, "target is empty"},
		{"token without TLS", "localhost:50051", []client.Option{client.WithToken("t")}, "needs TLS"},
		{"plaintext token to loopback", "localhost:50051", []client.Option{client.WithToken("t"), client.WithInsecureToken()}, ""},
		{"plaintext token to [::1]", "[::1]:50051", []client.Option{client.WithToken("t"), client.WithInsecureToken()}, ""},
		{"plaintext token elsewhere", "example.com:50051", []client.Option{client.WithToken("t"), client.WithInsecureToken()}, "not a loopback address"},
		{"plaintext token to a list", "127.0.0.1:1,10.0.0.1:2", []client.Option{client.WithToken("t"), client.WithInsecureToken()}, "10.0.0.1:2"},
		{"token over TLS", "example.com:50051", []client.Option{client.WithToken("t"), client.WithTLS(nil)}, ""},
		{"empty token", "localhost:50051", []client.Option{client.WithToken(" \n")}, "token is empty"},
		{"missing CA file", "localhost:50051", []client.Option{client.WithCAFile("/nonexistent/ca.pem")}, "no such file"},
		{"negative timeout", "localhost:50051", []client.Option{client.WithTimeout(-time.Second)}, "negative"},
		{"bad retry policy", "localhost:50051", []client.Option{client.WithRetryPolicy(client.RetryPolicy{MaxAttempts: 3})}, "backoffs must be positive"},
		{"no retries", "localhost:50051", []client.Option{client.WithRetryPolicy(client.RetryPolicy{MaxAttempts: 1})}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := client.New(tt.target, tt.opts...)
			if c != nil {
				c.Close()
			}
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("New: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("New = %v, want an error mentioning %q", err, tt.want)
			case strings.Contains(tt.want, "host:port") && !errors.Is(err, client.ErrInvalidTarget):
				t.Errorf("New = %v, want ErrInvalidTarget", err)
			}
		})
	}
}

func TestMutualTLSAndToken(t *testing.T) {
	t.Parallel()
	pki := testenv.NewPKI(t)
	creds := pki.ServerTLS(t, true)
	train := func(context.Context, []classifier.Sample, classifier.TrainOptions) (*classifier.Model, error) {
		return testenv.DefaultModel(t), nil
	}
	weakStore, _ := testenv.NewStore(t, testenv.WeakModel(t))
	ts := testenv.StartServer(t, "127.0.0.1:0", server.Config{AdminToken: "secret", Store: weakStore, Train: train,
		ServerOptions: []grpc.ServerOption{creds}})

	noRetry := client.WithRetryPolicy(client.RetryPolicy{MaxAttempts: 1})
	without := newClient(t, ts.Addr, client.WithCAFile(pki.CAFile), noRetry)
	if _, err := without.GetModel(testenv.Context(t)); !errors.Is(err, client.ErrUnavailable) {
		t.Errorf("without a client certificate: %v, want ErrUnavailable", err)
	}

	c := newClient(t, ts.Addr, client.WithCAFile(pki.CAFile), client.WithClientCert(pki.ClientCert, pki.ClientKey), client.WithToken("secret"))
	if _, err := c.GetModel(testenv.Context(t)); err != nil {
		t.Fatalf("GetModel over mTLS: %v", err)
	}
	var progress []int
	res, err := c.Train(testenv.Context(t), func(yield func(classifier.Sample) error) error {
		for range 5 {
			if err := yield(classifier.Sample{Text: electionText, Labels: []string{"elections"}}); err != nil {
				return err
			}
		}
		return nil
	}, client.TrainOptions{Force: true, Progress: func(n int, _ int64) { progress = append(progress, n) }})
	if err != nil {
		t.Fatalf("Train over mTLS with the token: %v", err)
	}
	if res.Model.Version != testenv.DefaultModel(t).Version() || res.PreviousVersion == "" {
		t.Errorf("Train = %+v", res)
	}
	if !slices.Equal(progress, []int{5}) {
		t.Errorf("progress %v, want [5]", progress)
	}
}
