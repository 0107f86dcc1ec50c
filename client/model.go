package client

import (
	"context"
	"errors"
	"fmt"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"

	"github.com/artclass/artclass/classifier"
	artclassv1 "github.com/artclass/artclass/proto/artclass/v1"
)

// Model describes a trained model as the API carries it: the classifier's
// Metadata (Options hold the fields the API has; Candidates and the
// cross-validation's reliability bins are not carried) and each label's
// decision threshold.
type Model struct {
	classifier.Metadata
	// Thresholds holds each label's decision threshold: a label is
	// assigned when its confidence reaches it, which for a rare label can
	// be below 0.5 (see classifier.Model.Thresholds).
	Thresholds map[string]float64 `json:"thresholds"`
}

// ServedModel is what GetModel answers: the model a replica serves, and the
// version its model store names as active.
type ServedModel struct {
	Model
	// StoreActiveVersion is the store's active version when the server
	// follows a store, empty otherwise: the replica has caught up when it
	// equals Version.
	StoreActiveVersion string `json:"store_active_version,omitempty"`
}

// GetModel describes the server's active model.
func (c *Client) GetModel(ctx context.Context) (ServedModel, error) {
	resp, err := unary(ctx, c, c.rpc.GetModel, &artclassv1.GetModelRequest{})
	if err != nil {
		return ServedModel{}, err
	}
	return ServedModel{Model: model(resp.GetModel()), StoreActiveVersion: resp.GetStoreActiveVersion()}, nil
}

// StoredModel is one version in the server's model store.
type StoredModel struct {
	Model
	// ParentVersion was active when this version was trained; empty for
	// the first.
	ParentVersion string `json:"parent_version,omitempty"`
	// SHA256 is the model file's checksum, hex-encoded, and SizeBytes its
	// size.
	SHA256    string `json:"sha256"`
	SizeBytes int64  `json:"size_bytes"`
	// Active reports whether the store names this version as active.
	Active bool `json:"active"`
}

// ModelList is the server's model store: every version, newest first, and
// the active one.
type ModelList struct {
	Models []StoredModel `json:"models"`
	// ActiveVersion is empty when no version is active.
	ActiveVersion string `json:"active_version"`
}

// ListModels lists the versions of the server's model store. It needs
// WithToken with the admin token; a server without a store answers
// ErrFailedPrecondition.
func (c *Client) ListModels(ctx context.Context) (ModelList, error) {
	resp, err := unary(ctx, c, c.rpc.ListModels, &artclassv1.ListModelsRequest{})
	if err != nil {
		return ModelList{}, err
	}
	out := ModelList{ActiveVersion: resp.GetActiveVersion(), Models: make([]StoredModel, len(resp.GetModels()))}
	for i, m := range resp.GetModels() {
		out.Models[i] = StoredModel{
			Model:         model(m.GetModel()),
			ParentVersion: m.GetParentVersion(),
			SHA256:        m.GetSha256(),
			SizeBytes:     m.GetSizeBytes(),
			Active:        m.GetActive(),
		}
	}
	return out, nil
}

// Activation reports a change of the store's active version.
type Activation struct {
	// Model is the model now active.
	Model Model `json:"model"`
	// PreviousVersion was active before.
	PreviousVersion string `json:"previous_version"`
}

// ActivateModel makes a stored version the active one (a rollback or a
// roll forward); every replica following the store serves it within a poll
// interval. It needs WithToken with the admin token. Errors: an unknown
// version matches ErrNotFound, one that does not load
// ErrFailedPrecondition, a concurrent change ErrAborted. It is never
// retried.
func (c *Client) ActivateModel(ctx context.Context, version string) (Activation, error) {
	resp, err := unary(ctx, c, c.rpc.ActivateModel, &artclassv1.ActivateModelRequest{Version: version})
	if err != nil {
		return Activation{}, err
	}
	return Activation{Model: model(resp.GetModel()), PreviousVersion: resp.GetPreviousVersion()}, nil
}

// ServingStatus is what grpc.health.v1 says of the classifier service.
type ServingStatus string

// The serving statuses of grpc.health.v1.
const (
	Serving        ServingStatus = "SERVING"
	NotServing     ServingStatus = "NOT_SERVING"
	ServiceUnknown ServingStatus = "SERVICE_UNKNOWN"
	StatusUnknown  ServingStatus = "UNKNOWN"
)

// HealthService is the name the server reports the classifier's health on.
const HealthService = "artclass.v1.ClassifierService"

// Health asks the server's grpc.health.v1 service whether the classifier
// service is serving: NOT_SERVING before a model is loaded and while the
// server shuts down.
func (c *Client) Health(ctx context.Context) (ServingStatus, error) {
	resp, err := unary(ctx, c, c.health.Check, &healthpb.HealthCheckRequest{Service: HealthService})
	if err != nil {
		return StatusUnknown, err
	}
	return ServingStatus(resp.GetStatus().String()), nil
}

// Samples yields training samples in the manner of classifier.ReadSamples:
// it calls yield with each sample in order and stops, returning yield's
// error, when yield fails.
type Samples func(yield func(classifier.Sample) error) error

// TrainOptions configures Train.
type TrainOptions struct {
	// Overrides are the training options to change from the server's
	// defaults; a nil field keeps the default.
	Overrides classifier.TrainOverrides
	// Force makes the new model active even if its cross-validated
	// macro-F1 is more than 0.02 below the active model's.
	Force bool
	// Progress, when not nil, is called after each message sent with the
	// samples and bytes sent so far.
	Progress func(samples int, bytes int64)
}

