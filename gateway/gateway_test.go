package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/gateway"
	"github.com/artclass/artclass/internal/testenv"
	artclassv1 "github.com/artclass/artclass/proto/artclass/v1"
	"github.com/artclass/artclass/server"
)

const electionText = "Voters queued at polling stations across the country as the ballot closed; " +
	"the electoral commission said turnout was high and the count of votes for each candidate and party would run overnight."

// TestRoutes calls every route through a real server and checks that the
// call reached the server's gRPC method and what came back.
func TestRoutes(t *testing.T) {
	t.Parallel()
	const token = "routes-token"
	m := testenv.DefaultModel(t)
	store := memStore(t)
	if _, err := store.Put(testenv.Context(t), m, ""); err != nil {
		t.Fatal(err)
	}
	s := start(t, server.Config{Model: m, Store: store, AdminToken: token}, gateway.Options{})
	version := m.Version()
	svc := "/" + artclassv1.ClassifierService_ServiceDesc.ServiceName + "/"

	tests := []struct {
		name         string
		method, path string
		body         string
		wantMethod   string // the gRPC method the call must reach; "" for none
		wantStatus   int
		check        func(t *testing.T, body string)
	}{{
		name: "classify", method: "POST", path: "/v1/classify",
		body:       fmt.Sprintf(`{"article": {"title": "Polls close", "text": %q}}`, electionText),
		wantMethod: svc + "Classify", wantStatus: 200,
		check: func(t *testing.T, body string) {
			var r struct {
				Topics []struct {
					Label      string
					Confidence float64
					Assigned   bool
					Terms      []struct{ Term string }
				}
				Labels       []string
				ModelVersion string `json:"model_version"`
				Coverage     struct {
					KnownShare float64 `json:"known_share"`
				}
				Warnings []string
			}
			mustJSON(t, body, &r)
			if len(r.Topics) != 4 || r.Topics[0].Label != "elections" || !r.Topics[0].Assigned || len(r.Topics[0].Terms) == 0 {
				t.Errorf("topics = %+v, want 4 with elections first, assigned, with terms", r.Topics)
			}
			if !slices.Equal(r.Labels, []string{"elections"}) {
				t.Errorf("labels = %v, want [elections]", r.Labels)
			}
			if r.ModelVersion != version || r.Coverage.KnownShare <= 0.5 {
				t.Errorf("model_version = %q, known_share = %v; want %q and over 0.5", r.ModelVersion, r.Coverage.KnownShare, version)
			}
			// EmitUnpopulated: an ordinary article says it has no warnings.
			if !strings.Contains(body, `"warnings":[]`) {
				t.Errorf("body has no empty warnings list: %s", body)
			}
		},
	}, {
		name: "classify batch", method: "POST", path: "/v1/classify:batch",
		body:       fmt.Sprintf(`{"articles": [{"id": "a", "text": %q}, {"id": "b", "text": " "}], "filter": {"top_k": 1}}`, electionText),
		wantMethod: svc + "ClassifyBatch", wantStatus: 200,
		check: func(t *testing.T, body string) {
			var r struct {
				Results []struct {
					ID             string `json:"id"`
					Classification *struct{ Topics []struct{ Label string } }
					Error          *struct {
						Code    int
						Details []struct {
							FieldViolations []struct{ Field string } `json:"field_violations"`
						}
					}
				}
			}
			mustJSON(t, body, &r)
			if len(r.Results) != 2 {
				t.Fatalf("%d results, want 2: %s", len(r.Results), body)
			}
			if a := r.Results[0]; a.ID != "a" || a.Classification == nil || len(a.Classification.Topics) != 1 || a.Classification.Topics[0].Label != "elections" {
				t.Errorf("results[0] = %+v, want a classified as elections, one topic", a)
			}
			b := r.Results[1]
			if b.ID != "b" || b.Error == nil || b.Error.Code != int(codes.InvalidArgument) || len(b.Error.Details) != 1 ||
				len(b.Error.Details[0].FieldViolations) != 1 || b.Error.Details[0].FieldViolations[0].Field != "text" {
				t.Errorf("results[1] = %+v, want b with INVALID_ARGUMENT naming text", b)
			}
		},
	}, {
		name: "classify stream", method: "POST", path: "/v1/classify:stream",
		body:       fmt.Sprintf("{\"article\": {\"id\": \"1\", \"text\": %q}}\n{\"article\": {\"id\": \"2\", \"text\": \"\"}}\n", electionText),
		wantMethod: svc + "ClassifyStream", wantStatus: 200,
		check: func(t *testing.T, body string) {
			var ids []string
			var outcomes []string
			sc := bufio.NewScanner(strings.NewReader(body))
			for sc.Scan() {
				var line struct {
					Result struct {
						Result struct {
							ID             string          `json:"id"`
							Classification json.RawMessage `json:"classification"`
							Error          json.RawMessage `json:"error"`
						}
					}
				}
				mustJSON(t, sc.Text(), &line)
				r := line.Result.Result
				ids = append(ids, r.ID)
				switch {
				case r.Classification != nil:
					outcomes = append(outcomes, "classification")
				case r.Error != nil:
					outcomes = append(outcomes, "error")
				}
			}
			if !slices.Equal(ids, []string{"1", "2"}) || !slices.Equal(outcomes, []string{"classification", "error"}) {
				t.Errorf("stream answered ids %v with %v, want [1 2] with [classification error]\n%s", ids, outcomes, body)
			}
		},
	}, {
		name: "get model", method: "GET", path: "/v1/model",
		wantMethod: svc + "GetModel", wantStatus: 200,
		check: func(t *testing.T, body string) {
			var r struct {
				Model struct {
					Version         string
					Labels          []string
					Thresholds      map[string]float64
					LabelCounts     map[string]int `json:"label_counts"`
					CrossValidation struct {
						MacroF1 float64 `json:"macro_f1"`
					} `json:"cross_validation"`
				}
			}
			mustJSON(t, body, &r)
			m := r.Model
			if m.Version != version || len(m.Labels) != 4 || len(m.Thresholds) != 4 || len(m.LabelCounts) != 4 || m.CrossValidation.MacroF1 <= 0 {
				t.Errorf("model = %+v, want version %s with 4 labels, thresholds and counts, and a macro-F1", m, version)
			}
		},
	}, {
		// The stored version becomes the active one; the path parameter is
		// the request's version.
		name: "activate model", method: "POST", path: "/v1/models/" + version + ":activate", body: "{}",
		wantMethod: svc + "ActivateModel", wantStatus: 200,
		check: func(t *testing.T, body string) {
			var r struct {
				Model           struct{ Version string }
				PreviousVersion string `json:"previous_version"`
			}
			mustJSON(t, body, &r)
			if r.Model.Version != version || r.PreviousVersion != "" {
				t.Errorf("activate answered %+v, want %s active with no previous version", r, version)
			}
		},
	}, {
		name: "list models", method: "GET", path: "/v1/models",
		wantMethod: svc + "ListModels", wantStatus: 200,
		check: func(t *testing.T, body string) {
			var r struct {
				Models []struct {
					Model  struct{ Version string }
					Active bool
				}
				ActiveVersion string `json:"active_version"`
			}
			mustJSON(t, body, &r)
			if len(r.Models) != 1 || r.Models[0].Model.Version != version || !r.Models[0].Active || r.ActiveVersion != version {
				t.Errorf("list answered %+v, want %s alone and active", r, version)
			}
		},
	}, {
		// No body at all is an empty request, as {} is.
		name: "unknown version", method: "POST", path: "/v1/models/00000000000000000000000000000000:activate",
		wantMethod: svc + "ActivateModel", wantStatus: 404,
	}, {
		name: "healthz", method: "GET", path: "/healthz",
		wantMethod: "/grpc.health.v1.Health/Check", wantStatus: 200,
		check: func(t *testing.T, body string) {
			if !strings.Contains(body, `"SERVING"`) {
				t.Errorf("healthz = %s, want SERVING", body)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(s.called())
			r := s.do(t, tt.method, tt.path, tt.body, "Content-Type", "application/json", "Authorization", "Bearer "+token)
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			for h := range r.header {
				if strings.HasPrefix(h, "Grpc-") {
					t.Errorf("response header %s: %s; the server's gRPC metadata should stay inside", h, r.header.Get(h))
				}
			}
			if got := s.called()[before:]; !slices.Equal(got, []string{tt.wantMethod}) {
				t.Errorf("server called %v, want [%s]", got, tt.wantMethod)
			}
			if tt.check != nil {
				tt.check(t, r.body)
			}
		})
	}
}

// TestAuthorizationForwarded checks that the Authorization header reaches
// the server as the one `authorization` metadata value it checks, and under
// no other name.
func TestAuthorizationForwarded(t *testing.T) {
	t.Parallel()
	const token = "fwd-token"
	s := start(t, server.Config{Model: testenv.DefaultModel(t), AdminToken: token, Store: memStore(t)}, gateway.Options{})
	r := s.do(t, "GET", "/v1/models", "", "Authorization", "Bearer "+token, "User-Agent", "curl/8")
	if r.status != 200 {
		t.Fatalf("ListModels with the token: status %d: %s", r.status, r.body)
	}
	md := s.lastMetadata()
	if got := md.Get("authorization"); !slices.Equal(got, []string{"Bearer " + token}) {
		t.Errorf("authorization metadata %q, want the one bearer token", got)
	}
	for k, v := range md {
		if k != "authorization" && slices.ContainsFunc(v, func(s string) bool { return strings.Contains(s, token) }) {
			t.Errorf("the token is also in metadata %s", k)
		}
	}
	if got := md.Get("grpcgateway-user-agent"); !slices.Equal(got, []string{"curl/8"}) {
		t.Errorf("grpcgateway-user-agent metadata %q, want the client's User-Agent", got)
	}
}

func mustJSON(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}

// TestErrors checks the HTTP status, the google.rpc.Status code and the
// field violations of every kind of refusal.
func TestErrors(t *testing.T) {
	t.Parallel()
	const token = "s3cret-token"
	m := testenv.DefaultModel(t)
	trainBody := `{"options": {"algorithm": "logreg"}}` + "\n" + `{"samples": [{"text": "Troops crossed the border.", "labels": ["defence"]}, {"text": "Shares rose."}]}` + "\n"
	tests := []struct {
		name           string
		cfg            server.Config
		opts           gateway.Options
		method, path   string
		body           string
		headers        []string
		wantHTTP       int
		wantCode       codes.Code
		wantViolations []string // field names, in order
		wantMessage    string   // a part of the message
	}{{
		name: "empty text", cfg: server.Config{Model: m},
		method: "POST", path: "/v1/classify", body: `{"article": {"title": "t", "text": "  "}}`,
		wantHTTP: 400, wantCode: codes.InvalidArgument, wantViolations: []string{"article.text"},
	}, {
		name: "text over the server's limit", cfg: server.Config{Model: m, Limits: classifier.Limits{MaxTextBytes: 64}},
		method: "POST", path: "/v1/classify", body: fmt.Sprintf(`{"article": {"text": %q}}`, electionText),
		wantHTTP: 400, wantCode: codes.InvalidArgument, wantViolations: []string{"article.text"}, wantMessage: "the limit is 64 bytes",
	}, {
		name: "bad filter", cfg: server.Config{Model: m},
		method: "POST", path: "/v1/classify", body: `{"article": {"text": "x"}, "filter": {"top_k": -1, "min_confidence": 2}}`,
		wantHTTP: 400, wantCode: codes.InvalidArgument, wantViolations: []string{"filter.top_k", "filter.min_confidence"},
	}, {
		name: "malformed JSON", cfg: server.Config{Model: m},
		method: "POST", path: "/v1/classify", body: `{"article": `,
		wantHTTP: 400, wantCode: codes.InvalidArgument,
	}, {
		name: "unknown field", cfg: server.Config{Model: m},
		method: "POST", path: "/v1/classify", body: `{"article": {"txt": "a typo"}}`,
		wantHTTP: 400, wantCode: codes.InvalidArgument, wantMessage: `unknown field "txt"`,
	}, {
		name: "empty batch", cfg: server.Config{Model: m},
		method: "POST", path: "/v1/classify:batch", body: `{"articles": []}`,
		wantHTTP: 400, wantCode: codes.InvalidArgument, wantViolations: []string{"articles"},
	}, {
		name: "batch over the server's limit", cfg: server.Config{Model: m, MaxBatch: 2},
		method: "POST", path: "/v1/classify:batch", body: `{"articles": [{"text": "a"}, {"text": "b"}, {"text": "c"}]}`,
		wantHTTP: 400, wantCode: codes.InvalidArgument, wantViolations: []string{"articles"}, wantMessage: "the limit is 2",
	}, {
		name: "body over the gateway's limit", cfg: server.Config{Model: m}, opts: gateway.Options{MaxBodyBytes: 100},
		method: "POST", path: "/v1/classify", body: fmt.Sprintf(`{"article": {"text": %q}}`, electionText),
		wantHTTP: 413, wantCode: codes.ResourceExhausted, wantViolations: []string{"body"}, wantMessage: "limit of 100 bytes",
	}, {
		name: "Train body over the gateway's stream limit", cfg: server.Config{Model: m, AdminToken: token, Store: memStore(t)},
		opts:   gateway.Options{MaxBodyBytes: 1 << 20, MaxStreamBodyBytes: 100},
		method: "POST", path: "/v1/models:train", body: trainBody, headers: []string{"Authorization", "Bearer " + token},
		wantHTTP: 413, wantCode: codes.ResourceExhausted, wantViolations: []string{"body"}, wantMessage: "limit of 100 bytes",
	}, {
		name:   "message over the server's limit",
		cfg:    server.Config{Model: m, ServerOptions: []grpc.ServerOption{grpc.MaxRecvMsgSize(100)}},
		method: "POST", path: "/v1/classify", body: fmt.Sprintf(`{"article": {"text": %q}}`, electionText),
		wantHTTP: 413, wantCode: codes.ResourceExhausted,
	}, {
		name: "Train stream over the server's limit", cfg: server.Config{Model: m, AdminToken: token, Store: memStore(t), MaxTrainSamples: 1},
		method: "POST", path: "/v1/models:train", body: trainBody, headers: []string{"Authorization", "Bearer " + token},
		wantHTTP: 413, wantCode: codes.ResourceExhausted, wantMessage: "limit of 1 samples",
	}, {
		name: "no model loaded", cfg: server.Config{},
		method: "POST", path: "/v1/classify", body: `{"article": {"text": "x"}}`,
		wantHTTP: 503, wantCode: codes.Unavailable,
	}, {
		name: "no model to describe", cfg: server.Config{},
		method: "GET", path: "/v1/model",
		wantHTTP: 503, wantCode: codes.Unavailable,
	}, {
		name: "unknown route", cfg: server.Config{Model: m},
		method: "GET", path: "/v1/nothing",
		wantHTTP: 404, wantCode: codes.NotFound, wantMessage: "/openapi.json",
	}, {
		name: "wrong method", cfg: server.Config{Model: m},
		method: "GET", path: "/v1/classify",
		wantHTTP: 405, wantCode: codes.Unimplemented,
	}, {
		name: "Train without a token", cfg: server.Config{Model: m, AdminToken: token},
		method: "POST", path: "/v1/models:train", body: trainBody,
		wantHTTP: 401, wantCode: codes.Unauthenticated,
	}, {
		name: "Train with the wrong token", cfg: server.Config{Model: m, AdminToken: token},
		method: "POST", path: "/v1/models:train", body: trainBody, headers: []string{"Authorization", "Bearer not-it"},
		wantHTTP: 401, wantCode: codes.Unauthenticated, wantMessage: "not valid",
	}, {
		name: "Train on a server without an admin token", cfg: server.Config{Model: m},
		method: "POST", path: "/v1/models:train", body: trainBody, headers: []string{"Authorization", "Bearer " + token},
		wantHTTP: 403, wantCode: codes.PermissionDenied,
	}, {
		name: "Train on a server without a model store", cfg: server.Config{Model: m, AdminToken: token},
		method: "POST", path: "/v1/models:train", body: trainBody, headers: []string{"Authorization", "Bearer " + token},
		wantHTTP: 400, wantCode: codes.FailedPrecondition, wantMessage: "--model-store",
	}, {
		name: "list models without a token", cfg: server.Config{Model: m, AdminToken: token},
		method: "GET", path: "/v1/models",
		wantHTTP: 401, wantCode: codes.Unauthenticated,
	}, {
		name: "bad version to activate", cfg: server.Config{Model: m, AdminToken: token},
		method: "POST", path: "/v1/models/NOT-A-VERSION:activate", body: "{}", headers: []string{"Authorization", "Bearer " + token},
		wantHTTP: 400, wantCode: codes.InvalidArgument, wantViolations: []string{"version"},
	}, {
		name: "Train with a bad sample", cfg: server.Config{Model: m, AdminToken: token, Store: memStore(t)},
		method: "POST", path: "/v1/models:train", body: `{"samples": [{"text": "", "labels": ["defence"]}]}`,
		headers:  []string{"Authorization", "Bearer " + token},
		wantHTTP: 400, wantCode: codes.InvalidArgument, wantViolations: []string{"samples[0]"},
	}, {
		name: "Train with bad options", cfg: server.Config{Model: m, AdminToken: token, Store: memStore(t)},
		method: "POST", path: "/v1/models:train", body: `{"options": {"folds": 1}}`,
		headers:  []string{"Authorization", "Bearer " + token},
		wantHTTP: 400, wantCode: codes.InvalidArgument, wantViolations: []string{"options"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, tt.cfg, tt.opts)
			r := s.do(t, tt.method, tt.path, tt.body, append([]string{"Content-Type", "application/json"}, tt.headers...)...)
			if r.status != tt.wantHTTP {
				t.Errorf("HTTP status %d, want %d: %s", r.status, tt.wantHTTP, r.body)
			}
			st := errorStatus(t, r)
			if st.Code() != tt.wantCode {
				t.Errorf("code %v, want %v: %s", st.Code(), tt.wantCode, r.body)
			}
			if !strings.Contains(st.Message(), tt.wantMessage) {
				t.Errorf("message %q does not say %q", st.Message(), tt.wantMessage)
			}
			var fields []string
			for _, d := range st.Details() {
				if br, ok := d.(*errdetails.BadRequest); ok {
					for _, v := range br.GetFieldViolations() {
						fields = append(fields, v.GetField())
						if v.GetDescription() == "" {
							t.Errorf("violation of %s has no description", v.GetField())
						}
					}
				}
			}
			if !slices.Equal(fields, tt.wantViolations) {
				t.Errorf("field violations %v, want %v", fields, tt.wantViolations)
			}
			if want := `Bearer realm="artclass"`; r.status == 401 && r.header.Get("WWW-Authenticate") != want {
				t.Errorf("WWW-Authenticate = %q, want %q", r.header.Get("WWW-Authenticate"), want)
			}
		})
	}
}

