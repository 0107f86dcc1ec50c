package testenv

import (
	"context"
	"net/url"
	"testing"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/modelstore"
)

// NewStore opens a model store in a directory of the test and, when active
// is not nil, publishes it as the active version. It returns the store and
// its URL, for a CLI's --store.
func NewStore(t testing.TB, active *classifier.Model) (*modelstore.Store, string) {
	t.Helper()
	u := (&url.URL{Scheme: "file", Path: t.TempDir()}).String()
	st, err := modelstore.Open(context.Background(), u)
	if err != nil {
		t.Fatalf("open store %s: %v", u, err)
	}
	t.Cleanup(func() { st.Close() })
	if active != nil {
		if _, _, err := st.Publish(context.Background(), active, modelstore.Pointer{}); err != nil {
			t.Fatalf("publish %s: %v", active.Version(), err)
		}
	}
	return st, u
}

// WeakModel trains a model on WeakSamples: its cross-validated macro-F1 is
// far below the embedded model's, so a quality gate refuses it after that
// one.
func WeakModel(t testing.TB) *classifier.Model {
	t.Helper()
	opts := classifier.DefaultTrainOptions()
	opts.MinDF, opts.Folds = 1, 3
	m, err := classifier.Train(context.Background(), WeakSamples(), opts)
	if err != nil {
		t.Fatalf("train the weak model: %v", err)
	}
	return m
}

// WeakSamples are eighteen one-line samples: six of "war", six of "vote"
// and six negatives, too few to train a good model.
func WeakSamples() []classifier.Sample {
	var samples []classifier.Sample
	add := func(labels []string, texts ...string) {
		for _, s := range texts {
			samples = append(samples, classifier.Sample{Text: s, Labels: labels})
		}
	}
	add([]string{"war"}, "Troops shelled the town", "Missile strike on army base", "Soldiers killed in rebel attack",
		"Army buys tanks and missiles", "Air strike on militants", "Navy frigate fires missile")
	add([]string{"vote"}, "Voters go to the polls", "Candidate wins primary vote", "Election turnout record",
		"Opinion poll before the vote", "Ballots counted after election", "Referendum vote held")
	add([]string{}, "Football club wins cup", "Shares rise at bank", "New phone on sale", "Film wins award",
		"Chef opens restaurant", "Band announces tour")
	return samples
}
