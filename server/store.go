package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/modelstore"
	artclassv1 "github.com/artclass/artclass/proto/artclass/v1"
)

// Store is what the server needs of a model store: *modelstore.Store
// implements it. Train publishes to it, ActivateModel moves its active
// pointer, ListModels reads it, and Follow keeps the served model on its
// active version.
type Store interface {
	Active(ctx context.Context) (modelstore.Pointer, error)
	Manifest(ctx context.Context, version string) (modelstore.Manifest, error)
	List(ctx context.Context) ([]modelstore.Manifest, error)
	Publish(ctx context.Context, m *classifier.Model, expected modelstore.Pointer) (modelstore.Manifest, modelstore.Pointer, error)
	Activate(ctx context.Context, version string, expected modelstore.Pointer) (*classifier.Model, modelstore.Pointer, error)
}

// errNoStore refuses a call that needs a model store on a server without
// one.
func errNoStore(method string) error {
	return status.Errorf(codes.FailedPrecondition,
		"%s is disabled because the server has no model store; start artclassd with --model-store URL or --model-dir DIR to enable it", method)
}

// publish stores m and makes it the active version through
// modelstore.PublishGated, the quality gate every adapter applies
// (classifier.CheckQuality against the store's active model, unless
// force); expected is the pointer read before training. This replica
// serves m at once; the others follow the store.
func (s *Server) publish(ctx context.Context, m *classifier.Model, expected modelstore.Pointer, force bool) (_ *artclassv1.TrainResponse, result string, _ error) {
	pub, err := modelstore.PublishGated(ctx, s.cfg.Store, m, expected, force)
	var qe *classifier.QualityError
	var se *modelstore.StepError
	switch {
	case errors.As(err, &qe):
		return nil, "rejected", qualityError(qe)
	case errors.Is(err, modelstore.ErrConflict):
		return nil, "conflict", conflictError(err)
	case errors.As(err, &se):
		return nil, "failed", s.storeError(ctx, se.Step, se.Err)
	case err != nil:
		return nil, "failed", s.storeError(ctx, "publish the trained model", err)
	}
	s.installStored(m, pub.Pointer.Generation)
	s.wake()
	resp := &artclassv1.TrainResponse{Model: toModel(m.Metadata(), m.Thresholds())}
	resp.PreviousVersion, resp.PreviousMacroF1 = pub.Previous.Version, pub.Previous.CV.MacroF1
	return resp, "ok", nil
}

// conflictError answers a promotion that lost a race with ABORTED, naming
// the version now active: the caller may look at it and decide again.
func conflictError(err error) error {
	var ce *modelstore.ConflictError
	active := "another version"
	if errors.As(err, &ce) {
		active = "version " + ce.Active.Version
	}
	st := status.New(codes.Aborted, fmt.Sprintf("the active model changed while this call ran: %s is active now; nothing was promoted", active))
	if ce != nil {
		if d, derr := st.WithDetails(&errdetails.ErrorInfo{
			Reason:   "ACTIVE_MODEL_CHANGED",
			Domain:   "artclass.v1",
			Metadata: map[string]string{"active_version": ce.Active.Version},
		}); derr == nil {
			st = d
		}
	}
	return st.Err()
}

// storeError maps an error of the store to a status: a store that cannot
// be reached is UNAVAILABLE (retry later), a version it does not hold
// NOT_FOUND, a damaged one FAILED_PRECONDITION, and the rest internal.
func (s *Server) storeError(ctx context.Context, what string, err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	case errors.Is(err, modelstore.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, modelstore.ErrInvalid):
		return invalidField("version", "%v", err)
	case errors.Is(err, modelstore.ErrCorrupt):
		s.log.ErrorContext(ctx, what, "err", err)
		return status.Errorf(codes.FailedPrecondition, "the stored model does not verify: %v", err)
	default:
		s.log.ErrorContext(ctx, what, "err", err)
		return status.Errorf(codes.Unavailable, "the model store cannot be read now; retry later (%s failed)", what)
	}
}