// TestTrainNDJSON retrains the served model through the HTTP API: the body
// is newline-delimited JSON, the admin token an Authorization header, and
// the model the server then serves is the one trained.
func TestTrainNDJSON(t *testing.T) {
	t.Parallel()
	const token = "train-token"
	s := start(t, server.Config{Model: testenv.DefaultModel(t), AdminToken: token, Store: memStore(t)}, gateway.Options{})

	var body strings.Builder
	body.WriteString(`{"options": {"algorithm": "logreg", "folds": 2, "force": true}}` + "\n")
	for _, f := range []string{"defence", "elections", "environment", "middle-east", "negatives-general"} {
		samples, err := classifier.ReadSamplesFile(filepath.Join("..", "testdata", "corpus", f+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		// Two lines per topic file, ten samples each: several messages, as
		// a client streaming a large file would send.
		for i := range 2 {
			b, err := json.Marshal(map[string]any{"samples": samples[i*10 : i*10+10]})
			if err != nil {
				t.Fatal(err)
			}
			body.Write(b)
			body.WriteByte('\n')
		}
	}
	r := s.do(t, "POST", "/v1/models:train", body.String(), "Content-Type", "application/x-ndjson", "Authorization", "Bearer "+token)
	if r.status != 200 {
		t.Fatalf("Train: status %d: %s", r.status, r.body)
	}
	var trained struct {
		Model struct {
			Version string
			Samples int
		}
		PreviousVersion string `json:"previous_version"`
	}
	mustJSON(t, r.body, &trained)
	// The store was empty, so the model replaced none.
	if trained.Model.Samples != 100 || trained.PreviousVersion != "" || trained.Model.Version == testenv.DefaultModel(t).Version() {
		t.Errorf("Train answered %+v, want a new model of 100 samples replacing none", trained)
	}
	var got struct{ Model struct{ Version string } }
	mustJSON(t, s.do(t, "GET", "/v1/model", "").body, &got)
	if got.Model.Version != trained.Model.Version {
		t.Errorf("after Train the server serves %s, want %s", got.Model.Version, trained.Model.Version)
	}
}

// TestTrainConflict checks that a Train call made while another runs gets
// 409 with the reason, and that the first one still succeeds.
func TestTrainConflict(t *testing.T) {
	t.Parallel()
	const token = "t"
	started, release := make(chan struct{}), make(chan struct{})
	m := testenv.DefaultModel(t)
	s := start(t, server.Config{
		Model: m, AdminToken: token, Store: memStore(t),
		// A training run that lasts until the test lets it finish.
		Train: func(ctx context.Context, _ []classifier.Sample, _ classifier.TrainOptions) (*classifier.Model, error) {
			close(started)
			select {
			case <-release:
				return m, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		},
	}, gateway.Options{})
	body := `{"samples": [{"text": "Troops crossed the border.", "labels": ["defence"]}]}`
	first := make(chan response, 1)
	go func() { first <- s.do(t, "POST", "/v1/models:train", body, "Authorization", "Bearer "+token) }()
	<-started
	r := s.do(t, "POST", "/v1/models:train", body, "Authorization", "Bearer "+token)
	close(release)
	if r.status != http.StatusConflict {
		t.Errorf("second Train: status %d, want 409: %s", r.status, r.body)
	}
	st := errorStatus(t, r)
	reason := ""
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			reason = ei.GetReason()
		}
	}
	if st.Code() != codes.Aborted || reason != "TRAINING_IN_PROGRESS" {
		t.Errorf("second Train: %v with reason %q, want ABORTED with TRAINING_IN_PROGRESS", st.Code(), reason)
	}
	if r := <-first; r.status != 200 {
		t.Errorf("first Train: status %d, want 200: %s", r.status, r.body)
	}
}

// TestCORS checks that cross-origin calls are refused unless their origin
// is listed, preflight included.
func TestCORS(t *testing.T) {
	t.Parallel()
	const listed = "https://cms.example.com"
	tests := []struct {
		name        string
		origins     []string
		method      string
		origin      string
		wantAllowed bool
	}{
		{name: "off by default, preflight", method: "OPTIONS", origin: listed},
		{name: "off by default, call", method: "POST", origin: listed},
		{name: "listed origin, preflight", origins: []string{listed}, method: "OPTIONS", origin: listed, wantAllowed: true},
		{name: "listed origin, call", origins: []string{listed}, method: "POST", origin: listed, wantAllowed: true},
		{name: "other origin, preflight", origins: []string{listed}, method: "OPTIONS", origin: "https://evil.example.net"},
		{name: "other origin, call", origins: []string{listed}, method: "POST", origin: "https://evil.example.net"},
		{name: "subdomain wildcard", origins: []string{"https://*.example.com"}, method: "OPTIONS", origin: listed, wantAllowed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, withModel(t), gateway.Options{CORSOrigins: tt.origins})
			headers := []string{"Origin", tt.origin, "Content-Type", "application/json"}
			if tt.method == "OPTIONS" {
				headers = append(headers, "Access-Control-Request-Method", "POST",
					"Access-Control-Request-Headers", "authorization,content-type")
			}
			r := s.do(t, tt.method, "/v1/classify", `{"article": {"text": "Troops crossed the border."}}`, headers...)
			got := r.header.Get("Access-Control-Allow-Origin")
			if tt.wantAllowed != (got == tt.origin) {
				t.Errorf("Access-Control-Allow-Origin = %q, want allowed %v for %s", got, tt.wantAllowed, tt.origin)
			}
			if tt.method == "OPTIONS" && tt.wantAllowed {
				if r.status != http.StatusNoContent {
					t.Errorf("preflight status %d, want 204", r.status)
				}
				if h := strings.ToLower(r.header.Get("Access-Control-Allow-Headers")); !strings.Contains(h, "authorization") {
					t.Errorf("Access-Control-Allow-Headers = %q, want authorization allowed", h)
				}
			}
			// A call is answered either way: the browser, not the server,
			// withholds the answer from a page of an unlisted origin.
			if tt.method == "POST" && r.status != 200 {
				t.Errorf("call status %d, want 200: %s", r.status, r.body)
			}
		})
	}
}

