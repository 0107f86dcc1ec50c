package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/modelstore"
	artclassv1 "github.com/artclass/artclass/proto/artclass/v1"
)

// classifierService implements artclass.v1.ClassifierService over a Server.
type classifierService struct {
	artclassv1.UnimplementedClassifierServiceServer
	s *Server
}

var _ artclassv1.ClassifierServiceServer = (*classifierService)(nil)

// errNoModel answers calls that need a model while none is loaded.
var errNoModel = status.Error(codes.Unavailable, "no model is loaded yet; retry later")

// model returns the active model, which the caller keeps for the whole call
// so that a concurrent swap never changes a model under it.
func (s *Server) model() (*activeModel, error) {
	a := s.active.Load()
	if a == nil {
		return nil, errNoModel
	}
	return a, nil
}

func (c *classifierService) Classify(ctx context.Context, req *artclassv1.ClassifyRequest) (*artclassv1.ClassifyResponse, error) {
	art, f := article(req.GetArticle()), filter(req.GetFilter())
	if err := c.s.checkRequest(art, f); err != nil {
		return nil, invalid(err).Err()
	}
	a, err := c.s.model()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	noteCall(ctx, a.version, len(art.Title)+len(art.Text))
	return c.s.classify(a, art, f), nil
}

// classify runs one checked article through a and records it in the
// metrics.
func (s *Server) classify(a *activeModel, art classifier.Article, f classifier.Filter) *artclassv1.ClassifyResponse {
	r := a.model.Classify(art.Title, art.Text)
	s.metrics.observe(r)
	return toClassifyResponse(r.Filter(f), a.version)
}

func (c *classifierService) ClassifyBatch(ctx context.Context, req *artclassv1.ClassifyBatchRequest) (*artclassv1.ClassifyBatchResponse, error) {
	f := filter(req.GetFilter())
	var v classifier.InvalidError
	checkBatchSize(&v, len(req.GetArticles()), c.s.cfg.MaxBatch)
	v.Merge("filter.", f.Validate())
	if err := v.Err(); err != nil {
		return nil, invalid(err).Err()
	}
	a, err := c.s.model()
	if err != nil {
		return nil, err
	}
	resp := &artclassv1.ClassifyBatchResponse{
		Results:      make([]*artclassv1.ArticleResult, len(req.GetArticles())),
		ModelVersion: a.version,
	}
	size := 0
	for i, pa := range req.GetArticles() {
		// A batch can take a while; stop when the caller has given up.
		if err := ctx.Err(); err != nil {
			return nil, status.FromContextError(err).Err()
		}
		art := article(pa)
		// Field paths are relative to the article, so a client reads an
		// item's error as it would a single call's.
		err := c.s.cfg.Limits.CheckArticle(art)
		resp.Results[i] = &artclassv1.ArticleResult{Id: echoID(art.ID, err, "id")}
		if err != nil {
			resp.Results[i].Outcome = itemError(invalid(err))
			continue
		}
		size += len(art.Title) + len(art.Text)
		resp.Results[i].Outcome = &artclassv1.ArticleResult_Classification{Classification: c.s.classify(a, art, f)}
	}
	noteCall(ctx, a.version, size)
	return resp, nil
}

// echoID returns the id to send back in an article's result: id itself,
// or "" when check, the article's check, refused the id as field (an id
// that is not valid UTF-8 cannot be sent).
func echoID(id string, check error, field string) string {
	var ie *classifier.InvalidError
	if errors.As(check, &ie) && slices.ContainsFunc(ie.Violations, func(v classifier.FieldViolation) bool { return v.Field == field }) {
		return ""
	}
	return id
}

