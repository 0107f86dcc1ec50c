// Package gateway serves the artclass API as HTTP/JSON, its OpenAPI
// description, and a web playground, in front of artclassd's gRPC server.
//
// Every API call goes through a real gRPC connection to the server, so the
// server's interceptors (authentication, limits, logging, metrics, panic
// recovery) treat an HTTP call exactly as a gRPC one. The routes are the
// google.api.http annotations of proto/artclass/v1/classifier_service.proto:
//
//	POST /v1/classify                   Classify
//	POST /v1/classify:batch             ClassifyBatch
//	POST /v1/classify:stream            ClassifyStream (newline-delimited JSON both ways)
//	GET  /v1/model                      GetModel
//	GET  /v1/models                     ListModels
//	POST /v1/models/{version}:activate  ActivateModel
//	POST /v1/models:train               Train (newline-delimited JSON request body)
//	GET  /openapi.json                  the OpenAPI v2 description of the routes above
//	GET  /healthz                       gRPC health of the whole server, as JSON
//	GET  /                              the playground
//
// JSON field names are the proto's own (snake_case, as in the CLI's JSON
// output), and responses carry every field, zero values included. Errors are
// a JSON google.rpc.Status with its details (a google.rpc.BadRequest names
// each bad field) and the HTTP status of its code; see HTTPStatus. The admin
// token travels as `Authorization: Bearer TOKEN`, forwarded to the server as
// the `authorization` metadata it checks. docs/http.md has a curl example for
// every call.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/rs/cors"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protojson"

	artclassv1 "github.com/artclass/artclass/proto/artclass/v1"
)

// Defaults for the zero fields of Options.
const (
	// DefaultMaxBodyBytes bounds the body of a unary call. It is above the
	// JSON form of the largest request the server accepts with its default
	// limits (a 1 MiB article, escaped), and bounds what one call can make
	// the gateway hold in memory.
	DefaultMaxBodyBytes = 32 << 20
	// DefaultMaxStreamBodyBytes bounds the body of a streaming call (Train,
	// ClassifyStream). It is twice the server's default Train limit of 256
	// MiB of protobuf, as JSON is larger than protobuf; the server enforces
	// its own limit per stream as well.
	DefaultMaxStreamBodyBytes = 512 << 20
)

// Options configures the gateway. The zero value serves every route with
// CORS off and the default body limits.
type Options struct {
	// CORSOrigins are the origins whose browser pages may call the API from
	// another origin, such as "https://cms.example.com"; "*" admits any
	// origin and "https://*.example.com" any subdomain. Empty turns CORS
	// off: browsers then allow only pages served by the gateway itself.
	CORSOrigins []string
	// MaxBodyBytes bounds the request body of a unary call; a larger body
	// gets 413. DefaultMaxBodyBytes when zero.
	MaxBodyBytes int64
	// MaxStreamBodyBytes bounds the request body of Train and
	// ClassifyStream; a larger body gets 413. DefaultMaxStreamBodyBytes when
	// zero.
	MaxStreamBodyBytes int64
}

// isStreaming reports whether path is a route whose body is a stream of
// JSON messages.
func isStreaming(path string) bool {
	return path == "/v1/models:train" || path == "/v1/classify:stream"
}

