package classifier

import "fmt"

// Coverage says how much of an article's text the model's vocabulary
// covers: a model can only judge text in the words it was trained on.
type Coverage struct {
	// Tokens is the number of content words read: tokens of two or more
	// letters or digits that are not stop words.
	Tokens int `json:"tokens"`
	// Known is how many of them are in the model's vocabulary.
	Known int `json:"known"`
}

// Share returns the share of content words the model knows, 0 for a text
// with none.
func (c Coverage) Share() float64 {
	if c.Tokens == 0 {
		return 0
	}
	return float64(c.Known) / float64(c.Tokens)
}

// MinCoverage is the share of known content words below which a text is
// one the model cannot judge. Measured with the default model
// (TestCoverageSeparatesEnglishFromTheRest logs it): of 1,446 English
// articles (the corpus and dev) none knows less than 0.35, the 1st
// percentile is 0.48 and the median 0.90, all of them short headline
// items; French, German and Spanish news paragraphs know 0.17–0.25 (place
// names and loan words), random letters 0–0.01. Go source files know
// 0.38–0.43 through their English comments, too close to a terse English
// headline to tell apart by this share, so code is judged, and gets no
// label on its merits.
const MinCoverage = 0.30

// Low reports whether the model cannot judge the text: no content words at
// all, or too few of them known.
func (c Coverage) Low() bool { return c.Share() < MinCoverage }

// Warning is a caveat on a Result that a caller can act on.
type Warning int

const (
	// NoWarning is the zero value: the answer stands on the evidence.
	NoWarning Warning = iota
	// WarningLowCoverage means the model knows too little of the text's
	// vocabulary (Coverage.Low): another language, code, gibberish, or no
	// words at all. No label is assigned.
	WarningLowCoverage
)

// String returns the warning's name as used in JSON and logs.
func (w Warning) String() string {
	switch w {
	case NoWarning:
		return ""
	case WarningLowCoverage:
		return "low_coverage"
	}
	return "unknown"
}

// MarshalText encodes the warning by its name.
func (w Warning) MarshalText() ([]byte, error) {
	if w != NoWarning && w != WarningLowCoverage {
		return nil, fmt.Errorf("warning %d is not a known warning", int(w))
	}
	return []byte(w.String()), nil
}

// UnmarshalText decodes a warning from its name.
func (w *Warning) UnmarshalText(b []byte) error {
	switch string(b) {
	case "":
		*w = NoWarning
	case "low_coverage":
		*w = WarningLowCoverage
	default:
		return fmt.Errorf("warning %q is not one of \"\", \"low_coverage\"", b)
	}
	return nil
}