// ClassifyStream reads one article, answers it, and only then reads the
// next: gRPC's flow control then makes a client that does not read its
// answers stop sending, and the server holds one article per stream.
func (c *classifierService) ClassifyStream(stream artclassv1.ClassifierService_ClassifyStreamServer) error {
	ctx := stream.Context()
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		resp := &artclassv1.ClassifyStreamResponse{Result: c.streamItem(ctx, req)}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

// streamItem classifies one article of a stream on the model active when
// it arrives.
func (c *classifierService) streamItem(ctx context.Context, req *artclassv1.ClassifyStreamRequest) *artclassv1.ArticleResult {
	art, f := article(req.GetArticle()), filter(req.GetFilter())
	err := c.s.checkRequest(art, f)
	res := &artclassv1.ArticleResult{Id: echoID(art.ID, err, "article.id")}
	if err != nil {
		res.Outcome = itemError(invalid(err))
		return res
	}
	a, err := c.s.model()
	if err != nil {
		res.Outcome = itemError(status.Convert(err))
		return res
	}
	noteCall(ctx, a.version, len(art.Title)+len(art.Text))
	res.Outcome = &artclassv1.ArticleResult_Classification{Classification: c.s.classify(a, art, f)}
	return res
}

func (c *classifierService) GetModel(ctx context.Context, _ *artclassv1.GetModelRequest) (*artclassv1.GetModelResponse, error) {
	a, err := c.s.model()
	if err != nil {
		return nil, err
	}
	noteCall(ctx, a.version, 0)
	resp := &artclassv1.GetModelResponse{Model: toModel(a.model.Metadata(), a.model.Thresholds())}
	if s := c.s.follower; s != nil {
		resp.StoreActiveVersion = s.Status().Active.Version
	}
	return resp, nil
}

// Train is guarded by the admin token in the interceptor chain (see New);
// by the time it runs the caller is the administrator.
func (c *classifierService) Train(stream artclassv1.ClassifierService_TrainServer) error {
	s := c.s
	ctx := stream.Context()
	if s.cfg.Store == nil {
		s.metrics.trains.WithLabelValues("invalid").Inc()
		return errNoStore("Train")
	}
	// Aborted rather than FailedPrecondition: the refusal is a concurrency
	// conflict that goes away by itself, so retrying later is right, while
	// FailedPrecondition tells a client not to retry until it changes
	// something (as with the quality gate below).
	if !s.training.CompareAndSwap(false, true) {
		st := status.New(codes.Aborted, "another Train call is running; retry when it has finished")
		if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: "TRAINING_IN_PROGRESS", Domain: "artclass.v1"}); err == nil {
			st = d
		}
		return st.Err()
	}
	defer s.training.Store(false)

	resp, result, err := c.train(ctx, stream)
	// Training takes tens of megabytes (samples, features, folds) for a
	// few seconds; give them back to the OS now rather than let the
	// replica's resident size keep the high-water mark of its last Train.
	// One forced collection after seconds of training costs little.
	debug.FreeOSMemory()
	s.metrics.trains.WithLabelValues(result).Inc()
	if err != nil {
		return err
	}
	return stream.SendAndClose(resp)
}

