package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/artclass/artclass/classifier"
)

// result is the JSON shape of one classified input.
type result struct {
	Source       string             `json:"source"`
	ID           string             `json:"id,omitempty"`
	Labels       []string           `json:"labels"`
	Topics       []topicJSON        `json:"topics"`
	ModelVersion string             `json:"model_version"`
	Warning      classifier.Warning `json:"warning,omitempty"`
}

type topicJSON struct {
	Label      string  `json:"label"`
	Confidence float64 `json:"confidence"`
	// Terms are the terms behind an assigned label, with --explain.
	Terms []classifier.Term `json:"terms,omitempty"`
}

// checkFormat refuses an -o value that command cannot print.
func checkFormat(command, format string, formats ...string) error {
	if slices.Contains(formats, format) {
		return nil
	}
	last := len(formats) - 1
	return usagef("%s: -o must be %s or %s, not %q", command, strings.Join(formats[:last], ", "), formats[last], format)
}

// printAs prints v as indented JSON for -o json, and with table otherwise.
func printAs[T any](w io.Writer, format string, v T, table func(io.Writer, T) error) error {
	if format != "json" {
		return table(w, v)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// resultWriter prints results in one of the output formats as they come.
type resultWriter struct {
	w       *bufio.Writer
	csv     *csv.Writer
	format  string
	labels  []string // the csv columns
	explain bool
	color   bool
	n       int
}

func (rw *resultWriter) write(it classifier.ArticleRecord, v verdict) error {
	defer func() { rw.n++ }()
	switch rw.format {
	case "csv":
		return rw.writeCSV(it, v)
	case "table":
		return rw.writeTable(it, v)
	}
	r := result{Source: it.Source, ID: it.ID, Labels: v.Labels(), ModelVersion: v.version, Warning: v.Warning, Topics: make([]topicJSON, len(v.Topics))}
	if r.Labels == nil {
		r.Labels = []string{}
	}
	for i, t := range v.Topics {
		r.Topics[i] = topicJSON{Label: t.Label, Confidence: t.Confidence}
		if rw.explain {
			r.Topics[i].Terms = t.Terms
		}
	}
	b, err := json.Marshal(r)
	switch {
	case err != nil:
		return err
	case rw.format == "jsonl":
		b = append(b, '\n')
	case rw.n == 0:
		rw.w.WriteString("[\n  ")
	default:
		rw.w.WriteString(",\n  ")
	}
	_, err = rw.w.Write(b)
	return err
}

func (rw *resultWriter) writeCSV(it classifier.ArticleRecord, v verdict) error {
	if rw.n == 0 {
		header := append([]string{"source", "id", "labels", "model_version"}, rw.labels...)
		if rw.explain {
			header = append(header, "terms")
		}
		if err := rw.csv.Write(header); err != nil {
			return err
		}
	}
	row := []string{it.Source, it.ID, strings.Join(v.Labels(), ";"), v.version}
	for _, l := range rw.labels {
		cell := ""
		for _, t := range v.Topics {
			if t.Label == l {
				cell = strconv.FormatFloat(t.Confidence, 'f', 4, 64)
			}
		}
		row = append(row, cell)
	}
	if rw.explain {
		var why []string
		explained(v, " | ", func(label, terms string) { why = append(why, label+": "+terms) })
		row = append(row, strings.Join(why, "; "))
	}
	return rw.csv.Write(row)
}

func (rw *resultWriter) writeTable(it classifier.ArticleRecord, v verdict) error {
	tw := tabwriter.NewWriter(rw.w, 0, 0, 2, ' ', 0)
	labels := strings.Join(v.Labels(), ", ")
	if labels == "" {
		labels = "(none)"
	} else if rw.color {
		labels = "\x1b[1;32m" + labels + "\x1b[0m"
	}
	source := it.Source
	if it.ID != "" {
		source += " (id " + it.ID + ")"
	}
	fmt.Fprintf(tw, "%s\t%s\n", source, labels)
	if v.Warning == classifier.WarningLowCoverage {
		fmt.Fprintf(tw, "  warning:\ttoo few of its words are known to the model to judge it\n")
	}
	for _, t := range v.Topics {
		fmt.Fprintf(tw, "  %s\t%.3f\n", t.Label, t.Confidence)
	}
	if rw.explain {
		explained(v, ", ", func(label, terms string) { fmt.Fprintf(tw, "  why %s:\t%s\n", label, terms) })
	}
	return tw.Flush()
}

// explained calls fn with each assigned label that has terms (--explain)
// and its terms joined with sep.
func explained(v verdict, sep string, fn func(label, terms string)) {
	for _, t := range v.Topics {
		if t.Assigned && len(t.Terms) > 0 {
			terms := make([]string, len(t.Terms))
			for i, term := range t.Terms {
				terms[i] = term.Term
			}
			fn(t.Label, strings.Join(terms, sep))
		}
	}
}

func (rw *resultWriter) close() error {
	switch rw.format {
	case "json":
		if rw.n == 0 {
			rw.w.WriteString("[")
		}
		rw.w.WriteString("\n]\n")
	case "csv":
		rw.csv.Flush()
		if err := rw.csv.Error(); err != nil {
			return err
		}
	}
	return rw.w.Flush()
}

// isTerminal reports whether w is a terminal, where colour and progress
// bars belong. NO_COLOR and TERM=dumb count as no terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	return term.IsTerminal(int(f.Fd()))
}

// Inputs this large get a progress bar (on a terminal).
const (
	progressFiles = 50
	progressBytes = 1 << 20
)

// classifyBar is classify's progress bar on stderr, drawn when stderr is a
// terminal, quiet is off, every input is a file (their size is the bar's
// total) and there are many of them or they are large.
func classifyBar(stderr io.Writer, in *inputs, quiet bool) *progressbar.ProgressBar {
	var files int
	var size int64
	show := !quiet && isTerminal(stderr) && in.files(func(n int64) { files++; size += n }) &&
		(files >= progressFiles || size >= progressBytes)
	return newBar(stderr, show, size, "classifying", progressbar.OptionSetPredictTime(true))
}

// newBar is the CLI's one style of progress bar: total bytes on w. Unless
// show is set it is invisible, and its methods write nothing.
func newBar(w io.Writer, show bool, total int64, description string, more ...progressbar.Option) *progressbar.ProgressBar {
	if !show {
		w = io.Discard
	}
	return progressbar.NewOptions64(total, append([]progressbar.Option{
		progressbar.OptionSetVisibility(show),
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(description),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionClearOnFinish(),
	}, more...)...)
}