// TestNewOptions checks that bad options are refused with an error naming
// the option.
func TestNewOptions(t *testing.T) {
	t.Parallel()
	conn, err := grpc.NewClient("passthrough:///unused", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tests := []struct {
		name    string
		opts    gateway.Options
		wantErr string // "" for none
	}{
		{name: "zero"},
		{name: "origins", opts: gateway.Options{CORSOrigins: []string{"*", "http://localhost:3000", "https://*.example.com"}}},
		{name: "path in origin", opts: gateway.Options{CORSOrigins: []string{"https://ok.example", "https://example.com/app"}}, wantErr: "CORSOrigins[1]"},
		{name: "no scheme", opts: gateway.Options{CORSOrigins: []string{"example.com"}}, wantErr: "scheme must be http or https"},
		{name: "empty origin", opts: gateway.Options{CORSOrigins: []string{""}}, wantErr: "CORSOrigins[0]"},
		{name: "negative body limit", opts: gateway.Options{MaxBodyBytes: -1}, wantErr: "MaxBodyBytes is -1"},
		{name: "negative stream limit", opts: gateway.Options{MaxStreamBodyBytes: -1}, wantErr: "MaxStreamBodyBytes is -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := gateway.New(context.Background(), conn, tt.opts)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("New: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("New: error %v, want one saying %q", err, tt.wantErr)
			}
		})
	}
	if _, err := gateway.New(context.Background(), nil, gateway.Options{}); err == nil {
		t.Error("New with a nil conn: no error")
	}
}