// train runs a Train call once it holds the training slot; result is the
// outcome for the metrics.
func (c *classifierService) train(ctx context.Context, stream artclassv1.ClassifierService_TrainServer) (_ *artclassv1.TrainResponse, result string, _ error) {
	s := c.s
	var (
		opts    *artclassv1.TrainOptions
		samples []classifier.Sample
		size    int64
	)
	for first := true; ; first = false {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, "canceled", err
		}
		if req.GetOptions() != nil {
			if !first {
				return nil, "invalid", invalidField("options", "is set in a message other than the first; only the first message may carry options")
			}
			opts = req.GetOptions()
		}
		size += int64(proto.Size(req))
		if size > s.cfg.MaxTrainBytes {
			return nil, "invalid", status.Errorf(codes.ResourceExhausted, "the Train stream is over its limit of %d bytes", s.cfg.MaxTrainBytes)
		}
		for _, ps := range req.GetSamples() {
			i := len(samples)
			if i >= s.cfg.MaxTrainSamples {
				return nil, "invalid", status.Errorf(codes.ResourceExhausted, "the Train stream is over its limit of %d samples", s.cfg.MaxTrainSamples)
			}
			sample := classifier.Sample{Title: ps.GetTitle(), Text: ps.GetText(), Labels: ps.GetLabels()}
			if err := sample.Validate(); err != nil {
				return nil, "invalid", sampleError(i, err)
			}
			samples = append(samples, sample)
		}
	}
	topts, err := trainOptions(opts)
	if err != nil {
		return nil, "invalid", err
	}
	noteCall(ctx, "", int(size))

	// The pointer is read before training, so that a promotion made while
	// this model trains (another replica's Train, a rollback) makes this
	// one's promotion fail rather than silently replace it.
	expected, err := s.cfg.Store.Active(ctx)
	if err != nil && !errors.Is(err, modelstore.ErrNoActive) {
		return nil, "failed", s.storeError(ctx, "read the active version", err)
	}
	start := time.Now()
	m, err := s.cfg.Train(ctx, samples, topts)
	if err != nil {
		result, err := s.trainFailure(ctx, err)
		return nil, result, err
	}
	resp, result, err := s.publish(ctx, m, expected, opts.GetForce())
	if err != nil {
		return nil, result, err
	}
	s.log.InfoContext(ctx, "trained model active", "model_version", m.Version(), "samples", len(samples),
		"cv_macro_f1", m.Metadata().CV.MacroF1, "previous_version", resp.PreviousVersion,
		"previous_macro_f1", resp.PreviousMacroF1, "took", time.Since(start).String())
	return resp, "ok", nil
}

// trainOptions merges the options of a Train call into the defaults: a
// field the call leaves at its zero value (or unset, for the fields with
// presence) keeps the default.
func trainOptions(o *artclassv1.TrainOptions) (classifier.TrainOptions, error) {
	var ov classifier.TrainOverrides
	nonZero := func(v int32) *int {
		if v == 0 {
			return nil
		}
		n := int(v)
		return &n
	}
	if o.GetAlgorithm() != "" {
		alg := o.GetAlgorithm()
		ov.Algorithm = &alg
	}
	ov.MinDF, ov.MaxFeatures, ov.Folds = nonZero(o.GetMinDf()), nonZero(o.GetMaxFeatures()), nonZero(o.GetFolds())
	if o != nil {
		ov.Bigrams, ov.L2, ov.Seed = o.Bigrams, o.L2, o.Seed
	}
	t, err := classifier.DefaultTrainOptions().Apply(ov)
	if err != nil {
		return t, invalidField("options", "%v", err)
	}
	return t, nil
}

// sampleError reports the sample at index i as InvalidArgument.
func sampleError(i int, err error) error {
	var v classifier.InvalidError
	v.Add(fmt.Sprintf("samples[%d]", i), "%v", err)
	return invalidWithMessage(fmt.Sprintf("sample %d: %v", i, err), &v).Err()
}

// trainFailure maps an error of classifier.Train to its result for the
// metrics and its status: the data's fault is InvalidArgument, the
// caller's cancellation its own code, and anything else internal.
func (s *Server) trainFailure(ctx context.Context, err error) (result string, _ error) {
	var se *classifier.SampleError
	switch {
	case errors.As(err, &se):
		return "invalid", sampleError(se.Index, se.Err)
	case errors.Is(err, classifier.ErrInvalidSample), errors.Is(err, classifier.ErrTooLittleData):
		return "invalid", invalidField("samples", "%v", err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled", status.FromContextError(err).Err()
	default:
		return "failed", s.internal(ctx, "train", err)
	}
}

// qualityError answers a model the quality gate refused: the active model
// is better by more than classifier.MaxMacroF1Drop.
func qualityError(qe *classifier.QualityError) error {
	newF1, prev := qe.MacroF1, qe.Baseline
	msg := fmt.Sprintf("the new model's cross-validated macro-F1 %.4f is more than %.2f below the active model's %.4f (version %s); set options.force to make it active anyway",
		newF1, classifier.MaxMacroF1Drop, prev.CV.MacroF1, prev.Version)
	st := status.New(codes.FailedPrecondition, msg)
	if d, err := st.WithDetails(&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{
		Type:        "MODEL_QUALITY",
		Subject:     "cross_validation.macro_f1",
		Description: msg,
	}}}, &errdetails.ErrorInfo{
		Reason: "MODEL_QUALITY_REGRESSION",
		Domain: "artclass.v1",
		Metadata: map[string]string{
			"new_macro_f1":    fmt.Sprintf("%.4f", newF1),
			"active_macro_f1": fmt.Sprintf("%.4f", prev.CV.MacroF1),
			"active_version":  prev.Version,
		},
	}); err == nil {
		st = d
	}
	return st.Err()
}

