// Package server serves the artclass gRPC API (artclass.v1.ClassifierService)
// over a classifier model.
//
// It adapts package classifier to gRPC and adds nothing to the text logic:
// it validates requests and answers bad ones with InvalidArgument and a
// google.rpc.BadRequest naming the field and the limit; it holds the active
// model behind an atomic pointer, so a call keeps the model it started with
// while Train, Reload or SetModel swap in another; it guards Train with a
// bearer token compared in constant time and lets one training run at a
// time. A Server also registers grpc.health.v1 (NOT_SERVING until a model is
// loaded and again while shutting down) and server reflection, recovers
// panics into Internal, logs every call with log/slog (method, code,
// duration, model version and text bytes; never the text or the token), and
// exports Prometheus metrics through go-grpc-middleware's prometheus
// provider plus its own prediction, confidence, model, train and reload
// series.
package server