// TestOpenAPI checks that /openapi.json is the generated description and
// that it describes every route of the service.
func TestOpenAPI(t *testing.T) {
	t.Parallel()
	s := start(t, withModel(t), gateway.Options{})
	r := s.do(t, "GET", "/openapi.json", "")
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" || r.body != string(gateway.OpenAPI()) {
		t.Fatalf("GET /openapi.json: status %d, Content-Type %q, body the generated file: %v",
			r.status, r.header.Get("Content-Type"), r.body == string(gateway.OpenAPI()))
	}
	var doc struct {
		Swagger string
		Paths   map[string]map[string]struct {
			OperationID string `json:"operationId"`
		}
	}
	mustJSON(t, r.body, &doc)
	var ops []string
	for path, methods := range doc.Paths {
		for method, op := range methods {
			ops = append(ops, fmt.Sprintf("%s %s %s", strings.ToUpper(method), path, strings.TrimPrefix(op.OperationID, "ClassifierService_")))
		}
	}
	slices.Sort(ops)
	want := []string{
		"GET /v1/model GetModel",
		"GET /v1/models ListModels",
		"POST /v1/classify Classify",
		"POST /v1/classify:batch ClassifyBatch",
		"POST /v1/classify:stream ClassifyStream",
		"POST /v1/models/{version}:activate ActivateModel",
		"POST /v1/models:train Train",
	}
	if doc.Swagger != "2.0" || !slices.Equal(ops, want) {
		t.Errorf("OpenAPI %q describes\n%s\nwant\n%s", doc.Swagger, strings.Join(ops, "\n"), strings.Join(want, "\n"))
	}
	// Every RPC of the service has a route.
	if n := len(artclassv1.ClassifierService_ServiceDesc.Methods) + len(artclassv1.ClassifierService_ServiceDesc.Streams); n != len(want) {
		t.Errorf("the service has %d RPCs, the description %d routes", n, len(want))
	}
}

