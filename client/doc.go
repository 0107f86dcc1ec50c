// Package client is the Go client of the artclass gRPC API
// (artclass.v1.ClassifierService).
//
// It speaks the classifier package's vocabulary: calls take a
// classifier.Article and a classifier.Filter and return a classifier.Result
// (with the model version), and a model is a classifier.Metadata with its
// thresholds, so that a program handles the same values whether it
// classified in-process or through a server. Every error the server sends
// comes back as an error that callers test with errors.Is against the
// sentinel errors of this package (ErrInvalidArgument, ErrUnavailable, ...)
// or with errors.As against *InvalidInputError, which wraps the server's
// field violations as a *classifier.InvalidError — the error
// classifier.Limits.CheckArticle returns in-process — and *Error, which
// carries the status code and the ErrorInfo reason. A bad target (a URL, a
// missing port) fails New with ErrInvalidTarget before any connection.
//
// New connects lazily: it checks its options and returns at once, and the
// first call opens the connection. The connection balances calls round-robin
// over every address of its target (a "dns:///host:port" target, or a
// comma-separated list of host:port addresses), and retries Classify,
// ClassifyBatch, GetModel and health checks, which have no side effects,
// when the server answers UNAVAILABLE, by RetryPolicy (a failed TLS
// handshake is not retried): a restarted server or one address of several
// going away does not fail a call.
// Streaming calls (ClassifyStream, Train) are not retried.
package client
