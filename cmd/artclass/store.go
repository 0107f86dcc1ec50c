package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/client"
	"github.com/artclass/artclass/modelstore"
)

// openStore opens the model store at url and reads its active pointer: the
// zero Pointer when nothing is active yet.
func openStore(ctx context.Context, url string) (*modelstore.Store, modelstore.Pointer, error) {
	st, err := modelstore.Open(ctx, url)
	if err != nil {
		return nil, modelstore.Pointer{}, usagef("--store: %w", err)
	}
	p, err := st.Active(ctx)
	if err != nil && !errors.Is(err, modelstore.ErrNoActive) {
		st.Close()
		return nil, modelstore.Pointer{}, fmt.Errorf("store %s: %w", url, err)
	}
	return st, p, nil
}

// listStore lists a store's versions as a server's ListModels would.
func listStore(ctx context.Context, url string) (client.ModelList, error) {
	st, p, err := openStore(ctx, url)
	if err != nil {
		return client.ModelList{}, err
	}
	defer st.Close()
	manifests, err := st.List(ctx)
	if err != nil {
		return client.ModelList{}, fmt.Errorf("store %s: %w", url, err)
	}
	l := client.ModelList{ActiveVersion: p.Version}
	for _, m := range manifests {
		md := classifier.Metadata{Version: m.Version, Created: m.Created, Labels: m.Labels, Samples: m.Samples,
			Negatives: m.Negatives, LabelCounts: m.LabelCounts, Algorithm: m.Algorithm, CV: m.CV}
		l.Models = append(l.Models, client.StoredModel{Model: client.Model{Metadata: md}, ParentVersion: m.Parent,
			SHA256: m.Checksum, SizeBytes: m.Size, Active: m.Version == p.Version})
	}
	return l, nil
}

// activateInStore makes version the store's active one.
func activateInStore(ctx context.Context, url, version string) (client.Activation, error) {
	st, p, err := openStore(ctx, url)
	if err != nil {
		return client.Activation{}, err
	}
	defer st.Close()
	np, err := st.Promote(ctx, version, p)
	if err != nil {
		return client.Activation{}, fmt.Errorf("store %s: %w", url, err)
	}
	a := client.Activation{PreviousVersion: np.Previous}
	a.Model.Version = np.Version
	return a, nil
}

// publish puts m into the store at url: the active version unless
// noActivate, after the quality gate against the store's active version
// unless force.
func publish(ctx context.Context, url string, m *classifier.Model, noActivate, force bool, stdout io.Writer) error {
	st, p, err := openStore(ctx, url)
	if err != nil {
		return err
	}
	defer st.Close()
	if noActivate {
		if _, err := st.Put(ctx, m, p.Version); err != nil {
			return fmt.Errorf("store %s: %w", url, err)
		}
		fmt.Fprintf(stdout, "model %s stored in %s; %s is still active\n", m.Version(), url, p.Version)
		return nil
	}
	if p.Version != "" && !force {
		active, err := st.Manifest(ctx, p.Version)
		if err != nil {
			return fmt.Errorf("store %s: %w", url, err)
		}
		if err := classifier.CheckQuality(m.Metadata(), classifier.Metadata{Version: active.Version, CV: active.CV}); err != nil {
			return fmt.Errorf("train: %w (the store's active version); nothing stored, --force stores and activates it anyway", err)
		}
	}
	if _, _, err := st.Publish(ctx, m, p); err != nil {
		return fmt.Errorf("store %s: %w", url, err)
	}
	fmt.Fprintf(stdout, "model %s stored in %s and active (it replaced %q)\n", m.Version(), url, p.Version)
	return nil
}
