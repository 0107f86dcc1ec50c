package client

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/artclass/artclass/classifier"
)

// Sentinel errors for the answers of the server, tested with errors.Is. An
// error a call returns matches the sentinel of its status code and, where
// the server said more, of its reason: a refused retraining matches both
// ErrFailedPrecondition and ErrQualityRegression. DEADLINE_EXCEEDED and
// CANCELLED match context.DeadlineExceeded and context.Canceled.
var (
	// ErrInvalidArgument: the request broke a rule; the error is an
	// *InvalidInputError naming the fields.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrUnauthenticated: Train without the admin token, or a wrong one.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrPermissionDenied: the server has Train disabled (no admin token).
	ErrPermissionDenied = errors.New("permission denied")
	// ErrUnavailable: no server could be reached, or it has no model loaded
	// yet. The idempotent calls have been retried before it is returned.
	ErrUnavailable = errors.New("unavailable")
	// ErrFailedPrecondition: the server is not in a state to do the call
	// (no model directory for Train, or a quality regression).
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrQualityRegression: Train made a model whose cross-validated
	// macro-F1 is too far below the active model's; retry with Force.
	ErrQualityRegression = errors.New("model quality regression")
	// ErrNotFound: ActivateModel named a version the store does not hold.
	ErrNotFound = errors.New("not found")
	// ErrAborted: the call conflicted with another.
	ErrAborted = errors.New("aborted")
	// ErrTrainingInProgress: another Train call is running; retry later.
	ErrTrainingInProgress = errors.New("training in progress")
	// ErrResourceExhausted: a Train stream over the server's limits.
	ErrResourceExhausted = errors.New("resource exhausted")
	// ErrInternal: the server failed; its log says why.
	ErrInternal = errors.New("internal error")
	// ErrServer: any other status code.
	ErrServer = errors.New("server error")
)

// Why a call reached no server, matched beside ErrUnavailable when gRPC's
// message says so; (*Error).Cause has gRPC's own words.
var (
	// ErrTLSHandshake: the TLS handshake failed (a certificate the client
	// does not trust, a server that does not speak TLS). It is not retried:
	// no retry mends a certificate.
	ErrTLSHandshake = errors.New("TLS handshake failed")
	// ErrUnresolvable: the target's host name does not resolve.
	ErrUnresolvable = errors.New("cannot resolve the host")
	// ErrUnreachable: nothing answers at the target's addresses (connection
	// refused, timed out, no route).
	ErrUnreachable = errors.New("nothing answers")
)

// connectionFailure is the sentinel of why, by gRPC's UNAVAILABLE message
// msg, a call reached no server, or nil when msg does not say.
func connectionFailure(msg string) error {
	has := func(parts ...string) bool {
		return slices.ContainsFunc(parts, func(p string) bool { return strings.Contains(msg, p) })
	}
	switch {
	case has("authentication handshake failed", "x509:", "tls:"):
		return ErrTLSHandshake
	case has("no such host", "produced zero addresses", "name resolver"):
		return ErrUnresolvable
	case has("connection refused", "i/o timeout", "no route to host", "Error while dialing"):
		return ErrUnreachable
	}
	return nil
}

// InvalidInputError is an INVALID_ARGUMENT answer: the server's message and
// the fields that broke a rule, as the classifier names them. It matches
// ErrInvalidArgument, and errors.As finds its *classifier.InvalidError (so
// errors.Is finds classifier.ErrInvalidArticle): code that checks articles
// in-process with classifier.Limits.CheckArticle and code that asks a server
// test bad input the same way.
type InvalidInputError struct {
	// Message is the server's message.
	Message string
	// Invalid lists the field violations of the google.rpc.BadRequest
	// detail, with the field paths the server sent.
	Invalid classifier.InvalidError
}

// Error spells out every field violation on one line.
func (e *InvalidInputError) Error() string {
	if len(e.Invalid.Violations) == 0 {
		return "invalid argument: " + oneLine(e.Message)
	}
	return "invalid argument: " + oneLine(e.Invalid.List())
}

// Unwrap returns ErrInvalidArgument and the classifier's InvalidError.
func (e *InvalidInputError) Unwrap() []error { return []error{ErrInvalidArgument, &e.Invalid} }

// GRPCStatus lets status.FromError and status.Code see the original code.
func (e *InvalidInputError) GRPCStatus() *status.Status {
	return status.New(codes.InvalidArgument, e.Message)
}

// Error is any other error status from the server.
type Error struct {
	// Code is the gRPC status code.
	Code codes.Code
	// Message is the server's message; for a call that found no server,
	// gRPC's, or the failed lookup's of ErrUnresolvable.
	Message string
	// Reason and Metadata come from a google.rpc.ErrorInfo detail, when the
	// server sent one ("TRAINING_IN_PROGRESS", "MODEL_QUALITY_REGRESSION").
	Reason   string
	Metadata map[string]string

	kinds []error
}

