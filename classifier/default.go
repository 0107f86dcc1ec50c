package classifier

import (
	_ "embed"
	"fmt"
)

// Rebuild the embedded model from the project's corpus. The test
// TestDefaultModelMatchesCorpus fails until this has been run after any
// change to the corpus or to training.
//go:generate go run ../cmd/artclass train --data ../testdata/corpus/defence.jsonl --data ../testdata/corpus/elections.jsonl --data ../testdata/corpus/environment.jsonl --data ../testdata/corpus/middle-east.jsonl --data ../testdata/corpus/negatives-general.jsonl --data ../testdata/corpus/negatives-hard.jsonl --data ../testdata/corpus/long-defence-middle-east.jsonl --data ../testdata/corpus/long-elections-environment.jsonl --data ../testdata/corpus/long-negatives.jsonl --data ../testdata/corpus/briefs-environment.jsonl --data ../testdata/corpus/briefs-mixed.jsonl --created 2026-11-26T00:00:00Z --out default.model

//go:embed default.model
var defaultModel []byte

// DefaultCorpus lists the corpus files the default model is trained from,
// relative to the repository root.
var DefaultCorpus = []string{
	"testdata/corpus/defence.jsonl",
	"testdata/corpus/elections.jsonl",
	"testdata/corpus/environment.jsonl",
	"testdata/corpus/middle-east.jsonl",
	"testdata/corpus/negatives-general.jsonl",
	"testdata/corpus/negatives-hard.jsonl",
	"testdata/corpus/long-defence-middle-east.jsonl",
	"testdata/corpus/long-elections-environment.jsonl",
	"testdata/corpus/long-negatives.jsonl",
	"testdata/corpus/briefs-environment.jsonl",
	"testdata/corpus/briefs-mixed.jsonl",
}

// Default returns the embedded default model, trained on the project's own
// corpus of articles about defence, elections, environment and the Middle
// East. Each call decodes a fresh copy.
func Default() (*Model, error) {
	m, err := Decode(defaultModel)
	if err != nil {
		return nil, fmt.Errorf("embedded default model: %w", err)
	}
	return m, nil
}
