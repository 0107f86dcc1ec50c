package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/artclass/artclass/classifier"
	"github.com/spf13/cobra"
)

// maxInputBytes bounds one text input, matching the server's default limit.
const maxInputBytes = 1 << 20

func newClassifyCmd(stdout, stderr io.Writer) *cobra.Command {
	var local bool
	var modelPath, format string
	cmd := &cobra.Command{
		Use:   "classify (--local | --model MODEL) [-o table|json|jsonl] [FILE|-]...",
		Short: "Classify articles in-process",
		Long: `Classify scores each input: a text file whose first line is the title and the
rest the article, a .jsonl file of samples (one result per line), or - for
standard input (the default). --local uses the embedded model, --model a model
file. json prints one array, jsonl one object per line, each with source,
labels (assigned), topics ({label, confidence}, highest first) and
model_version.`,
		Example: `  artclass classify --local article.txt
  cat article.txt | artclass classify --model my.model -o json -`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if local == (modelPath != "") {
				return usageError{fmt.Errorf("classify: give exactly one of --local or --model")}
			}
			if format != "table" && format != "json" && format != "jsonl" {
				return usageError{fmt.Errorf("classify: -o must be table, json or jsonl, not %q", format)}
			}
			m, err := loadModel(modelPath)
			if err != nil {
				return err
			}
			if len(args) == 0 {
				args = []string{"-"}
			}
			out := newResultWriter(stdout, format)
			failed := 0
			for _, arg := range args {
				err := forEachInput(arg, cmd.InOrStdin(), func(source, title, text string) error {
					return out.write(classified(source, m.Version(), m.Classify(title, text)))
				})
				if err != nil {
					fmt.Fprintf(stderr, "artclass: %s: %v\n", arg, err)
					failed++
				}
			}
			if err := out.close(); err != nil {
				return err
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d inputs failed", failed, len(args))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&local, "local", false, "use the embedded model")
	f.StringVar(&modelPath, "model", "", "use this model file")
	f.StringVarP(&format, "output", "o", "table", "output format: table, json or jsonl")
	return cmd
}

// forEachInput calls fn with each article of one input argument.
func forEachInput(arg string, stdin io.Reader, fn func(source, title, text string) error) error {
	var r io.Reader = stdin
	source := "-"
	if arg != "-" {
		f, err := os.Open(arg)
		if err != nil {
			return err
		}
		defer f.Close()
		r, source = f, arg
	}
	if strings.HasSuffix(arg, ".jsonl") {
		line := 0
		return classifier.ReadSamples(r, source, func(s classifier.Sample) error {
			line++
			return fn(fmt.Sprintf("%s#%d", source, line), s.Title, s.Text)
		})
	}
	data, err := io.ReadAll(io.LimitReader(r, maxInputBytes+1))
	if err != nil {
		return err
	}
	if len(data) > maxInputBytes {
		return fmt.Errorf("input is larger than %d bytes", maxInputBytes)
	}
	title, text, _ := strings.Cut(string(data), "\n")
	if strings.TrimSpace(text) == "" {
		title, text = "", title
	}
	if strings.TrimSpace(text) == "" {
		return fmt.Errorf("input is empty")
	}
	return fn(source, strings.TrimSpace(title), text)
}

// result is the JSON shape of one classified input.
type result struct {
	Source       string       `json:"source"`
	Labels       []string     `json:"labels"`
	Topics       []topicJSON  `json:"topics"`
	ModelVersion string       `json:"model_version"`
	Explanations []explainRow `json:"-"`
}

type topicJSON struct {
	Label      string  `json:"label"`
	Confidence float64 `json:"confidence"`
}

type explainRow struct {
	label string
	terms []classifier.Term
}

func classified(source, version string, r classifier.Result) result {
	out := result{Source: source, Labels: r.Labels(), ModelVersion: version}
	if out.Labels == nil {
		out.Labels = []string{}
	}
	for _, t := range r.Topics {
		out.Topics = append(out.Topics, topicJSON{t.Label, t.Confidence})
		if t.Assigned {
			out.Explanations = append(out.Explanations, explainRow{t.Label, t.Terms})
		}
	}
	return out
}

// resultWriter prints results in one of the output formats as they come.
type resultWriter struct {
	w      *bufio.Writer
	format string
	n      int
}

func newResultWriter(w io.Writer, format string) *resultWriter {
	return &resultWriter{w: bufio.NewWriter(w), format: format}
}

func (rw *resultWriter) write(r result) error {
	defer func() { rw.n++ }()
	switch rw.format {
	case "jsonl":
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		rw.w.Write(append(b, '\n'))
	case "json":
		sep := ",\n  "
		if rw.n == 0 {
			sep = "[\n  "
		}
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		rw.w.WriteString(sep)
		rw.w.Write(b)
	default:
		tw := tabwriter.NewWriter(rw.w, 0, 0, 2, ' ', 0)
		labels := strings.Join(r.Labels, ", ")
		if labels == "" {
			labels = "(none)"
		}
		fmt.Fprintf(tw, "%s\t%s\n", r.Source, labels)
		for _, t := range r.Topics {
			fmt.Fprintf(tw, "  %s\t%.3f\n", t.Label, t.Confidence)
		}
		for _, e := range r.Explanations {
			terms := make([]string, len(e.terms))
			for i, t := range e.terms {
				terms[i] = t.Term
			}
			fmt.Fprintf(tw, "  why %s:\t%s\n", e.label, strings.Join(terms, ", "))
		}
		tw.Flush()
	}
	return nil
}

func (rw *resultWriter) close() error {
	if rw.format == "json" {
		if rw.n == 0 {
			rw.w.WriteString("[")
		}
		rw.w.WriteString("\n]\n")
	}
	return rw.w.Flush()
}