// Error names the sentinel the error matches and the server's message.
func (e *Error) Error() string {
	if len(e.kinds) == 0 {
		return strings.ToLower(e.Code.String()) + ": " + oneLine(e.Message)
	}
	return e.kinds[len(e.kinds)-1].Error() + ": " + oneLine(e.Message)
}

// Cause is the innermost part of Message: gRPC nests why a connection
// failed in layers of quoting ("connection error: desc = \"transport: Error
// while dialing: dial tcp …: connection refused\"").
func (e *Error) Cause() string {
	why := e.Message
	if i := strings.LastIndex(why, "desc = "); i >= 0 {
		why = why[i+len("desc = "):]
	}
	return oneLine(strings.Trim(strings.TrimPrefix(why, "\"transport: "), `"`))
}

// Is reports whether target is a sentinel this error matches.
func (e *Error) Is(target error) bool { return slices.Contains(e.kinds, target) }

// GRPCStatus lets status.FromError and status.Code see the original code.
func (e *Error) GRPCStatus() *status.Status { return status.New(e.Code, e.Message) }

// codeErrors are the sentinels of the status codes.
var codeErrors = map[codes.Code]error{
	codes.InvalidArgument:    ErrInvalidArgument,
	codes.Unauthenticated:    ErrUnauthenticated,
	codes.PermissionDenied:   ErrPermissionDenied,
	codes.Unavailable:        ErrUnavailable,
	codes.FailedPrecondition: ErrFailedPrecondition,
	codes.Aborted:            ErrAborted,
	codes.NotFound:           ErrNotFound,
	codes.ResourceExhausted:  ErrResourceExhausted,
	codes.Internal:           ErrInternal,
	codes.DeadlineExceeded:   context.DeadlineExceeded,
	codes.Canceled:           context.Canceled,
}

// reasonErrors are the sentinels of ErrorInfo reasons.
var reasonErrors = map[string]error{
	"TRAINING_IN_PROGRESS":     ErrTrainingInProgress,
	"MODEL_QUALITY_REGRESSION": ErrQualityRegression,
}

// fromStatus is the package-level fromStatus, and when a call found no
// server and gRPC does not say why, a host name of the target that does not
// resolve makes it ErrUnresolvable: balancing over no addresses, gRPC says
// only that it has none to pick from.
func (c *Client) fromStatus(err error) error {
	err = fromStatus(err)
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrUnavailable) || connectionFailure(e.Message) != nil {
		return err
	}
	// The call's context may have ended with the call.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, addr := range c.names {
		host, _, _ := net.SplitHostPort(addr)
		var dnsErr *net.DNSError
		if _, lerr := net.DefaultResolver.LookupHost(ctx, host); errors.As(lerr, &dnsErr) && dnsErr.IsNotFound {
			e.kinds = append(e.kinds, ErrUnresolvable)
			e.Message = dnsErr.Error()
			break
		}
	}
	return err
}

// hostNames are the addresses of a target's list, or of a dns:/// target,
// whose host is a name rather than an IP address.
func hostNames(hosts []string) []string {
	var names []string
	for _, h := range hosts {
		h = strings.TrimPrefix(h, "dns:///")
		host, _, err := net.SplitHostPort(h)
		if err == nil && net.ParseIP(strings.Trim(host, "[]")) == nil {
			names = append(names, h)
		}
	}
	return names
}

// fromStatus converts an error of a gRPC call into this package's errors;
// an error that carries no status (an iterator's, say) is returned as is.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	var ie *InvalidInputError
	if errors.As(err, &e) || errors.As(err, &ie) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	return statusError(st)
}

func statusError(st *status.Status) error {
	if st.Code() == codes.InvalidArgument {
		ie := &InvalidInputError{Message: st.Message()}
		for _, d := range st.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok {
				for _, v := range br.GetFieldViolations() {
					ie.Invalid.Violations = append(ie.Invalid.Violations, classifier.FieldViolation{Field: v.GetField(), Description: v.GetDescription()})
				}
			}
		}
		return ie
	}
	e := &Error{Code: st.Code(), Message: st.Message()}
	if k, ok := codeErrors[st.Code()]; ok {
		e.kinds = append(e.kinds, k)
	} else {
		e.kinds = append(e.kinds, ErrServer)
	}
	if k := connectionFailure(st.Message()); k != nil && st.Code() == codes.Unavailable {
		e.kinds = append(e.kinds, k)
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			e.Reason, e.Metadata = info.GetReason(), info.GetMetadata()
			if k, ok := reasonErrors[info.GetReason()]; ok {
				e.kinds = append(e.kinds, k)
			}
		}
	}
	return e
}

// oneLine keeps an error on one line of a terminal.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
