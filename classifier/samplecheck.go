package classifier

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// MinLabelSamples is how many samples a label needs before CheckSamples
// stops warning about it: a label seen fewer times is more likely a typo
// ("defense" beside "defence") than a topic, and cannot be learnt anyway.
const MinLabelSamples = 5

// RareLabel is a label that few samples carry.
type RareLabel struct {
	Label string
	// Count is how many samples carry it, Lines the first few of their
	// places ("samples.jsonl:12").
	Count int
	Lines []string
}

// String names the label, its count and where it is used.
func (r RareLabel) String() string {
	more := ""
	if r.Count > len(r.Lines) {
		more = ", …"
	}
	return fmt.Sprintf("label %q is used by %d sample(s), fewer than %d (%s%s): a typo?", r.Label, r.Count, MinLabelSamples, strings.Join(r.Lines, ", "), more)
}

// SampleChecker looks over JSONL sample files for mistakes ReadSamples
// lets through. Its zero value is ready; check every file, then ask Rare.
type SampleChecker struct {
	counts map[string]*RareLabel
}

// Check reads the samples of r, named source in errors: a line without a
// "labels" key is an error naming source and line, since a misspelt key
// ("label") would otherwise make the article a negative ("labels": [] is how
// a negative is written). Other faults of a line are left to ReadSamples.
func (c *SampleChecker) Check(r io.Reader, source string) error {
	if c.counts == nil {
		c.counts = map[string]*RareLabel{}
	}
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	for n := 1; ; n++ {
		var err error
		line, _, err = ReadLine(br, line[:0])
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, ErrLineTooLong) {
			return fmt.Errorf("read %s: %w", source, err)
		}
		var keys struct {
			Labels *json.RawMessage `json:"labels"`
		}
		// A line that is not JSON is ReadSamples' to report.
		if len(bytes.TrimSpace(line)) > 0 && json.Unmarshal(line, &keys) == nil {
			if keys.Labels == nil {
				return &SampleError{Source: source, Line: n, Err: invalid(`"labels" is missing; write "labels": [] for an article about none of the topics`)}
			}
			var labels []string
			_ = json.Unmarshal(*keys.Labels, &labels)
			for _, l := range labels {
				rl := c.counts[l]
				if rl == nil {
					rl = &RareLabel{Label: l}
					c.counts[l] = rl
				}
				rl.Count++
				if len(rl.Lines) < 3 {
					rl.Lines = append(rl.Lines, fmt.Sprintf("%s:%d", source, n))
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
}

// Rare returns the labels fewer than MinLabelSamples of the checked samples
// carry, most used first.
func (c *SampleChecker) Rare() []RareLabel {
	var rare []RareLabel
	for _, rl := range c.counts {
		if rl.Count < MinLabelSamples {
			rare = append(rare, *rl)
		}
	}
	slices.SortFunc(rare, func(a, b RareLabel) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Label, b.Label)
	})
	return rare
}

// SampleFiles are JSONL sample files (ReadSamples' format), read in order
// as one set of samples: a trainer checks them with Check, then reads them
// with Each, or does both with Read.
type SampleFiles []string

// Check runs a SampleChecker over every file and returns the files' total
// size in bytes, for a progress bar. The error is the first file's that
// cannot be opened or has a sample without "labels"; when there is none,
// Check calls warn (unless nil) with each label fewer than MinLabelSamples
// samples carry, most used first: a warning, not an error.
func (files SampleFiles) Check(warn func(RareLabel)) (size int64, _ error) {
	var check SampleChecker
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			return 0, fmt.Errorf("samples: %w", err)
		}
		err = check.Check(f, p)
		if info, serr := f.Stat(); serr == nil {
			size += info.Size()
		}
		f.Close()
		if err != nil {
			return 0, err
		}
	}
	for _, r := range check.Rare() {
		if warn != nil {
			warn(r)
		}
	}
	return size, nil
}

// Each returns a function that yields the files' samples in order, as
// ReadSamples reads them, copying the bytes it reads to progress unless
// that is nil.
func (files SampleFiles) Each(progress io.Writer) func(yield func(Sample) error) error {
	if progress == nil {
		progress = io.Discard
	}
	return func(yield func(Sample) error) error {
		for _, p := range files {
			f, err := os.Open(p)
			if err != nil {
				return fmt.Errorf("samples: %w", err)
			}
			err = ReadSamples(io.TeeReader(f, progress), p, yield)
			f.Close()
			if err != nil {
				return err
			}
		}
		return nil
	}
}

// Read checks the files (Check, which calls warn) and reads every sample.
func (files SampleFiles) Read(warn func(RareLabel)) ([]Sample, error) {
	if _, err := files.Check(warn); err != nil {
		return nil, err
	}
	var all []Sample
	err := files.Each(nil)(func(s Sample) error {
		all = append(all, s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return all, nil
}