// TestPlaygroundServed checks that / serves the playground's page and
// files with a policy that keeps it to its own origin.
func TestPlaygroundServed(t *testing.T) {
	t.Parallel()
	s := start(t, withModel(t), gateway.Options{})
	for _, tt := range []struct{ path, contentType, contains string }{
		{"/", "text/html; charset=utf-8", "<title>artclass"},
		{"/app.js", "text/javascript; charset=utf-8", "/v1/classify"},
		{"/app.css", "text/css; charset=utf-8", "--accent"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			r := s.do(t, "GET", tt.path, "")
			if r.status != 200 || r.header.Get("Content-Type") != tt.contentType || !strings.Contains(r.body, tt.contains) {
				t.Errorf("GET %s: status %d, Content-Type %q, body has %q: %v", tt.path, r.status, r.header.Get("Content-Type"), tt.contains, strings.Contains(r.body, tt.contains))
			}
			if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
				t.Errorf("Content-Security-Policy = %q", csp)
			}
		})
	}
	if r := s.do(t, "GET", "/no-such-file.js", ""); r.status != 404 {
		t.Errorf("GET /no-such-file.js: status %d, want 404", r.status)
	}
}

// TestStreamBodyLimit checks that the streaming routes have their own body
// limit, above a unary call's.
func TestStreamBodyLimit(t *testing.T) {
	t.Parallel()
	s := start(t, withModel(t), gateway.Options{MaxBodyBytes: 100})
	body := strings.Repeat(fmt.Sprintf("{\"article\": {\"text\": %q}}\n", electionText), 3)
	if r := s.do(t, "POST", "/v1/classify:stream", body); r.status != 200 || strings.Count(r.body, "\n") != 3 {
		t.Errorf("stream of %d bytes with a 100-byte unary limit: status %d, %d lines: %s", len(body), r.status, strings.Count(r.body, "\n"), r.body)
	}
}

