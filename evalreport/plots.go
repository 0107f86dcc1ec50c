package evalreport

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"path/filepath"

	"github.com/google/renameio/v2"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/brewer"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/artclass/artclass/classifier"
)

// savePlot draws p into a PNG file at path, which is replaced whole or
// not at all.
func savePlot(p *plot.Plot, w, h vg.Length, path string) error {
	png, err := p.WriterTo(w, h, "png")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var b bytes.Buffer
	if _, err := png.WriteTo(&b); err != nil {
		return fmt.Errorf("report: %s: %w", filepath.Base(path), err)
	}
	if err := renameio.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// confusionGrid adapts the matrix to plotter.GridXYZ: column c at x = c,
// row r at y = n-1-r so that the first label is at the top.
type confusionGrid struct{ cm *classifier.Confusion }

func (g confusionGrid) Dims() (c, r int) { return len(g.cm.Names), len(g.cm.Names) }
func (g confusionGrid) Z(c, r int) float64 {
	return g.cm.Share(len(g.cm.Names)-1-r, c)
}
func (g confusionGrid) X(c int) float64 { return float64(c) }
func (g confusionGrid) Y(r int) float64 { return float64(r) }

// confusionPalette colours the confusion matrix's cells by share.
func confusionPalette() palette.Palette { return brewer.YlOrRd[9] }

// cellColor is the colour the heat map gives a share: HeatMap picks the
// palette entry by the share's position in [0, 1].
func cellColor(pal []color.Color, share float64) color.Color {
	return pal[int(share*float64(len(pal)-1)+0.5)]
}

// textColor is black or white, whichever contrasts more with background:
// the dark red cells of a good diagonal need white numbers.
func textColor(background color.Color) color.Color {
	if contrast(color.White, background) > contrast(color.Black, background) {
		return color.White
	}
	return color.Black
}

// contrast is the WCAG contrast ratio of two colours, 1 to 21.
func contrast(a, b color.Color) float64 {
	la, lb := luminance(a), luminance(b)
	return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
}

// luminance is the WCAG relative luminance of c.
func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	lin := func(v uint32) float64 {
		x := float64(v) / 0xffff
		if x <= 0.03928 {
			return x / 12.92
		}
		return math.Pow((x+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

// confusionPlot draws cm as a heat map of row shares, each cell labelled
// with its share and count.
func confusionPlot(cm *classifier.Confusion) *plot.Plot {
	p := plot.New()
	p.Title.Text = "Confusion matrix (share of the row's articles)"
	p.X.Label.Text = "assigned label"
	p.Y.Label.Text = "true label"
	pal := confusionPalette()
	h := plotter.NewHeatMap(confusionGrid{cm}, pal)
	h.Min, h.Max = 0, 1
	p.Add(h)
	n := len(cm.Names)
	var xys plotter.XYs
	var texts []string
	var styles []color.Color
	for r := range n {
		for c := range n {
			xys = append(xys, plotter.XY{X: float64(c), Y: float64(n - 1 - r)})
			texts = append(texts, fmt.Sprintf("%.2f\n(%d)", cm.Share(r, c), cm.Counts[r][c]))
			styles = append(styles, textColor(cellColor(pal.Colors(), cm.Share(r, c))))
		}
	}
	if labels, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts}); err == nil {
		for i := range labels.TextStyle {
			labels.TextStyle[i].XAlign = draw.XCenter
			labels.TextStyle[i].YAlign = draw.YCenter
			labels.TextStyle[i].Color = styles[i]
		}
		p.Add(labels)
	}
	var xt, yt []plot.Tick
	for i, name := range cm.Names {
		xt = append(xt, plot.Tick{Value: float64(i), Label: name})
		yt = append(yt, plot.Tick{Value: float64(n - 1 - i), Label: name})
	}
	p.X.Tick.Marker = plot.ConstantTicks(xt)
	p.Y.Tick.Marker = plot.ConstantTicks(yt)
	p.X.Min, p.X.Max = -0.5, float64(n)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(n)-0.5
	return p
}

// The reliability diagram's two lines: the diagonal wide and pale under
// the model's narrow dark line, so that both show where they coincide.
var (
	diagonalWidth = vg.Points(4)
	modelWidth    = vg.Points(1.5)
)

// countOffset places a bin's count beside its point without covering it or
// leaving the plot: to the right and below, or to the left near the right
// edge, or above near the bottom.
func countOffset(x, y float64) (xAlign draw.XAlignment, dx, dy vg.Length) {
	xAlign, dx, dy = draw.XLeft, vg.Points(6), vg.Points(-12)
	if x > 0.8 {
		xAlign, dx = draw.XRight, vg.Points(-6)
	}
	if y < 0.1 {
		dy = vg.Points(6)
	}
	return xAlign, dx, dy
}

// reliabilityPlot draws the bins' mean confidence against their share of
// positives over the diagonal of perfect calibration.
func reliabilityPlot(bins []classifier.ReliabilityBin, ece float64) *plot.Plot {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Reliability diagram (ECE %.4f)", ece)
	p.X.Label.Text = "mean confidence"
	p.Y.Label.Text = "share of pairs carrying the label"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	p.Add(plotter.NewGrid())

	if diagonal, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}}); err == nil {
		diagonal.LineStyle.Width = diagonalWidth
		diagonal.LineStyle.Color = color.Gray{Y: 200}
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
		texts = append(texts, fmt.Sprintf("n=%d", b.N))
	}
	if len(xys) > 0 {
		if line, points, err := plotter.NewLinePoints(xys); err == nil {
			line.LineStyle.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
			line.LineStyle.Width = modelWidth
			points.GlyphStyle.Color = line.LineStyle.Color
			points.GlyphStyle.Shape = draw.CircleGlyph{}
			p.Add(line, points)
			p.Legend.Add("model", line, points)
		}
		// One Labels a point: the offset is the plotter's, not the label's.
		for i, xy := range xys {
			if label, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{xy}, Labels: texts[i : i+1]}); err == nil {
				label.TextStyle[0].Font.Size = vg.Points(7)
				label.TextStyle[0].XAlign, label.Offset.X, label.Offset.Y = countOffset(xy.X, xy.Y)
				p.Add(label)
			}
		}
	}
	// Bottom right: the corner a reliability curve never reaches.
	p.Legend.Top = false
	p.Legend.Left = false
	p.Legend.YOffs = vg.Points(10)
	return p
}
