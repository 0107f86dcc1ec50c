package classifier

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestReadSamples(t *testing.T) {
	t.Parallel()
	input := `{"title":"T1","text":"Troops advance.","labels":["defence"],"id":"x","source":"y"}

{"text":"Markets rose.","labels":[]}
{"title":"T3","text":"Vote count.","labels":["elections","middle-east"]}
`
	var got []Sample
	err := ReadSamples(strings.NewReader(input), "in.jsonl", func(s Sample) error {
		got = append(got, s)
		return nil
	})
	if err != nil {
		t.Fatalf("ReadSamples: %v", err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d samples, want 3", len(got))
	}
	if got[0].Title != "T1" || !slices.Equal(got[0].Labels, []string{"defence"}) {
		t.Errorf("sample 0 = %+v", got[0])
	}
	if got[1].Title != "" || len(got[1].Labels) != 0 {
		t.Errorf("sample 1 = %+v, want a negative without title", got[1])
	}
}

func TestReadSamplesErrors(t *testing.T) {
	t.Parallel()
	good := `{"text":"fine","labels":[]}` + "\n"
	tests := []struct {
		name  string
		input string
		line  int
		want  string
	}{
		{"invalid JSON", good + `{"text": "x", `, 2, "invalid JSON"},
		{"not an object", `["text"]`, 1, "wrong type"},
		{"missing text", good + good + `{"title":"t","labels":[]}`, 3, "text is missing"},
		{"empty text", `{"text":"","labels":[]}`, 1, "text is missing or empty"},
		{"blank text", `{"text":"  \n\t ","labels":[]}`, 1, "text is missing or empty"},
		{"text not a string", `{"text":5,"labels":[]}`, 1, `field "text" has the wrong type`},
		{"invalid UTF-8", "{\"text\":\"bad \xff byte\",\"labels\":[]}", 1, "not valid UTF-8"},
		{"label not a string", `{"text":"x","labels":[1]}`, 1, "label 0 is not a string"},
		{"labels not a list", `{"text":"x","labels":"defence"}`, 1, `field "labels" has the wrong type`},
		{"upper-case label", `{"text":"x","labels":["Defence"]}`, 1, `label "Defence" is not of the form`},
		{"label with space", `{"text":"x","labels":["middle east"]}`, 1, "is not of the form"},
		{"label starting with hyphen", `{"text":"x","labels":["-x"]}`, 1, "is not of the form"},
		{"empty label", `{"text":"x","labels":[""]}`, 1, "is not of the form"},
		{"too long label", `{"text":"x","labels":["` + strings.Repeat("a", 65) + `"]}`, 1, "longer than 64 bytes"},
		{"duplicate label", `{"text":"x","labels":["a","a"]}`, 1, "appears twice"},
		{"line too long", good + `{"text":"` + strings.Repeat("w ", MaxSampleLineBytes/2+1) + `"}` + "\n" + good, 2, "longer than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := ReadSamples(strings.NewReader(tc.input), "data.jsonl", func(Sample) error { return nil })
			var se *SampleError
			if !errors.As(err, &se) {
				t.Fatalf("error = %v, want a *SampleError", err)
			}
			if se.Source != "data.jsonl" || se.Line != tc.line {
				t.Errorf("error at %s:%d, want data.jsonl:%d", se.Source, se.Line, tc.line)
			}
			if !errors.Is(err, ErrInvalidSample) {
				t.Errorf("error %v does not wrap ErrInvalidSample", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "data.jsonl:") {
				t.Errorf("error = %q, want it to start with the file and contain %q", err, tc.want)
			}
		})
	}
}

func TestReadSamplesStopsOnCallbackError(t *testing.T) {
	t.Parallel()
	stop := errors.New("stop")
	n := 0
	err := ReadSamples(strings.NewReader("{\"text\":\"a\"}\n{\"text\":\"b\"}\n"), "x", func(Sample) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("got err %v after %d calls, want the callback's error after 1", err, n)
	}
}