// TestClassifyStreamLong streams more articles than an HTTP/1 server
// buffers: every one must be answered, in order. (Without full duplex the
// server drops the rest of the body at the first answer, and the stream
// ends early with a 200.)
func TestClassifyStreamLong(t *testing.T) {
	t.Parallel()
	s := start(t, withModel(t), gateway.Options{})
	const n = 500
	var body strings.Builder
	for i := range n {
		fmt.Fprintf(&body, "{\"article\": {\"id\": \"%d\", \"text\": %q}, \"filter\": {\"top_k\": 1}}\n", i, electionText)
	}
	r := s.do(t, "POST", "/v1/classify:stream", body.String(), "Content-Type", "application/x-ndjson")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	lines := strings.Split(strings.TrimSuffix(r.body, "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d answers to %d articles; last: %s", len(lines), n, lines[len(lines)-1])
	}
	for i, line := range lines {
		var a struct {
			Result struct {
				Result struct {
					ID             string          `json:"id"`
					Classification json.RawMessage `json:"classification"`
				}
			}
		}
		mustJSON(t, line, &a)
		if a.Result.Result.ID != fmt.Sprint(i) || a.Result.Result.Classification == nil {
			t.Fatalf("answer %d: %s, want article %d classified", i, line, i)
		}
	}
}