// TrainResult describes the model a Train call made active.
type TrainResult struct {
	// Model is the new active model with its cross-validated report.
	Model Model
	// PreviousVersion and PreviousMacroF1 describe the model it replaced;
	// the version is empty if there was none.
	PreviousVersion string
	PreviousMacroF1 float64
}

// trainMessageBytes is the size at which Train starts a new message: well
// under gRPC's default 4 MiB message limit.
const trainMessageBytes = 1 << 20

// Train streams samples to the server, which trains and cross-validates a
// model and makes it the active one. It needs WithToken with the server's
// admin token. Errors: ErrUnauthenticated, ErrPermissionDenied (Train is
// disabled), ErrFailedPrecondition (no model directory), ErrTrainingInProgress,
// ErrQualityRegression (see TrainOptions.Force), an *InvalidInputError
// naming a bad sample by its 0-based index, ErrResourceExhausted, or the
// error of samples itself. Train is never retried: it has side effects.
func (c *Client) Train(ctx context.Context, samples Samples, opts TrainOptions) (TrainResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.Train(ctx)
	if err != nil {
		return TrainResult{}, c.fromStatus(err)
	}
	msg := &artclassv1.TrainRequest{Options: trainOptions(opts)}
	var (
		n, size  int
		total    int64
		streamed = errors.New("the stream ended") // the server has ended the call
	)
	send := func() error {
		total += int64(proto.Size(msg))
		if err := stream.Send(msg); err != nil {
			return streamed // io.EOF: CloseAndRecv has the status
		}
		if opts.Progress != nil {
			opts.Progress(n, total)
		}
		msg, size = &artclassv1.TrainRequest{}, 0
		return nil
	}
	err = samples(func(s classifier.Sample) error {
		msg.Samples = append(msg.Samples, &artclassv1.Sample{Title: s.Title, Text: s.Text, Labels: s.Labels})
		n++
		size += len(s.Title) + len(s.Text) + 16*len(s.Labels)
		if size >= trainMessageBytes {
			return send()
		}
		return nil
	})
	switch {
	case errors.Is(err, streamed):
	case err != nil:
		return TrainResult{}, fmt.Errorf("train: %w", err)
	case len(msg.Samples) > 0 || msg.Options != nil:
		if err := send(); err != nil && !errors.Is(err, streamed) {
			return TrainResult{}, err
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return TrainResult{}, c.fromStatus(err)
	}
	return TrainResult{
		Model:           model(resp.GetModel()),
		PreviousVersion: resp.GetPreviousVersion(),
		PreviousMacroF1: resp.GetPreviousMacroF1(),
	}, nil
}

// trainOptions converts o to the API's options: a field the overrides
// leave nil stays unset, so the server's default applies.
func trainOptions(o TrainOptions) *artclassv1.TrainOptions {
	ov := o.Overrides
	out := &artclassv1.TrainOptions{Force: o.Force, Bigrams: ov.Bigrams, L2: ov.L2, Seed: ov.Seed}
	if ov.Algorithm != nil {
		out.Algorithm = *ov.Algorithm
	}
	if ov.MinDF != nil {
		out.MinDf = int32(*ov.MinDF)
	}
	if ov.MaxFeatures != nil {
		out.MaxFeatures = int32(*ov.MaxFeatures)
	}
	if ov.Folds != nil {
		out.Folds = int32(*ov.Folds)
	}
	return out
}

// model converts the API's Model.
func model(m *artclassv1.Model) Model {
	return Model{Metadata: metadata(m), Thresholds: m.GetThresholds()}
}

// metadata converts the API's Model to the classifier's Metadata.
func metadata(m *artclassv1.Model) classifier.Metadata {
	md := classifier.Metadata{
		Version:   m.GetVersion(),
		Labels:    m.GetLabels(),
		Samples:   int(m.GetSamples()),
		Negatives: int(m.GetNegatives()),
		Terms:     int(m.GetTerms()),
		Algorithm: m.GetAlgorithm(),
		Options: classifier.TrainOptions{
			Algorithm:   m.GetOptions().GetAlgorithm(),
			MinDF:       int(m.GetOptions().GetMinDf()),
			MaxFeatures: int(m.GetOptions().GetMaxFeatures()),
			Bigrams:     m.GetOptions().GetBigrams(),
			Folds:       int(m.GetOptions().GetFolds()),
			L2:          m.GetOptions().GetL2(),
			Seed:        m.GetOptions().GetSeed(),
		},
	}
	if m.GetCreateTime() != nil {
		md.Created = m.GetCreateTime().AsTime()
	}
	if len(m.GetLabelCounts()) > 0 {
		md.LabelCounts = make(map[string]int, len(m.GetLabelCounts()))
		for l, n := range m.GetLabelCounts() {
			md.LabelCounts[l] = int(n)
		}
	}
	cv := m.GetCrossValidation()
	md.CV = classifier.Report{
		N:           int(cv.GetSamples()),
		MicroF1:     cv.GetMicroF1(),
		MacroF1:     cv.GetMacroF1(),
		ExactMatch:  cv.GetExactMatch(),
		HammingLoss: cv.GetHammingLoss(),
		ECE:         cv.GetExpectedCalibrationError(),
	}
	for _, l := range cv.GetLabels() {
		md.CV.PerLabel = append(md.CV.PerLabel, classifier.LabelMetrics{
			Label: l.GetLabel(), Precision: l.GetPrecision(), Recall: l.GetRecall(), F1: l.GetF1(), Support: int(l.GetSupport()),
		})
	}
	return md
}