// toClassifyResponse converts r, already filtered.
func toClassifyResponse(r classifier.Result, version string) *artclassv1.ClassifyResponse {
	resp := &artclassv1.ClassifyResponse{
		ModelVersion: version,
		Topics:       make([]*artclassv1.Topic, len(r.Topics)),
		Labels:       r.Labels(),
		Coverage: &artclassv1.Coverage{
			Tokens:      int32(r.Coverage.Tokens),
			KnownTokens: int32(r.Coverage.Known),
			KnownShare:  r.Coverage.Share(),
		},
	}
	if r.Warning == classifier.WarningLowCoverage {
		resp.Warnings = []artclassv1.Warning{artclassv1.Warning_WARNING_LOW_COVERAGE}
	}
	for i, t := range r.Topics {
		pt := &artclassv1.Topic{Label: t.Label, Confidence: t.Confidence, Assigned: t.Assigned}
		if len(t.Terms) > 0 {
			pt.Terms = make([]*artclassv1.Term, len(t.Terms))
			for j, term := range t.Terms {
				pt.Terms[j] = &artclassv1.Term{Term: term.Term, Weight: term.Weight}
			}
		}
		resp.Topics[i] = pt
	}
	return resp
}

// toModel converts a model's metadata and thresholds to the API's Model.
func toModel(md classifier.Metadata, thresholds map[string]float64) *artclassv1.Model {
	m := &artclassv1.Model{
		Thresholds:  thresholds,
		Version:     md.Version,
		Labels:      md.Labels,
		Samples:     int32(md.Samples),
		Negatives:   int32(md.Negatives),
		LabelCounts: make(map[string]int32, len(md.LabelCounts)),
		Terms:       int32(md.Terms),
		Algorithm:   md.Algorithm,
		Options: &artclassv1.TrainOptions{
			Algorithm:   md.Options.Algorithm,
			MinDf:       int32(md.Options.MinDF),
			MaxFeatures: int32(md.Options.MaxFeatures),
			Bigrams:     proto.Bool(md.Options.Bigrams),
			Folds:       int32(md.Options.Folds),
			L2:          proto.Float64(md.Options.L2),
			Seed:        proto.Uint64(md.Options.Seed),
		},
		CrossValidation: &artclassv1.EvaluationReport{
			Samples:                  int32(md.CV.N),
			MicroF1:                  md.CV.MicroF1,
			MacroF1:                  md.CV.MacroF1,
			ExactMatch:               md.CV.ExactMatch,
			HammingLoss:              md.CV.HammingLoss,
			ExpectedCalibrationError: md.CV.ECE,
		},
	}
	if !md.Created.IsZero() {
		m.CreateTime = timestamppb.New(md.Created)
	}
	for l, n := range md.LabelCounts {
		m.LabelCounts[l] = int32(n)
	}
	for _, lm := range md.CV.PerLabel {
		m.CrossValidation.Labels = append(m.CrossValidation.Labels, &artclassv1.LabelMetrics{
			Label: lm.Label, Precision: lm.Precision, Recall: lm.Recall, F1: lm.F1, Support: int32(lm.Support),
		})
	}
	return m
}