// TestHTTPStatus checks the mapping of gRPC codes to HTTP statuses,
// RESOURCE_EXHAUSTED's two meanings included.
func TestHTTPStatus(t *testing.T) {
	t.Parallel()
	withDetail := func(c codes.Code, d protoadapt.MessageV1) *status.Status {
		st, err := status.New(c, "x").WithDetails(d)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	tests := []struct {
		name string
		st   *status.Status
		want int
	}{
		{"invalid argument", status.New(codes.InvalidArgument, "x"), 400},
		{"failed precondition", status.New(codes.FailedPrecondition, "x"), 400},
		{"unauthenticated", status.New(codes.Unauthenticated, "x"), 401},
		{"permission denied", status.New(codes.PermissionDenied, "x"), 403},
		{"not found", status.New(codes.NotFound, "x"), 404},
		{"aborted", status.New(codes.Aborted, "x"), 409},
		{"already exists", status.New(codes.AlreadyExists, "x"), 409},
		{"size limit", status.New(codes.ResourceExhausted, "x"), 413},
		{"size limit with a bad request", withDetail(codes.ResourceExhausted, &errdetails.BadRequest{}), 413},
		{"quota", withDetail(codes.ResourceExhausted, &errdetails.QuotaFailure{}), 429},
		{"rate limit", withDetail(codes.ResourceExhausted, &errdetails.RetryInfo{}), 429},
		{"internal", status.New(codes.Internal, "x"), 500},
		{"unimplemented", status.New(codes.Unimplemented, "x"), 501},
		{"unavailable", status.New(codes.Unavailable, "x"), 503},
		{"deadline", status.New(codes.DeadlineExceeded, "x"), 504},
	}
	for _, tt := range tests {
		if got := gateway.HTTPStatus(tt.st); got != tt.want {
			t.Errorf("%s: HTTPStatus(%v) = %d, want %d", tt.name, tt.st.Code(), got, tt.want)
		}
	}
}