// New returns the gateway's handler: the API, /openapi.json, /healthz and
// the playground. Every API call is made on conn, a connection to
// artclassd's gRPC server, with the ctx of the HTTP request; ctx is kept by
// grpc-gateway for the life of the registration. The caller owns conn and
// closes it after the HTTP server has stopped.
//
// conn's default call options should allow responses as large as the
// server sends (grpc.MaxCallRecvMsgSize): a batch of 1,000 results is over
// grpc-go's default 4 MiB.
func New(ctx context.Context, conn *grpc.ClientConn, opts Options) (http.Handler, error) {
	if conn == nil {
		return nil, errors.New("gateway: conn is nil; pass a connection to artclassd's gRPC server")
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxStreamBodyBytes == 0 {
		opts.MaxStreamBodyBytes = DefaultMaxStreamBodyBytes
	}

	api := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, jsonCodec{&runtime.JSONPb{
			// The proto's names, as the CLI's JSON and the proto
			// documentation spell them; every field, so that a client sees
			// "labels": [] rather than no key for an article with no label.
			MarshalOptions: protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true},
			// Unknown fields are refused so that a typo ("txt") is a 400
			// naming it, not a silently empty article.
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}}),
		// The server's response metadata (its content-type, application/grpc)
		// means nothing to an HTTP client, so none becomes a header.
		runtime.WithOutgoingHeaderMatcher(forwardNone),
		runtime.WithOutgoingTrailerMatcher(forwardNone),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithErrorHandler(errorHandler),
		runtime.WithRoutingErrorHandler(routingErrorHandler),
		runtime.WithHealthzEndpoint(healthpb.NewHealthClient(conn)),
	)
	if err := artclassv1.RegisterClassifierServiceHandler(ctx, api, conn); err != nil {
		return nil, fmt.Errorf("gateway: register the classifier service: %w", err)
	}

	site, err := playgroundHandler()
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", limitBody(api, opts.MaxBodyBytes, opts.MaxStreamBodyBytes))
	mux.Handle("/healthz", api)
	mux.HandleFunc("GET /openapi.json", serveOpenAPI)
	mux.Handle("/", site)

	var h http.Handler = mux
	if len(opts.CORSOrigins) > 0 {
		h = cors.New(cors.Options{
			AllowedOrigins: opts.CORSOrigins,
			AllowedMethods: []string{http.MethodGet, http.MethodPost},
			// Authorization for the admin calls; Grpc-Timeout lets a
			// browser set a deadline as any other client can.
			AllowedHeaders: []string{"Authorization", "Content-Type", "Grpc-Timeout"},
			MaxAge:         600,
		}).Handler(h)
	}
	return h, nil
}

// incomingHeader is grpc-gateway's default matcher (the standard headers,
// as grpcgateway-* metadata) less Authorization: grpc-gateway forwards
// that as the `authorization` metadata the server checks in any case, and
// a second copy of the admin token under another name is one more place
// for it to leak from.
func incomingHeader(key string) (string, bool) {
	if textproto.CanonicalMIMEHeaderKey(key) == "Authorization" {
		return "", false
	}
	return runtime.DefaultHeaderMatcher(key)
}

// forwardNone is a header matcher that forwards nothing.
func forwardNone(string) (string, bool) { return "", false }

// validate checks the options a caller set, naming the bad one.
func (o Options) validate() error {
	for i, origin := range o.CORSOrigins {
		if err := checkOrigin(origin); err != nil {
			return fmt.Errorf("gateway: Options.CORSOrigins[%d] %q: %w", i, origin, err)
		}
	}
	if o.MaxBodyBytes < 0 {
		return fmt.Errorf("gateway: Options.MaxBodyBytes is %d; it must be 0 (the default, %d) or more", o.MaxBodyBytes, DefaultMaxBodyBytes)
	}
	if o.MaxStreamBodyBytes < 0 {
		return fmt.Errorf("gateway: Options.MaxStreamBodyBytes is %d; it must be 0 (the default, %d) or more", o.MaxStreamBodyBytes, DefaultMaxStreamBodyBytes)
	}
	return nil
}

// checkOrigin accepts "*" and origins such as "https://example.com:8443",
// with at most one "*" in the host for subdomains, which is what rs/cors
// matches; a path, query or user is a mistake the browser would never send.
func checkOrigin(origin string) error {
	if origin == "*" {
		return nil
	}
	u, err := url.Parse(strings.Replace(origin, "*", "wildcard", 1))
	switch {
	case err != nil:
		return fmt.Errorf("is not an origin such as https://example.com: %w", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("is not an origin such as https://example.com: the scheme must be http or https")
	case u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return errors.New("is not an origin such as https://example.com: an origin is a scheme, a host and an optional port, nothing more")
	case strings.Count(origin, "*") > 1:
		return errors.New("has more than one *; use one, as in https://*.example.com")
	}
	return nil
}

// serveOpenAPI serves the generated OpenAPI description.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}

// OpenAPI returns the OpenAPI v2 description the gateway serves at
// /openapi.json, generated from the proto by protoc-gen-openapiv2.
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }
