package classifier

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestSplitByLength(t *testing.T) {
	t.Parallel()
	words := func(n int) string { return strings.TrimSpace(strings.Repeat("word ", n)) }
	samples := []Sample{
		{Title: "Two words", Text: words(297)},  // 299: short
		{Title: "Two words", Text: words(298)},  // 300: long
		{Title: "", Text: words(1000)},          // long
		{Title: "Title", Text: "\tone\n two  "}, // 3: short
	}
	tests := []struct {
		name        string
		minWords    int
		short, long []int
	}{
		{"at 300", 300, []int{0, 3}, []int{1, 2}},
		{"at 1", 1, nil, []int{0, 1, 2, 3}},
		{"above all", 5000, []int{0, 1, 2, 3}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			short, long := SplitByLength(samples, tc.minWords)
			idx := func(part []Sample) []int {
				var out []int
				for _, s := range part {
					out = append(out, slices.IndexFunc(samples, func(x Sample) bool { return x.Title == s.Title && x.Text == s.Text }))
				}
				return out
			}
			if got := idx(short); !slices.Equal(got, tc.short) {
				t.Errorf("short = %v, want %v", got, tc.short)
			}
			if got := idx(long); !slices.Equal(got, tc.long) {
				t.Errorf("long = %v, want %v", got, tc.long)
			}
		})
	}
}

func TestEvaluateByLength(t *testing.T) {
	t.Parallel()
	m := mustTrainSmall(t)
	long := strings.Repeat("Troops shelled the town as the army advanced. ", 60)
	samples := []Sample{
		{Text: "Voters go to the polls in the general election", Labels: []string{"vote"}},
		{Text: long, Labels: []string{"war"}},
		{Text: "Football club wins the cup final"},
	}
	r := EvaluateByLength(m, samples, LongArticleWords)
	if r.All.N != 3 || r.Short.N != 2 || r.Long.N != 1 || r.MinWords != LongArticleWords {
		t.Fatalf("n = %d all, %d short, %d long at %d words; want 3, 2, 1 at %d", r.All.N, r.Short.N, r.Long.N, r.MinWords, LongArticleWords)
	}
	if want := Evaluate(m, samples[1:2]); !reflect.DeepEqual(r.Long, want) {
		t.Errorf("Long = %+v, want Evaluate on the long sample: %+v", r.Long, want)
	}
}
