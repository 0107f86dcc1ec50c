package modelstore

import (
	"context"

	"github.com/artclass/artclass/classifier"
)

// Metadata is the model description the manifest carries, in the
// classifier's terms: everything but the training options, the vocabulary
// size and the candidate algorithms' scores, which only the model file
// holds.
func (m Manifest) Metadata() classifier.Metadata {
	return classifier.Metadata{
		Version: m.Version, Created: m.Created, Labels: m.Labels, Samples: m.Samples,
		Negatives: m.Negatives, LabelCounts: m.LabelCounts, Algorithm: m.Algorithm, CV: m.CV,
	}
}

// Publisher is what PublishGated needs of a store; *Store implements it.
type Publisher interface {
	Manifest(ctx context.Context, version string) (Manifest, error)
	Publish(ctx context.Context, m *classifier.Model, expected Pointer) (Manifest, Pointer, error)
}

// Published is what PublishGated did.
type Published struct {
	// Manifest describes the published model and Pointer is the active
	// pointer naming it.
	Manifest Manifest
	Pointer  Pointer
	// Previous is the manifest of the version it replaced: the zero
	// Manifest when none was active.
	Previous Manifest
}

// StepError is a store failure during PublishGated, naming the step that
// failed ("read the active version's manifest", "publish the trained
// model") so that a caller can log and report it in its own terms.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }

// Unwrap returns the store's error, so errors.Is finds ErrConflict,
// ErrNotFound and the like.
func (e *StepError) Unwrap() error { return e.Err }

// PublishGated publishes m as the active version in place of expected (the
// pointer read before training), after the quality gate every publisher
// applies: classifier.CheckQuality against the manifest of expected's
// version. A forced publish skips the gate; with nothing active there is no
// gate. The error is a *classifier.QualityError when the gate refuses m
// (nothing is stored), and otherwise a *StepError: a lost race unwraps to
// ErrConflict (a *ConflictError naming the version now active).
func PublishGated(ctx context.Context, st Publisher, m *classifier.Model, expected Pointer, force bool) (Published, error) {
	var out Published
	if expected.Version != "" {
		prev, err := st.Manifest(ctx, expected.Version)
		if err != nil {
			return Published{}, &StepError{Step: "read the active version's manifest", Err: err}
		}
		out.Previous = prev
		if err := classifier.CheckQuality(m.Metadata(), prev.Metadata()); err != nil && !force {
			return Published{}, err
		}
	}
	mf, p, err := st.Publish(ctx, m, expected)
	if err != nil {
		return Published{}, &StepError{Step: "publish the trained model", Err: err}
	}
	out.Manifest, out.Pointer = mf, p
	return out, nil
}
