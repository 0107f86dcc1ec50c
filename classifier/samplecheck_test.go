package classifier

import (
	"errors"
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
