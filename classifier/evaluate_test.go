package classifier

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestScoreConfusion(t *testing.T) {
	labels := []string{"a", "b"}
	topic := func(label string, assigned bool) Topic { return Topic{Label: label, Assigned: assigned} }
	tests := []struct {
		name    string
		samples []Sample
		results []Result
		want    Confusion
	}{
		{
			name: "right, confused, missed, and a negative",
			samples: []Sample{
				{Labels: []string{"a"}}, {Labels: []string{"a"}}, {Labels: []string{"b"}}, {},
			},
			results: []Result{
				{Topics: []Topic{topic("a", true), topic("b", false)}},
				{Topics: []Topic{topic("a", false), topic("b", true)}},
				{Topics: []Topic{topic("a", false), topic("b", false)}},
				{Topics: []Topic{topic("a", true), topic("b", false)}},
			},
			want: Confusion{Names: []string{"a", "b", "none"}, Rows: []int{2, 1, 1},
				Counts: [][]int{{1, 1, 0}, {0, 0, 1}, {1, 0, 0}}},
		},
		{
			name:    "two labels count in both rows; an unknown label is ignored",
			samples: []Sample{{Labels: []string{"a", "b", "zzz"}}},
			results: []Result{{Topics: []Topic{topic("a", true), topic("b", false)}}},
			want: Confusion{Names: []string{"a", "b", "none"}, Rows: []int{1, 1, 0},
				Counts: [][]int{{1, 0, 0}, {0, 0, 0}, {0, 0, 0}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Score(labels, tt.samples, tt.results)
			if !reflect.DeepEqual(*r.Confusion, tt.want) {
				t.Errorf("confusion %+v, want %+v", *r.Confusion, tt.want)
			}
			// The diagonal is the recall.
			for l, m := range r.PerLabel {
				if r.Confusion.Rows[l] > 0 && r.Confusion.Share(l, l) != m.Recall {
					t.Errorf("%s: diagonal %v, recall %v", m.Label, r.Confusion.Share(l, l), m.Recall)
				}
			}
		})
	}
}

func TestScoreByLength(t *testing.T) {
	long := strings.Repeat("word ", 10)
	samples := []Sample{{Text: "short one", Labels: []string{"a"}}, {Title: "t", Text: long, Labels: []string{"a"}}, {Text: "short two"}}
	results := []Result{
		{Topics: []Topic{{Label: "a", Assigned: true, Confidence: 0.9}}},
		{Topics: []Topic{{Label: "a", Assigned: false, Confidence: 0.2}}},
		{Topics: []Topic{{Label: "a", Assigned: false, Confidence: 0.1}}},
	}
	r := ScoreByLength([]string{"a"}, samples, results, 10)
	if r.MinWords != 10 || r.All.N != 3 || r.Short.N != 2 || r.Long.N != 1 {
		t.Fatalf("n all %d short %d long %d, want 3 2 1", r.All.N, r.Short.N, r.Long.N)
	}
	if r.Short.PerLabel[0].Recall != 1 || r.Long.PerLabel[0].Recall != 0 {
		t.Errorf("recall short %v long %v, want 1 and 0", r.Short.PerLabel[0].Recall, r.Long.PerLabel[0].Recall)
	}
	if want := Score([]string{"a"}, samples, results); !reflect.DeepEqual(r.All, want) {
		t.Errorf("All differs from Score")
	}
}

func TestCheckQuality(t *testing.T) {
	md := func(f1 float64) Metadata { return Metadata{Version: "v", CV: Report{MacroF1: f1}} }
	tests := []struct {
		name                string
		candidate, baseline float64
		refused             bool
	}{
		{"better", 0.95, 0.90, false},
		{"a little worse", 0.89, 0.90, false},
		{"just within the limit", 0.881, 0.90, false},
		{"worse by more", 0.85, 0.90, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckQuality(md(tt.candidate), md(tt.baseline))
			var qe *QualityError
			if errors.As(err, &qe) != tt.refused {
				t.Fatalf("CheckQuality = %v, want refused %v", err, tt.refused)
			}
			if tt.refused && (!strings.Contains(err.Error(), "0.8500") || !strings.Contains(err.Error(), "0.9000 (version v)")) {
				t.Errorf("message %q does not name both figures and the version", err)
			}
		})
	}
}
