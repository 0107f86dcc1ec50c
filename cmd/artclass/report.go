package main

import (
	"bytes"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/brewer"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/artclass/artclass/classifier"
)

// The files of an eval --report directory.
const (
	reportFile      = "report.md"
	confusionFile   = "confusion.png"
	reliabilityFile = "reliability.png"
)

// writeReport writes report.md and its plots into dir.
func writeReport(dir string, ev *evaluation, r classifier.Report, where string, data []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	cm := ev.confusion()
	if err := savePlot(confusionPlot(cm), 5.5*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, confusionFile)); err != nil {
		return err
	}
	if err := savePlot(reliabilityPlot(r.Reliability, r.ECE), 5*vg.Inch, 5*vg.Inch, filepath.Join(dir, reliabilityFile)); err != nil {
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Evaluation of model %s\n\n", ev.version)
	fmt.Fprintf(&b, "Model: %s. Samples: %d from %s.\n\n", where, r.N, strings.Join(data, ", "))
	fmt.Fprintf(&b, "| label | precision | recall | F1 | support |\n|---|---:|---:|---:|---:|\n")
	for _, l := range r.PerLabel {
		fmt.Fprintf(&b, "| %s | %.3f | %.3f | %.3f | %d |\n", l.Label, l.Precision, l.Recall, l.F1, l.Support)
	}
	fmt.Fprintf(&b, "\n| micro-F1 | macro-F1 | exact match | hamming loss | ECE |\n|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| %.4f | %.4f | %.4f | %.4f | %.4f |\n\n", r.MicroF1, r.MacroF1, r.ExactMatch, r.HammingLoss, r.ECE)
	fmt.Fprintf(&b, `## Confusion matrix

![confusion matrix](%s)

Rows are the labels the articles carry, columns the labels the model
assigned; "none" is an article with no label. A cell is the share of the
row's articles (and their count): on the diagonal the label was assigned
(its recall), off it the article got the column's label although it does not
carry it, and under "none" it got no label at all. An article with two labels
counts in both rows.

Why this form: with several labels per article there is no single predicted
class to put in a column, so the usual matrix does not exist. Per label
TP/FP/FN/TN tables give the precision and recall above again but not which
topic a miss turned into; this matrix says that, and its diagonal is the
recall.

`, confusionFile)
	fmt.Fprintf(&b, `## Reliability diagram

![reliability diagram](%s)

Every (article, label) pair in %d equal-width confidence bins: the mean
confidence of a bin against the share of its pairs that carry the label,
with the number of pairs beside each point. A calibrated model stays on the
diagonal; ECE %.4f is the pairs-weighted mean distance from it.
`, reliabilityFile, len(r.Reliability), r.ECE)
	if err := os.WriteFile(filepath.Join(dir, reportFile), b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

func savePlot(p *plot.Plot, w, h vg.Length, path string) error {
	if err := p.Save(w, h, path); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// confusionMatrix counts, for each true label (rows, then "none") the
// articles that got each assigned label (columns, then "none").
type confusionMatrix struct {
	names  []string // the labels and "none"
	counts [][]int  // counts[row][col]
	rows   []int    // articles per row
}

// confusion builds the matrix: an article counts in the row of each label
// it carries (or "none"); in that row it adds to the diagonal when the label
// was assigned, to each assigned column it does not carry, and to "none"
// when nothing was assigned.
func (ev *evaluation) confusion() confusionMatrix {
	L := len(ev.labels)
	cm := confusionMatrix{names: append(append([]string{}, ev.labels...), "none"), rows: make([]int, L+1)}
	cm.counts = make([][]int, L+1)
	for r := range cm.counts {
		cm.counts[r] = make([]int, L+1)
	}
	index := make(map[string]int, L)
	for l, name := range ev.labels {
		index[name] = l
	}
	truth, assigned := make([]bool, L), make([]bool, L)
	for i, s := range ev.samples {
		clear(truth)
		clear(assigned)
		for _, name := range s.Labels {
			if l, ok := index[name]; ok {
				truth[l] = true
			}
		}
		for _, t := range ev.results[i].Topics {
			if l, ok := index[t.Label]; ok {
				assigned[l] = t.Assigned
			}
		}
		var rows []int
		for l := range L {
			if truth[l] {
				rows = append(rows, l)
			}
		}
		if len(rows) == 0 {
			rows = []int{L}
		}
		anyAssigned := slices.Contains(assigned, true)
		for _, r := range rows {
			cm.rows[r]++
			if !anyAssigned {
				cm.counts[r][L]++
			}
			for c := range L {
				if assigned[c] && (c == r || !truth[c]) {
					cm.counts[r][c]++
				}
			}
		}
	}
	return cm
}

// share is the cell as a share of its row's articles.
func (cm confusionMatrix) share(r, c int) float64 {
	if cm.rows[r] == 0 {
		return 0
	}
	return float64(cm.counts[r][c]) / float64(cm.rows[r])
}

// confusionGrid adapts the matrix to plotter.GridXYZ: column c at x = c,
// row r at y = n-1-r so that the first label is at the top.
type confusionGrid struct{ cm confusionMatrix }

func (g confusionGrid) Dims() (c, r int) { return len(g.cm.names), len(g.cm.names) }
func (g confusionGrid) Z(c, r int) float64 {
	return g.cm.share(len(g.cm.names)-1-r, c)
}
func (g confusionGrid) X(c int) float64 { return float64(c) }
func (g confusionGrid) Y(r int) float64 { return float64(r) }

func confusionPlot(cm confusionMatrix) *plot.Plot {
	p := plot.New()
	p.Title.Text = "Confusion matrix (share of the row's articles)"
	p.X.Label.Text = "assigned label"
	p.Y.Label.Text = "true label"
	pal, err := brewer.GetPalette(brewer.TypeSequential, "YlOrRd", 9)
	if err == nil {
		h := plotter.NewHeatMap(confusionGrid{cm}, pal)
		h.Min, h.Max = 0, 1
		p.Add(h)
	}
	n := len(cm.names)
	var xys plotter.XYs
	var texts []string
	for r := range n {
		for c := range n {
			xys = append(xys, plotter.XY{X: float64(c), Y: float64(n - 1 - r)})
			texts = append(texts, fmt.Sprintf("%.2f\n(%d)", cm.share(r, c), cm.counts[r][c]))
		}
	}
	if labels, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts}); err == nil {
		for i := range labels.TextStyle {
			labels.TextStyle[i].XAlign = draw.XCenter
			labels.TextStyle[i].YAlign = draw.YCenter
			labels.TextStyle[i].Color = color.Black
		}
		p.Add(labels)
	}
	var xt, yt []plot.Tick
	for i, name := range cm.names {
		xt = append(xt, plot.Tick{Value: float64(i), Label: name})
		yt = append(yt, plot.Tick{Value: float64(n - 1 - i), Label: name})
	}
	p.X.Tick.Marker = plot.ConstantTicks(xt)
	p.Y.Tick.Marker = plot.ConstantTicks(yt)
	p.X.Min, p.X.Max = -0.5, float64(n)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(n)-0.5
	return p
}

func reliabilityPlot(bins []classifier.ReliabilityBin, ece float64) *plot.Plot {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Reliability diagram (ECE %.4f)", ece)
	p.X.Label.Text = "mean confidence"
	p.Y.Label.Text = "share of pairs carrying the label"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	p.Add(plotter.NewGrid())

	diagonal, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err == nil {
		diagonal.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
		diagonal.LineStyle.Color = color.Gray{Y: 120}
		p.Add(diagonal)
		p.Legend.Add("perfect calibration", diagonal)
	}
	var xys plotter.XYs
	var texts []string
	for _, b := range bins {
		if b.N == 0 {
			continue
		}
		xys = append(xys, plotter.XY{X: b.Confidence, Y: b.Positives})
		texts = append(texts, fmt.Sprintf(" n=%d", b.N))
	}
	if len(xys) > 0 {
		line, points, err := plotter.NewLinePoints(xys)
		if err == nil {
			line.LineStyle.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
			points.GlyphStyle.Color = line.LineStyle.Color
			points.GlyphStyle.Shape = draw.CircleGlyph{}
			p.Add(line, points)
			p.Legend.Add("model", line, points)
		}
		if labels, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts}); err == nil {
			for i := range labels.TextStyle {
				labels.TextStyle[i].Font.Size = vg.Points(7)
			}
			p.Add(labels)
		}
	}
	// Bottom right: the corner a reliability curve never reaches.
	p.Legend.Top = false
	p.Legend.Left = false
	p.Legend.YOffs = vg.Points(10)
	return p
}
