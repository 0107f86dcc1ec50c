package modelstore

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"gocloud.dev/blob/memblob"

	"github.com/artclass/artclass/classifier"
)

// TestPublishGated runs the gate on a real (in-memory) store, in order: a
// first version, a worse one refused and then forced, one within the gate's
// margin, a race lost, and an active version whose manifest cannot be read.
func TestPublishGated(t *testing.T) {
	ms := mustModels(t) // macro-F1: [0] ≈ 0.98, [1] ≈ 0.94, [2] ≈ 0.93
	if d := ms[0].Metadata().CV.MacroF1 - ms[1].Metadata().CV.MacroF1; d <= classifier.MaxMacroF1Drop {
		t.Fatalf("fixture: model 1 is only %.4f below model 0; the test needs it refused", d)
	}
	ctx := context.Background()
	st := New(memblob.OpenBucket(nil))
	t.Cleanup(func() { st.Close() })
	active := func() Pointer {
		t.Helper()
		p, err := st.Active(ctx)
		if err != nil && !errors.Is(err, ErrNoActive) {
			t.Fatal(err)
		}
		return p
	}
	stale := active() // nothing active yet
	tests := []struct {
		name         string
		m            *classifier.Model
		expected     func() Pointer
		force        bool
		wantActive   string // the active version afterwards
		wantPrevious string
		wantQuality  bool   // a *classifier.QualityError
		wantStep     string // a *StepError of this step
		wantIs       error
	}{
		{name: "first version", m: ms[0], expected: active, wantActive: ms[0].Version()},
		{name: "worse refused", m: ms[1], expected: active, wantActive: ms[0].Version(), wantQuality: true},
		{name: "worse forced", m: ms[1], expected: active, force: true, wantActive: ms[1].Version(), wantPrevious: ms[0].Version()},
		{name: "within the margin", m: ms[2], expected: active, wantActive: ms[2].Version(), wantPrevious: ms[1].Version()},
		{name: "race lost", m: ms[3], expected: func() Pointer { return stale }, force: true, wantActive: ms[2].Version(), wantStep: "publish the trained model", wantIs: ErrConflict},
		{
			name: "active manifest unreadable", m: ms[3], force: true, wantActive: ms[2].Version(),
			expected: func() Pointer { p := active(); p.Version = "0000000000000000"; return p },
			wantStep: "read the active version's manifest", wantIs: ErrNotFound,
		},
	}
	for _, tt := range tests {
		// Sequential: each case starts from the store the last one left.
		t.Run(tt.name, func(t *testing.T) {
			got, err := PublishGated(ctx, st, tt.m, tt.expected(), tt.force)
			var qe *classifier.QualityError
			var se *StepError
			switch {
			case tt.wantQuality:
				if !errors.As(err, &qe) || qe.Baseline.Version != ms[0].Version() {
					t.Errorf("error %v, want a quality error against %s", err, ms[0].Version())
				}
			case tt.wantStep != "":
				if !errors.As(err, &se) || se.Step != tt.wantStep || !errors.Is(err, tt.wantIs) {
					t.Errorf("error %v, want step %q wrapping %v", err, tt.wantStep, tt.wantIs)
				}
			case err != nil:
				t.Fatal(err)
			default:
				if got.Manifest.Version != tt.m.Version() || got.Pointer.Version != tt.m.Version() || got.Previous.Version != tt.wantPrevious {
					t.Errorf("published %s, pointer %s, previous %q; want %s and previous %q",
						got.Manifest.Version, got.Pointer.Version, got.Previous.Version, tt.m.Version(), tt.wantPrevious)
				}
			}
			if p := active(); p.Version != tt.wantActive {
				t.Errorf("active %s, want %s", p.Version, tt.wantActive)
			}
		})
	}
}

func TestManifestMetadata(t *testing.T) {
	t.Parallel()
	m := mustModels(t)[1]
	st := New(memblob.OpenBucket(nil))
	t.Cleanup(func() { st.Close() })
	mf := mustPut(t, st, m, "")
	want := m.Metadata()
	// The manifest does not carry the options, the vocabulary size or
	// each candidate algorithm's score.
	want.Options, want.Terms, want.Candidates = classifier.TrainOptions{}, 0, nil
	if got := mf.Metadata(); !reflect.DeepEqual(got, want) {
		t.Errorf("Metadata() = %+v\nwant %+v", got, want)
	}
}
