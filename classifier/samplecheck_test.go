package classifier

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSampleChecker(t *testing.T) {
	line := func(labels string) string { return `{"text": "x", "labels": ` + labels + "}\n" }
	tests := []struct {
		name    string
		files   map[string]string // checked in name order: a, b
		wantErr string
		rare    []RareLabel
	}{
		{
			name:  "negatives and common labels",
			files: map[string]string{"a": strings.Repeat(line(`["x"]`), 5) + line(`[]`)},
		},
		{
			name:    "missing labels key",
			files:   map[string]string{"a": line(`["x"]`) + "\n" + `{"text": "y", "label": ["x"]}` + "\n"},
			wantErr: `a:3: invalid sample: "labels" is missing; write "labels": [] for an article about none of the topics`,
		},
		{
			name:  "a label over two files is counted once",
			files: map[string]string{"a": strings.Repeat(line(`["x"]`), 3), "b": strings.Repeat(line(`["x"]`), 2)},
		},
		{
			name:  "rare labels name their first lines",
			files: map[string]string{"a": strings.Repeat(line(`["defence"]`), 5) + strings.Repeat(line(`["defense"]`), 4) + line(`["x", "defence"]`)},
			rare: []RareLabel{
				{Label: "defense", Count: 4, Lines: []string{"a:6", "a:7", "a:8"}},
				{Label: "x", Count: 1, Lines: []string{"a:10"}},
			},
		},
		{
			name:  "bad JSON is left to ReadSamples",
			files: map[string]string{"a": "{not json\n" + strings.Repeat(line(`["x"]`), 5)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c SampleChecker
			var err error
			for _, name := range []string{"a", "b"} {
				if content, ok := tt.files[name]; ok && err == nil {
					err = c.Check(strings.NewReader(content), name)
				}
			}
			if tt.wantErr != "" {
				var se *SampleError
				if !errors.As(err, &se) || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Rare(); !reflect.DeepEqual(got, tt.rare) {
				t.Errorf("rare %+v, want %+v", got, tt.rare)
			}
		})
	}
	got := RareLabel{Label: "defense", Count: 4, Lines: []string{"a:6", "a:7", "a:8"}}.String()
	if want := `label "defense" is used by 4 sample(s), fewer than 5 (a:6, a:7, a:8, …): a typo?`; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// TestSampleFiles reads real files: Read returns every sample in file order
// and the rare labels, or the first file's error naming file and line; Each
// copies what it reads to its progress writer.
func TestSampleFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	common := write("common.jsonl", strings.Repeat(`{"text": "a", "labels": ["x"]}`+"\n", 5))
	rare := write("rare.jsonl", `{"text": "b", "labels": ["y"]}`+"\n"+`{"text": "c", "labels": []}`+"\n")
	typo := write("typo.jsonl", `{"text": "d", "label": ["x"]}`+"\n")
	tests := []struct {
		name      string
		files     SampleFiles
		wantTexts string
		wantRare  []string
		wantErr   string
	}{
		{name: "two files in order", files: SampleFiles{common, rare}, wantTexts: "aaaaabc", wantRare: []string{"y"}},
		{name: "no rare label", files: SampleFiles{common}, wantTexts: "aaaaa"},
		{name: "missing labels names file and line", files: SampleFiles{common, typo}, wantErr: typo + `:1: invalid sample: "labels" is missing`},
		{name: "missing file", files: SampleFiles{filepath.Join(dir, "none.jsonl")}, wantErr: "samples: open " + filepath.Join(dir, "none.jsonl")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var labels []string
			samples, err := tt.files.Read(func(r RareLabel) { labels = append(labels, r.Label) })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var texts strings.Builder
			for _, s := range samples {
				texts.WriteString(s.Text)
			}
			if texts.String() != tt.wantTexts || !reflect.DeepEqual(labels, tt.wantRare) {
				t.Errorf("texts %q rare %v, want %q %v", texts.String(), labels, tt.wantTexts, tt.wantRare)
			}
		})
	}

	files := SampleFiles{common, rare}
	size, err := files.Check(nil)
	if err != nil {
		t.Fatal(err)
	}
	var read bytes.Buffer
	if err := files.Each(&read)(func(Sample) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if int64(read.Len()) != size {
		t.Errorf("Each copied %d bytes to its progress writer; Check counted %d", read.Len(), size)
	}
}
