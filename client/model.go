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

// GetModel describes the server's active model. Options carries the fields
// the API has (algorithm, min_df, max_features, bigrams, folds) and
// Candidates is nil: the API does not carry them.
func (c *Client) GetModel(ctx context.Context) (classifier.Metadata, error) {
	ctx, cancel := c.unaryContext(ctx)
	defer cancel()
	resp, err := c.rpc.GetModel(ctx, &artclassv1.GetModelRequest{})
	if err != nil {
		return classifier.Metadata{}, fromStatus(err)
	}
	return metadata(resp.GetModel()), nil
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
	ctx, cancel := c.unaryContext(ctx)
	defer cancel()
	resp, err := c.health.Check(ctx, &healthpb.HealthCheckRequest{Service: HealthService})
	if err != nil {
		return StatusUnknown, fromStatus(err)
	}
	return ServingStatus(resp.GetStatus().String()), nil
}

// Samples yields training samples in the manner of classifier.ReadSamples:
// it calls yield with each sample in order and stops, returning yield's
// error, when yield fails.
type Samples func(yield func(classifier.Sample) error) error

// TrainOptions configures Train. A zero field keeps the server's default.
type TrainOptions struct {
	// Algorithm is "auto", "logreg" or "rocchio".
	Algorithm   string
	MinDF       int
	MaxFeatures int
	// Bigrams, when not nil, turns pairs of adjacent words as terms on or
	// off.
	Bigrams *bool
	Folds   int
	// L2, when not nil, is the logistic regression's regularisation
	// strength; Seed, when not nil, seeds the cross-validation folds. The
	// server's defaults apply otherwise.
	L2   *float64
	Seed *uint64
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
	Model classifier.Metadata
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
		return TrainResult{}, fromStatus(err)
	}
	msg := &artclassv1.TrainRequest{Options: &artclassv1.TrainOptions{
		Algorithm:   opts.Algorithm,
		MinDf:       int32(opts.MinDF),
		MaxFeatures: int32(opts.MaxFeatures),
		Bigrams:     opts.Bigrams,
		Folds:       int32(opts.Folds),
		Force:       opts.Force,
		L2:          opts.L2,
		Seed:        opts.Seed,
	}}
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
		return TrainResult{}, fromStatus(err)
	}
	return TrainResult{
		Model:           metadata(resp.GetModel()),
		PreviousVersion: resp.GetPreviousVersion(),
		PreviousMacroF1: resp.GetPreviousMacroF1(),
	}, nil
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
