package classifier

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Article is one news article to classify.
type Article struct {
	// ID is the caller's name for the article, carried through to its
	// result; it plays no part in the verdict.
	ID    string `json:"id,omitempty"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

// Defaults of Limits.
const (
	// DefaultMaxTextBytes is the longest title or text accepted unless a
	// service is configured otherwise: far above any real article, low
	// enough that one call cannot take much memory.
	DefaultMaxTextBytes = 1 << 20
	// MaxIDBytes is the longest article ID accepted: an ID is echoed back,
	// so it must stay small.
	MaxIDBytes = 256
)

// Limits are the rules an article must meet before it is classified. Every
// adapter (the gRPC server, the HTTP gateway, the CLI in-process) checks
// articles with CheckArticle, so bad input fails the same way everywhere.
type Limits struct {
	// MaxTextBytes bounds the title and the text, each; DefaultMaxTextBytes
	// when zero.
	MaxTextBytes int
}

// DefaultLimits returns the limits a service applies unless told otherwise.
func DefaultLimits() Limits { return Limits{MaxTextBytes: DefaultMaxTextBytes} }

func (l Limits) maxText() int {
	if l.MaxTextBytes <= 0 {
		return DefaultMaxTextBytes
	}
	return l.MaxTextBytes
}

// MaxLineBytes is the longest JSONL line that can hold an article within
// these limits: its title and text, each JSON-escaped at worst to six bytes
// a byte, plus room for the keys and an ID. Readers of article files size
// their line buffer with it, so a line limit never refuses an article the
// text limit allows.
func (l Limits) MaxLineBytes() int {
	return 2*6*l.maxText() + 6*MaxIDBytes + 4<<10
}

// CheckArticle reports whether a can be classified: its ID, title and text
// must be valid UTF-8 within the limits, and its text must hold more than
// white space. The error is an *InvalidError naming each bad field
// ("id", "title", "text") and the limit it broke.
func (l Limits) CheckArticle(a Article) error {
	var v InvalidError
	limit := l.maxText()
	if len(a.ID) > MaxIDBytes || !utf8.ValidString(a.ID) {
		v.Add("id", "is not valid UTF-8 of at most %d bytes", MaxIDBytes)
	}
	switch {
	case len(a.Title) > limit:
		v.Add("title", "is %d bytes; the limit is %d bytes", len(a.Title), limit)
	case !utf8.ValidString(a.Title):
		v.Add("title", "is not valid UTF-8")
	}
	switch {
	case len(a.Text) > limit:
		v.Add("text", "is %d bytes; the limit is %d bytes", len(a.Text), limit)
	case !utf8.ValidString(a.Text):
		v.Add("text", "is not valid UTF-8")
	case strings.TrimSpace(a.Text) == "":
		v.Add("text", "is empty or only white space; it must hold the article's body")
	}
	return v.Err()
}

// Filter selects the topics of a Result a caller wants to see. Its zero
// value keeps every topic.
type Filter struct {
	// TopK keeps the TopK most confident topics; 0 keeps all.
	TopK int `json:"top_k,omitempty"`
	// MinConfidence drops topics below this confidence, in [0, 1].
	MinConfidence float64 `json:"min_confidence,omitempty"`
}

// Validate reports whether f is usable; the error is an *InvalidError
// naming "top_k" or "min_confidence".
func (f Filter) Validate() error {
	var v InvalidError
	if f.TopK < 0 {
		v.Add("top_k", "is %d; it must be 0 (every topic) or more", f.TopK)
	}
	// Written so that NaN fails too.
	if !(f.MinConfidence >= 0 && f.MinConfidence <= 1) {
		v.Add("min_confidence", "is %v; it must be in [0, 1]", f.MinConfidence)
	}
	return v.Err()
}

// Filter returns r with the topics that pass f.MinConfidence and then the
// first f.TopK of them. It never changes which labels are assigned: Labels
// of the result is Labels of r, so a filter trims what is shown, not the
// verdict. The result shares r's Topics array.
func (r Result) Filter(f Filter) Result {
	labels := r.Labels()
	// Topics are sorted by confidence, highest first, so the ones that pass
	// MinConfidence are a prefix.
	n := 0
	for n < len(r.Topics) && r.Topics[n].Confidence >= f.MinConfidence {
		n++
	}
	if f.TopK > 0 && n > f.TopK {
		n = f.TopK
	}
	r.Topics = r.Topics[:n:n]
	r.labels, r.filtered = labels, true
	return r
}

// ErrInvalidArticle is wrapped by every *InvalidError, so callers can tell
// bad input from other failures with errors.Is.
var ErrInvalidArticle = errors.New("invalid article")

// FieldViolation names one bad field of an article or request and what is
// wrong with it, including the limit it broke; google.rpc.BadRequest
// carries the same pair over the wire.
type FieldViolation struct {
	// Field is the path to the field, relative to the checked value
	// ("text", "top_k").
	Field string `json:"field"`
	// Description says what is wrong.
	Description string `json:"description"`
}

// InvalidError lists what is wrong with an input, one violation per bad
// field.
type InvalidError struct {
	Violations []FieldViolation
}

// Add records a violation of field; the description is formatted.
func (e *InvalidError) Add(field, format string, args ...any) {
	e.Violations = append(e.Violations, FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)})
}

// Merge adds the violations of err, an *InvalidError, with prefix put
// before each field ("article."); any other non-nil error is added as a
// violation of prefix without its dot.
func (e *InvalidError) Merge(prefix string, err error) {
	if err == nil {
		return
	}
	var ie *InvalidError
	if !errors.As(err, &ie) {
		e.Add(strings.TrimSuffix(prefix, "."), "%v", err)
		return
	}
	for _, v := range ie.Violations {
		e.Violations = append(e.Violations, FieldViolation{Field: prefix + v.Field, Description: v.Description})
	}
}

// Err returns e, or nil when e holds no violation.
func (e *InvalidError) Err() error {
	if len(e.Violations) == 0 {
		return nil
	}
	return e
}

// Error lists every violation: "invalid article: text: is empty …".
func (e *InvalidError) Error() string { return "invalid article: " + e.List() }

// List joins the violations as "field: description; field: description",
// for a message that frames them in its own words.
func (e *InvalidError) List() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.Field + ": " + v.Description
	}
	return strings.Join(parts, "; ")
}

// Unwrap returns ErrInvalidArticle.
func (e *InvalidError) Unwrap() error { return ErrInvalidArticle }