func (c *classifierService) ListModels(ctx context.Context, _ *artclassv1.ListModelsRequest) (*artclassv1.ListModelsResponse, error) {
	s := c.s
	if s.cfg.Store == nil {
		return nil, errNoStore("ListModels")
	}
	active, err := s.cfg.Store.Active(ctx)
	if err != nil && !errors.Is(err, modelstore.ErrNoActive) {
		return nil, s.storeError(ctx, "read the active version", err)
	}
	list, err := s.cfg.Store.List(ctx)
	if err != nil {
		return nil, s.storeError(ctx, "list the stored versions", err)
	}
	resp := &artclassv1.ListModelsResponse{ActiveVersion: active.Version, Models: make([]*artclassv1.StoredModel, 0, len(list))}
	// Newest first: the versions an operator looks for are the recent ones.
	for _, mf := range slices.Backward(list) {
		resp.Models = append(resp.Models, storedModel(mf, mf.Version == active.Version))
	}
	noteCall(ctx, active.Version, 0)
	return resp, nil
}

// storedModel converts a manifest.
func storedModel(mf modelstore.Manifest, active bool) *artclassv1.StoredModel {
	m := toModel(mf.Metadata(), nil)
	// A manifest does not carry training options or the vocabulary size.
	m.Options, m.Terms = nil, 0
	return &artclassv1.StoredModel{Model: m, ParentVersion: mf.Parent, Sha256: mf.Checksum, SizeBytes: mf.Size, Active: active}
}

func (c *classifierService) ActivateModel(ctx context.Context, req *artclassv1.ActivateModelRequest) (*artclassv1.ActivateModelResponse, error) {
	s := c.s
	// ValidateVersion's error quotes the version, which is fine for a
	// mistyped one but not for a megabyte of it.
	if n := len(req.GetVersion()); n > modelstore.MaxVersionBytes {
		return nil, invalidField("version", "is %d bytes; the limit is %d bytes", n, modelstore.MaxVersionBytes)
	}
	if err := modelstore.ValidateVersion(req.GetVersion()); err != nil {
		return nil, invalidField("version", "%v", err)
	}
	if s.cfg.Store == nil {
		return nil, errNoStore("ActivateModel")
	}
	expected, err := s.cfg.Store.Active(ctx)
	if err != nil && !errors.Is(err, modelstore.ErrNoActive) {
		return nil, s.storeError(ctx, "read the active version", err)
	}
	// Activate verifies the version loads before it moves the pointer, and
	// hands back the model it loaded; a person chose the version, so the
	// quality gate does not apply.
	m, p, err := s.cfg.Store.Activate(ctx, req.GetVersion(), expected)
	if err != nil {
		if errors.Is(err, modelstore.ErrConflict) {
			return nil, conflictError(err)
		}
		return nil, s.storeError(ctx, "promote "+req.GetVersion(), err)
	}
	s.installStored(m, p.Generation)
	s.wake()
	noteCall(ctx, m.Version(), 0)
	s.log.InfoContext(ctx, "model activated", "model_version", m.Version(), "previous_version", expected.Version)
	return &artclassv1.ActivateModelResponse{Model: toModel(m.Metadata(), m.Thresholds()), PreviousVersion: expected.Version}, nil
}

// Follow keeps the served model on the store's active version until ctx
// is done: it polls the store's pointer, loads and verifies each newly
// active version, and swaps it in as SetModel does. A version that fails is
// refused and the served model stays; an unreachable store is retried with
// backoff. Without a store Follow returns at once.
func (s *Server) Follow(ctx context.Context) error {
	if s.follower == nil {
		return nil
	}
	s.follower.Run(ctx)
	return nil
}

// swapFromStore installs a version the follower handed over.
func (s *Server) swapFromStore(u modelstore.Update) error {
	s.installStored(u.Model, u.Pointer.Generation)
	return nil
}

// installStored serves m, the store's active version as of pointer
// generation gen (0 for the cache's copy), unless this replica already
// serves a later generation's: a follower that was loading an older
// version while this replica's Train or ActivateModel promoted a newer one
// must not put the older one back.
func (s *Server) installStored(m Model, gen uint64) {
	s.storeMu.Lock()
	defer s.storeMu.Unlock()
	if gen < s.storeGen || (gen == 0 && s.storeGen > 0) {
		return
	}
	s.storeGen = gen
	if a := s.active.Load(); a != nil && a.version == m.Version() {
		return // already served, by an earlier install of the same version
	}
	s.SetModel(m)
}

// wake asks the follower to poll now, so that its view of the store (and
// GetModel's store_active_version) catches up with a promotion this
// replica made.
func (s *Server) wake() {
	if s.follower != nil {
		s.follower.Wake()
	}
}

// lagSeconds is how long ago the replica last agreed with the store, for
// the metric: 0 before the first poll.
func lagSeconds(st modelstore.Status) float64 {
	if st.LastAgreed.IsZero() {
		return 0
	}
	return time.Since(st.LastAgreed).Seconds()
}
