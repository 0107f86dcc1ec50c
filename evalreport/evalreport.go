// Package evalreport presents how a model did on labelled samples: as text
// tables for a terminal (WriteText, WriteTable), and as a directory holding
// report.md with the metrics tables, a confusion matrix and a reliability
// diagram drawn with gonum/plot (Write). The numbers are classifier's
// (classifier.Report, classifier.LengthReport); this package only shows
// them.
package evalreport

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"text/template"

	"github.com/google/renameio/v2"
	"gonum.org/v1/plot/vg"

	"github.com/artclass/artclass/classifier"
)

// Evaluation is a model's reports on labelled samples, overall and by
// length, with what was evaluated. Its JSON form is what artclass eval -o
// json prints.
type Evaluation struct {
	ModelVersion string `json:"model_version"`
	// Model names the model file or the server.
	Model string `json:"model"`
	// Data are the sample files.
	Data []string `json:"data"`
	classifier.LengthReport
}

// The files Write makes in its directory.
const (
	ReportFile      = "report.md"
	ConfusionFile   = "confusion.png"
	ReliabilityFile = "reliability.png"
)

// reportTemplate is report.md: the metrics tables, the plots, and how to
// read them.
//
//go:embed report.md.tmpl
var reportTemplate string

// Write writes ReportFile and its plots, ConfusionFile and ReliabilityFile
// of ev.All, into dir, creating it if need be. Each file is replaced whole
// (renameio), so a failed write leaves no half-drawn plot.
func Write(dir string, ev Evaluation) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := savePlot(confusionPlot(ev.All.Confusion), 5.5*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, ConfusionFile)); err != nil {
		return err
	}
	if err := savePlot(reliabilityPlot(ev.All.Reliability, ev.All.ECE), 5*vg.Inch, 5*vg.Inch, filepath.Join(dir, ReliabilityFile)); err != nil {
		return err
	}
	tmpl, err := template.New(ReportFile).Funcs(template.FuncMap{
		"f3":   func(x float64) string { return fmt.Sprintf("%.3f", x) },
		"f4":   func(x float64) string { return fmt.Sprintf("%.4f", x) },
		"join": strings.Join,
	}).Parse(reportTemplate)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, ev); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := renameio.WriteFile(filepath.Join(dir, ReportFile), b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// WriteText prints the table of every sample, then of the short and the
// long ones.
func WriteText(w io.Writer, ev Evaluation) error {
	parts := []struct {
		name string
		r    classifier.Report
	}{
		{"", ev.All},
		{fmt.Sprintf("short samples (under %d words)", ev.MinWords), ev.Short},
		{fmt.Sprintf("long samples (%d words or more)", ev.MinWords), ev.Long},
	}
	fmt.Fprintf(w, "model %s on %d samples:\n", ev.ModelVersion, ev.All.N)
	for i, p := range parts {
		if i > 0 {
			fmt.Fprintf(w, "\n%s: %d\n", p.name, p.r.N)
			if p.r.N == 0 {
				continue
			}
		}
		if err := WriteTable(w, p.r); err != nil {
			return err
		}
	}
	return nil
}

// WriteCV prints a model's cross-validated report (WriteTable) under a line
// saying how it was obtained: "5-fold cross-validation of logreg:".
func WriteCV(w io.Writer, md classifier.Metadata) error {
	if _, err := fmt.Fprintf(w, "%d-fold cross-validation of %s:\n", md.Options.Folds, md.Algorithm); err != nil {
		return fmt.Errorf("report table: %w", err)
	}
	return WriteTable(w, md.CV)
}

// WriteTable prints one report: precision, recall, F1 and support a label,
// then the overall metrics on one line.
func WriteTable(w io.Writer, r classifier.Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "label\tprecision\trecall\tF1\tsupport\t")
	for _, l := range r.PerLabel {
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%d\t\n", l.Label, l.Precision, l.Recall, l.F1, l.Support)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("report table: %w", err)
	}
	_, err := fmt.Fprintf(w, "n=%d  micro-F1=%.4f  macro-F1=%.4f  exact-match=%.4f  hamming-loss=%.4f  ECE=%.4f\n",
		r.N, r.MicroF1, r.MacroF1, r.ExactMatch, r.HammingLoss, r.ECE)
	if err != nil {
		return fmt.Errorf("report table: %w", err)
	}
	return nil
}
