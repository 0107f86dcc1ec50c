package evalreport

import (
	"bytes"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg/draw"

	"github.com/artclass/artclass/classifier"
)

// evaluation scores made-up verdicts on four samples, one of them long.
func evaluation(t *testing.T) Evaluation {
	t.Helper()
	long := strings.Repeat("Voters queued at the polls. ", 20)
	samples := []classifier.Sample{
		{Text: "Troops crossed the border.", Labels: []string{"defence"}},
		{Text: "Voters went to the polls.", Labels: []string{"elections"}},
		{Text: "Shares rose.", Labels: []string{}},
		{Text: long, Labels: []string{"elections"}},
	}
	verdict := func(defence, elections float64, assigned ...string) classifier.Result {
		r := classifier.Result{Topics: []classifier.Topic{{Label: "defence", Confidence: defence}, {Label: "elections", Confidence: elections}}}
		for i := range r.Topics {
			for _, a := range assigned {
				r.Topics[i].Assigned = r.Topics[i].Assigned || r.Topics[i].Label == a
			}
		}
		return r
	}
	results := []classifier.Result{verdict(0.9, 0.1, "defence"), verdict(0.6, 0.3, "defence"), verdict(0.2, 0.1), verdict(0.1, 0.95, "elections")}
	return Evaluation{
		ModelVersion: "0123456789abcdef", Model: "test.model", Data: []string{"a.jsonl", "b.jsonl"},
		LengthReport: classifier.ScoreByLength([]string{"defence", "elections"}, samples, results, 50),
	}
}

func TestWrite(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "new", "report")
	if err := Write(dir, evaluation(t)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{ConfusionFile, ReliabilityFile} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Errorf("%s is not a PNG: %v", name, err)
			continue
		}
		if b := img.Bounds(); b.Dx() < 200 || b.Dy() < 200 {
			t.Errorf("%s is %v, too small", name, b)
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# Evaluation of model 0123456789abcdef", "Model: test.model. Samples: 4 from a.jsonl, b.jsonl.",
		"| defence | 0.500 | 1.000 | 0.667 | 1 |", "### Short articles: 3", "### Long articles: 1",
		"](" + ConfusionFile + ")", "](" + ReliabilityFile + ")",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
}

func TestWriteFailsOnAFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(file, evaluation(t)); err == nil || !strings.HasPrefix(err.Error(), "report: ") {
		t.Errorf("Write into a file: %v, want a report error", err)
	}
}

func TestWriteText(t *testing.T) {
	t.Parallel()
	ev := evaluation(t)
	tests := []struct {
		name string
		ev   Evaluation
		want []string
		not  []string
	}{
		{"short and long", ev, []string{
			"model 0123456789abcdef on 4 samples:\n",
			"    defence      0.500   1.000  0.667        1\n",
			"short samples (under 50 words): 3\n", "long samples (50 words or more): 1\n",
			"n=1  micro-F1=1.0000  macro-F1=0.5000",
		}, nil},
		{"no long samples", Evaluation{ModelVersion: "v", LengthReport: classifier.LengthReport{MinWords: 300, All: ev.Short, Short: ev.Short}},
			[]string{"long samples (300 words or more): 0\n"}, []string{"n=0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			if err := WriteText(&b, tt.ev); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
			for _, w := range tt.not {
				if strings.Contains(b.String(), w) {
					t.Errorf("output has %q:\n%s", w, b.String())
				}
			}
		})
	}
}

func TestWriteCV(t *testing.T) {
	t.Parallel()
	md := classifier.Metadata{Algorithm: "logreg", Options: classifier.TrainOptions{Folds: 5}, CV: evaluation(t).All}
	var b bytes.Buffer
	if err := WriteCV(&b, md); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "5-fold cross-validation of logreg:\n") || !strings.Contains(b.String(), "n=4  micro-F1=0.6667") {
		t.Errorf("WriteCV printed:\n%s\nwant the heading, then the table", b.String())
	}
}

// TestReportPlotsReadable: every cell colour of the confusion matrix gets
// a number colour with WCAG AA contrast; reliability counts sit beside
// their points, inside the plot; the diagonal shows around the model line.
func TestReportPlotsReadable(t *testing.T) {
	for i, bg := range confusionPalette().Colors() {
		if c := contrast(textColor(bg), bg); c < 4.5 {
			t.Errorf("palette colour %d %v: text contrast %.2f, want at least 4.5", i, bg, c)
		}
	}
	if textColor(color.White) != color.Black || textColor(color.RGBA{R: 128, A: 255}) != color.White {
		t.Error("textColor picks the wrong colour for white or dark red")
	}
	for _, pt := range [][2]float64{{0.05, 0.0}, {0.5, 0.5}, {0.97, 1.0}, {0.99, 0.02}} {
		align, dx, dy := countOffset(pt[0], pt[1])
		if dx == 0 || dy == 0 {
			t.Errorf("count at %v sits on its point", pt)
		}
		if pt[0] > 0.8 && (align != draw.XRight || dx > 0) {
			t.Errorf("count at %v runs off the right edge", pt)
		}
		if pt[1] < 0.1 && dy < 0 {
			t.Errorf("count at %v runs off the bottom", pt)
		}
	}
	if diagonalWidth <= modelWidth {
		t.Errorf("diagonal %v no wider than the model line %v: one hides the other", diagonalWidth, modelWidth)
	}
}
