package classifier

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"unicode/utf8"
)

// MaxSampleLineBytes is the longest JSONL line ReadSamples accepts. It bounds
// the memory one line can take; real articles are far shorter.
const MaxSampleLineBytes = 4 << 20

// labelPattern is the form every label must have: it keeps labels usable as
// metric label values, file names and command-line arguments.
var labelPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// MaxLabelBytes is the longest label accepted.
const MaxLabelBytes = 64

// Sample is one labelled article. An empty Labels list marks a negative: an
// article about none of the topics.
type Sample struct {
	Title  string   `json:"title"`
	Text   string   `json:"text"`
	Labels []string `json:"labels"`
}

// SampleError reports a sample that cannot be used, with where it came from.
// Source is a file name or another description of the stream; Line is the
// 1-based line in it (or the 0-based index of a sample that came from no
// file, see Index).
type SampleError struct {
	Source string
	Line   int
	Index  int
	Err    error
}

func (e *SampleError) Error() string {
	if e.Source != "" {
		return fmt.Sprintf("%s:%d: %v", e.Source, e.Line, e.Err)
	}
	return fmt.Sprintf("sample %d: %v", e.Index, e.Err)
}

func (e *SampleError) Unwrap() error { return e.Err }

// ErrInvalidSample is wrapped by every error about the content of a sample,
// so callers can tell bad data from I/O failures with errors.Is.
var ErrInvalidSample = errors.New("invalid sample")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidSample, fmt.Sprintf(format, args...))
}

// Validate reports whether s can be used for training or evaluation: its text
// must be valid, non-blank UTF-8 and each label a distinct string of the
// form [a-z0-9][a-z0-9-]* of at most MaxLabelBytes bytes.
func (s Sample) Validate() error {
	if !utf8.ValidString(s.Title) {
		return invalid("title is not valid UTF-8")
	}
	if !utf8.ValidString(s.Text) {
		return invalid("text is not valid UTF-8")
	}
	if strings.TrimSpace(s.Text) == "" {
		return invalid("text is missing or empty")
	}
	for i, l := range s.Labels {
		if err := ValidateLabel(l); err != nil {
			return fmt.Errorf("label %d: %w", i, err)
		}
		for _, prev := range s.Labels[:i] {
			if prev == l {
				return invalid("label %q appears twice", l)
			}
		}
	}
	return nil
}

// ValidateLabel reports whether l is a usable label name.
func ValidateLabel(l string) error {
	if len(l) > MaxLabelBytes {
		return invalid("label %.20q… is longer than %d bytes", l, MaxLabelBytes)
	}
	if !labelPattern.MatchString(l) {
		return invalid("label %q is not of the form [a-z0-9][a-z0-9-]*", l)
	}
	return nil
}

// rawSample mirrors Sample with labels left raw, so that a label of the wrong
// JSON type gets an error that names it rather than a generic decode error.
type rawSample struct {
	Title  *string           `json:"title"`
	Text   *string           `json:"text"`
	Labels []json.RawMessage `json:"labels"`
}

// ReadSamples streams JSONL samples from r, calling fn for each in order.
// source names r in errors (a file name, usually). Blank lines are skipped;
// keys other than title, text and labels are ignored. The first bad line
// stops the read with a *SampleError naming source and line; an error from fn
// stops it too and is returned as it is.
func ReadSamples(r io.Reader, source string, fn func(Sample) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	for n := 1; ; n++ {
		var err error
		line, _, err = ReadLine(br, line[:0])
		if errors.Is(err, ErrLineTooLong) {
			return &SampleError{Source: source, Line: n, Err: invalid("line is longer than %d bytes", MaxSampleLineBytes)}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read %s: %w", source, err)
		}
		if len(bytes.TrimSpace(line)) > 0 {
			s, perr := parseSample(line)
			if perr != nil {
				return &SampleError{Source: source, Line: n, Err: perr}
			}
			if ferr := fn(s); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
}

// ErrLineTooLong is ReadLine's error for a line longer than
// MaxSampleLineBytes.
var ErrLineTooLong = errors.New("line too long")

// ReadLine appends the next line of br, without its line ending, to buf and
// returns it with the number of bytes it took from br. It returns io.EOF
// with the last line, and ErrLineTooLong, after skipping the rest of the
// line, for a line longer than MaxSampleLineBytes. ReadSamples reads its
// lines with it, and so can a reader of other JSONL that wants the same
// limit.
func ReadLine(br *bufio.Reader, buf []byte) ([]byte, int64, error) {
	var size int64
	for {
		chunk, err := br.ReadSlice('\n')
		size += int64(len(chunk))
		if len(buf)+len(chunk) > MaxSampleLineBytes+1 {
			for errors.Is(err, bufio.ErrBufferFull) {
				chunk, err = br.ReadSlice('\n')
				size += int64(len(chunk))
			}
			return buf[:0], size, ErrLineTooLong
		}
		buf = append(buf, chunk...)
		switch {
		case err == nil:
			return bytes.TrimSuffix(bytes.TrimSuffix(buf, []byte("\n")), []byte("\r")), size, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return buf, size, err
		}
	}
}

func parseSample(line []byte) (Sample, error) {
	if !utf8.Valid(line) {
		return Sample{}, invalid("line is not valid UTF-8")
	}
	var raw rawSample
	if err := json.Unmarshal(line, &raw); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return Sample{}, invalid("field %q has the wrong type: %s", typeErr.Field, typeErr.Value)
		}
		return Sample{}, invalid("invalid JSON: %v", err)
	}
	var s Sample
	if raw.Title != nil {
		s.Title = *raw.Title
	}
	if raw.Text == nil {
		return Sample{}, invalid("text is missing")
	}
	s.Text = *raw.Text
	s.Labels = make([]string, 0, len(raw.Labels))
	for i, rl := range raw.Labels {
		var l string
		if err := json.Unmarshal(rl, &l); err != nil {
			return Sample{}, invalid("label %d is not a string: %s", i, rl)
		}
		s.Labels = append(s.Labels, l)
	}
	if err := s.Validate(); err != nil {
		return Sample{}, err
	}
	return s, nil
}

// ReadSamplesFile reads every sample of the JSONL file at path.
func ReadSamplesFile(path string) ([]Sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open samples: %w", err)
	}
	defer f.Close()
	var out []Sample
	err = ReadSamples(f, path, func(s Sample) error {
		out = append(out, s)
		return nil
	})
	return out, err
}
