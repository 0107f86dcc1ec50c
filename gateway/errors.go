package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// HTTPStatus returns the HTTP status the gateway answers st with. It is
// grpc-gateway's mapping of google.rpc.Code (runtime.HTTPStatusFromCode:
// INVALID_ARGUMENT and FAILED_PRECONDITION 400, UNAUTHENTICATED 401,
// PERMISSION_DENIED 403, NOT_FOUND 404, ABORTED 409, UNAVAILABLE 503, …)
// except for RESOURCE_EXHAUSTED: a status that carries a
// google.rpc.QuotaFailure or google.rpc.RetryInfo is a rate or quota limit
// and gets 429 Too Many Requests; any other is a size limit (a message, a
// body or a Train stream over its limit, which is every RESOURCE_EXHAUSTED
// artclassd sends today) and gets 413 Content Too Large, which tells the
// caller that retrying the same request will not help.
func HTTPStatus(st *status.Status) int {
	if st.Code() != codes.ResourceExhausted {
		return runtime.HTTPStatusFromCode(st.Code())
	}
	for _, d := range st.Details() {
		switch d.(type) {
		case *errdetails.QuotaFailure, *errdetails.RetryInfo:
			return http.StatusTooManyRequests
		}
	}
	return http.StatusRequestEntityTooLarge
}

// errorHandler writes err as a JSON google.rpc.Status with the HTTP status
// HTTPStatus gives it, or 413 naming the limit when the request body was
// over the gateway's own limit (the JSON decoder then fails on a truncated
// body, which would otherwise read as a 400 syntax error).
func errorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	var withStatus *runtime.HTTPStatusError
	if !errors.As(err, &withStatus) {
		st := status.Convert(err)
		if bl, ok := ctx.Value(bodyLimitKey{}).(*bodyLimit); ok && bl.hit.Load() {
			st = bodyTooLarge(bl.limit)
		}
		withStatus = &runtime.HTTPStatusError{HTTPStatus: HTTPStatus(st), Err: st.Err()}
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, challengeWriter{w}, r, withStatus)
}

// bodyTooLarge is the status of a request body over limit bytes.
func bodyTooLarge(limit int64) *status.Status {
	desc := fmt.Sprintf("is over the limit of %d bytes", limit)
	st := status.New(codes.ResourceExhausted, "the request body "+desc+"; send fewer or shorter articles per request")
	if d, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: "body", Description: desc},
	}}); err == nil {
		st = d
	}
	return st
}

// routingErrorHandler answers a request no route matches: 404 for an
// unknown path and 405 for a known path with the wrong method, where
// grpc-gateway's default would say 501 Not Implemented.
func routingErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	var err error
	switch httpStatus {
	case http.StatusNotFound:
		err = status.Errorf(codes.NotFound, "no API route is %s %s; /openapi.json lists them", r.Method, r.URL.Path)
	case http.StatusMethodNotAllowed:
		err = status.Errorf(codes.Unimplemented, "%s %s is not allowed; /openapi.json lists the method of each route", r.Method, r.URL.Path)
	default:
		err = status.Error(codes.InvalidArgument, http.StatusText(httpStatus))
	}
	errorHandler(ctx, mux, m, w, r, &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: err})
}

// challengeWriter sets a 401's WWW-Authenticate header to the bearer
// challenge RFC 6750 asks for; grpc-gateway's default puts the status
// message there, which is not a challenge a client can parse.
type challengeWriter struct{ http.ResponseWriter }

func (c challengeWriter) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		c.Header().Set("WWW-Authenticate", `Bearer realm="artclass"`)
	}
	c.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c challengeWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// bodyLimit records that a request's body went over its limit, for the
// error handler, which sees only the decoder's error.
type bodyLimit struct {
	limit int64
	hit   atomic.Bool
}

type bodyLimitKey struct{}

// limitBody caps each request's body: at unary bytes, or at stream bytes
// for the streaming routes.
func limitBody(next http.Handler, unary, stream int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bl := &bodyLimit{limit: unary}
		streaming := isStreaming(r.URL.Path)
		if streaming {
			bl.limit = stream
			// ClassifyStream answers while it reads. An HTTP/1 server
			// otherwise discards the rest of the body when the first answer
			// is written, and the stream ends after the articles read so
			// far, with a 200. HTTP/2 is full duplex already and says
			// ErrNotSupported, which is fine.
			_ = http.NewResponseController(w).EnableFullDuplex()
		}
		r = r.WithContext(context.WithValue(r.Context(), bodyLimitKey{}, bl))
		r.Body = &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, bl.limit), bl: bl, stream: streaming, size: r.ContentLength}
		next.ServeHTTP(w, r)
	})
}

// limitedBody notes in bl when its reader stops at the limit. stream says
// whether the body is a stream of JSON values (see jsonCodec).
type limitedBody struct {
	io.ReadCloser
	bl     *bodyLimit
	stream bool
	size   int64 // the Content-Length, or -1 when unknown
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		b.bl.hit.Store(true)
	}
	return n, err
}
