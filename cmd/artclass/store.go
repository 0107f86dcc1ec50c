package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/client"
	"github.com/artclass/artclass/modelstore"
)

// modelAdmin is what models does on a model store: a server's through
// *client.Client, or one the CLI opens itself (*storeAdmin).
type modelAdmin interface {
	ListModels(ctx context.Context) (client.ModelList, error)
	ActivateModel(ctx context.Context, version string) (client.Activation, error)
	Close() error
}

// storeAdmin works on a model store directly, answering as a server would.
type storeAdmin struct {
	st  *modelstore.Store
	url string
	// active is the pointer read when the store was opened: the zero
	// Pointer when nothing is active yet.
	active modelstore.Pointer
}

// openStore opens the model store at url and reads its active pointer.
func openStore(ctx context.Context, url string) (*storeAdmin, error) {
	st, err := modelstore.Open(ctx, url)
	if err != nil {
		return nil, usagef("--store: %w", err)
	}
	p, err := st.Active(ctx)
	if err != nil && !errors.Is(err, modelstore.ErrNoActive) {
		st.Close()
		return nil, fmt.Errorf("store %s: %w", url, err)
	}
	return &storeAdmin{st: st, url: url, active: p}, nil
}

// Close closes the store.
func (s *storeAdmin) Close() error { return s.st.Close() }

// ListModels lists the store's versions as a server's ListModels would:
// newest first.
func (s *storeAdmin) ListModels(ctx context.Context) (client.ModelList, error) {
	manifests, err := s.st.List(ctx)
	if err != nil {
		return client.ModelList{}, fmt.Errorf("store %s: %w", s.url, err)
	}
	l := client.ModelList{ActiveVersion: s.active.Version}
	for _, m := range slices.Backward(manifests) {
		l.Models = append(l.Models, client.StoredModel{Model: client.Model{Metadata: m.Metadata()}, ParentVersion: m.Parent,
			SHA256: m.Checksum, SizeBytes: m.Size, Active: m.Version == s.active.Version})
	}
	return l, nil
}

// ActivateModel makes version the store's active one.
func (s *storeAdmin) ActivateModel(ctx context.Context, version string) (client.Activation, error) {
	np, err := s.st.Promote(ctx, version, s.active)
	if err != nil {
		return client.Activation{}, fmt.Errorf("store %s: %w", s.url, err)
	}
	a := client.Activation{PreviousVersion: np.Previous}
	a.Model.Version = np.Version
	return a, nil
}

// publish puts m into the store at url: the active version unless
// noActivate, after the quality gate against the store's active version
// unless force.
func publish(ctx context.Context, url string, m *classifier.Model, noActivate, force bool, stdout io.Writer) error {
	s, err := openStore(ctx, url)
	if err != nil {
		return err
	}
	defer s.Close()
	if noActivate {
		if _, err := s.st.Put(ctx, m, s.active.Version); err != nil {
			return fmt.Errorf("store %s: %w", s.url, err)
		}
		fmt.Fprintf(stdout, "model %s stored in %s; %s is still active\n", m.Version(), s.url, s.active.Version)
		return nil
	}
	_, err = modelstore.PublishGated(ctx, s.st, m, s.active, force)
	var qe *classifier.QualityError
	switch {
	case errors.As(err, &qe):
		return fmt.Errorf("train: %w (the store's active version); nothing stored, --force stores and activates it anyway", err)
	case err != nil:
		return fmt.Errorf("store %s: %w", s.url, err)
	}
	fmt.Fprintf(stdout, "model %s stored in %s and active (it replaced %q)\n", m.Version(), s.url, s.active.Version)
	return nil
}
