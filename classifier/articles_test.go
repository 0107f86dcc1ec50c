package classifier

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// record is what the tests compare of an ArticleRecord: its error as text.
type record struct {
	Source string
	Article
	Err string
}

func readAll(t *testing.T, input string, format ArticleFormat, limits Limits) []record {
	t.Helper()
	var out []record
	err := ReadArticles(strings.NewReader(input), format, "in", limits, func(r ArticleRecord) error {
		rec := record{Source: r.Source, Article: r.Article}
		if r.Err != nil {
			rec.Err = r.Err.Error()
		}
		out = append(out, rec)
		return nil
	})
	if err != nil {
		t.Fatalf("ReadArticles: %v", err)
	}
	return out
}

func TestReadArticles(t *testing.T) {
	t.Parallel()
	small := Limits{MaxTextBytes: 10}
	smallLine := small.MaxLineBytes()
	tests := []struct {
		name   string
		format ArticleFormat
		limits Limits
		input  string
		want   []record
	}{
		{"text with a title", FormatText, Limits{}, "Polls close\nVoters queued.\nMore.",
			[]record{{Source: "in", Article: Article{Title: "Polls close", Text: "Voters queued.\nMore."}}}},
		{"text of one line is the body", FormatText, Limits{}, "Voters queued.\n",
			[]record{{Source: "in", Article: Article{Text: "Voters queued."}}}},
		{"blank text", FormatText, Limits{}, " \n\t\n", []record{{Source: "in", Err: "is empty"}}},
		{"text over the limit", FormatText, small, strings.Repeat("x", smallLine+1),
			[]record{{Source: "in", Err: (&TooLongError{What: "text", Limit: smallLine}).Error()}}},
		{"jsonl with ids, a blank line and a bad line", FormatJSONL, Limits{},
			`{"id": "a", "title": "T", "text": "one", "extra": 1}` + "\n\n" + `{"text": 3}` + "\n" + `{"text": "two"}`,
			[]record{
				{Source: "in#1", Article: Article{ID: "a", Title: "T", Text: "one"}},
				{Source: "in#3", Err: "invalid JSON: json: cannot unmarshal number into Go struct field Article.text of type string"},
				{Source: "in#4", Article: Article{Text: "two"}},
			}},
		{"jsonl line over the limit ends the input", FormatJSONL, small,
			`{"text": "one"}` + "\n" + `{"text": "` + strings.Repeat("x", smallLine) + `"}` + "\n" + `{"text": "three"}`,
			[]record{
				{Source: "in#1", Article: Article{Text: "one"}},
				{Source: "in#2", Err: (&TooLongError{What: "line", Limit: smallLine}).Error() + "; the rest of the input is skipped"},
			}},
		{"csv in any column order, with a BOM and a quoted newline", FormatCSV, Limits{},
			"\ufeffText , ID,other\nfirst,a,x\n\"second\nline\",b,y\n",
			[]record{
				{Source: "in#2", Article: Article{ID: "a", Text: "first"}},
				{Source: "in#3", Article: Article{ID: "b", Text: "second\nline"}},
			}},
		{"csv short row and a bad quote", FormatCSV, Limits{}, "title,text\nonly a title\n\"bad\"x,y\nT,body\n",
			[]record{
				{Source: "in#2", Article: Article{Title: "only a title"}},
				{Source: "in#3", Err: `extraneous or missing " in quoted-field`},
				{Source: "in#4", Article: Article{Title: "T", Text: "body"}},
			}},
		{"csv without a text column", FormatCSV, Limits{}, "title,body\nT,B\n",
			[]record{{Source: "in", Err: `the CSV header "title,body" has no text column (want text, and optionally title and id)`}}},
		{"empty csv", FormatCSV, Limits{}, "", []record{{Source: "in", Err: "CSV header: EOF"}}},
		{"detect jsonl after white space", FormatDetect, Limits{}, "\n  {\"id\": \"x\", \"text\": \"body\"}\n",
			[]record{{Source: "in#1", Article: Article{ID: "x", Text: "body"}}}},
		{"detect text", FormatDetect, Limits{}, "Title\nBody", []record{{Source: "in", Article: Article{Title: "Title", Text: "Body"}}}},
		{"detect empty", FormatDetect, Limits{}, " \n", []record{{Source: "in", Err: "is empty"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := readAll(t, tt.input, tt.format, tt.limits); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// TestReadArticlesStops: fn's error stops the read and is returned as it
// is; a failing reader is a record, not a returned error.
func TestReadArticlesStops(t *testing.T) {
	t.Parallel()
	stop := errors.New("stop")
	for _, format := range []ArticleFormat{FormatText, FormatJSONL, FormatCSV, FormatDetect} {
		calls := 0
		err := ReadArticles(strings.NewReader("text\n{\"text\": \"a\"}\n{\"text\": \"b\"}\n"), format, "in", Limits{}, func(ArticleRecord) error {
			calls++
			return stop
		})
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("%s: err %v after %d calls, want fn's error after 1", format, err, calls)
		}
	}
	broken := errors.New("disk on fire")
	var got []ArticleRecord
	err := ReadArticles(iotest.ErrReader(broken), FormatJSONL, "in", Limits{}, func(r ArticleRecord) error {
		got = append(got, r)
		return nil
	})
	if err != nil || len(got) != 1 || !errors.Is(got[0].Err, broken) {
		t.Errorf("a failing reader: err %v, records %+v; want one record carrying its error", err, got)
	}
}

func TestReadArticlesUnknownFormat(t *testing.T) {
	t.Parallel()
	called := false
	err := ReadArticles(strings.NewReader("text"), "xml", "in", Limits{}, func(ArticleRecord) error { called = true; return nil })
	if err == nil || !strings.Contains(err.Error(), `format "xml"`) || called {
		t.Errorf("format xml: %v (fn called: %v), want an error naming the format", err, called)
	}
}

func TestArticleFormatOf(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]ArticleFormat{
		"a.jsonl": FormatJSONL, "A.NDJSON": FormatJSONL, "dir/b.csv": FormatCSV,
		"c.txt": FormatText, "d.md": FormatText, "noext": FormatText,
	} {
		if got := ArticleFormatOf(name); got != want {
			t.Errorf("ArticleFormatOf(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestReadArticlesFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "wire.csv")
	if err := os.WriteFile(path, []byte("id,text\nw1,Troops crossed the border.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "none.txt")
	var got []ArticleRecord
	for _, p := range []string{path, missing} {
		if err := ReadArticlesFile(p, Limits{}, func(r ArticleRecord) error { got = append(got, r); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 2 || got[0].Source != path+"#2" || got[0].ID != "w1" || got[0].Err != nil {
		t.Fatalf("records %+v", got)
	}
	if got[1].Source != missing || !errors.Is(got[1].Err, os.ErrNotExist) || strings.Contains(got[1].Err.Error(), missing) {
		t.Errorf("a missing file: %+v, want a not-exist error that leaves the path to Source", got[1])
	}
}
