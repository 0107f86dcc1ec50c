package classifier

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ArticleFormat is how ReadArticles splits a stream into articles.
type ArticleFormat string

// The article formats.
const (
	// FormatText is one article: its title on the first line and its body
	// below; a single line is the body.
	FormatText ArticleFormat = "text"
	// FormatJSONL is one JSON object a line with the fields of Article
	// ("id", "title", "text"); other keys are ignored.
	FormatJSONL ArticleFormat = "jsonl"
	// FormatCSV is a header row naming a text column and optionally title
	// and id columns (in any order, others ignored), then one article a row.
	FormatCSV ArticleFormat = "csv"
	// FormatDetect is JSONL when the first byte that is not white space is
	// '{', and text otherwise: for a stream without a name, such as
	// standard input.
	FormatDetect ArticleFormat = "detect"
)

// ArticleFormatOf is the format of a file by the extension of its name:
// .jsonl and .ndjson are JSONL, .csv is CSV, and anything else is text.
func ArticleFormatOf(name string) ArticleFormat {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jsonl", ".ndjson":
		return FormatJSONL
	case ".csv":
		return FormatCSV
	}
	return FormatText
}

// ArticleRecord is one article read from an input, or why one could not be
// read.
type ArticleRecord struct {
	Article
	// Source names where the article came from: the input's name, and for
	// JSONL and CSV "#" and the line it starts on ("feed.jsonl#3").
	Source string
	// Bytes is how many bytes of the input the record took, for progress.
	Bytes int64
	// Err says why the record could not be read. The rest of the input is
	// still read unless the error ends it (a read failure, a line over the
	// limit, a CSV header without a text column).
	Err error
}

// TooLongError is the error of a record longer than a reader's limit: a
// text article or a JSONL line beyond Limits.MaxLineBytes.
type TooLongError struct {
	// What is too long: "text" or "line".
	What string
	// Limit is the limit in bytes.
	Limit int
}

// Error names what is too long and the limit.
func (e *TooLongError) Error() string {
	return fmt.Sprintf("%s is longer than %d bytes", e.What, e.Limit)
}

// ReadArticles reads the articles of r in format and calls fn with each, in
// order. source names r in the records' Source. Reading is bounded by
// limits.MaxLineBytes: a text article or a JSONL line longer than that is a
// record with a *TooLongError, so one input cannot take unbounded memory.
// The articles are not checked against limits: a server judges them by its
// own (CheckArticle does it in-process).
//
// Every problem of the input is a record with Err set, and the rest go on
// where they can; ReadArticles returns fn's error, which stops it, and an
// error for an unknown format.
func ReadArticles(r io.Reader, format ArticleFormat, source string, limits Limits, fn func(ArticleRecord) error) error {
	maxLine := limits.MaxLineBytes()
	switch format {
	case FormatJSONL:
		return readJSONL(r, source, maxLine, fn)
	case FormatCSV:
		return readCSV(r, source, fn)
	case FormatDetect:
		return readDetect(r, source, maxLine, fn)
	case FormatText:
		return fn(readText(r, source, maxLine))
	}
	return fmt.Errorf("read articles: format %q is not one of text, jsonl, csv and detect", format)
}

// ReadArticlesFile reads the articles of the file at path in the format
// its name gives (ArticleFormatOf), as ReadArticles does; a file that
// cannot be opened is a record with an error.
func ReadArticlesFile(path string, limits Limits, fn func(ArticleRecord) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fn(ArticleRecord{Source: path, Err: unwrapPath(err)})
	}
	defer f.Close()
	return ReadArticles(f, ArticleFormatOf(path), path, limits, fn)
}

// unwrapPath drops the path from an *fs.PathError: the record's Source
// names it already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readDetect reads JSONL or text, by the first byte that is not white
// space.
func readDetect(r io.Reader, source string, maxLine int, fn func(ArticleRecord) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		b, err := br.Peek(1)
		switch {
		case errors.Is(err, io.EOF):
			return fn(ArticleRecord{Source: source, Err: errors.New("is empty")})
		case err != nil:
			return fn(ArticleRecord{Source: source, Err: err})
		case b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n':
			_, _ = br.ReadByte()
		case b[0] == '{':
			return readJSONL(br, source, maxLine, fn)
		default:
			return fn(readText(br, source, maxLine))
		}
	}
}

// readText reads one text article of at most limit bytes.
func readText(r io.Reader, source string, limit int) ArticleRecord {
	data, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return ArticleRecord{Source: source, Err: err}
	}
	rec := ArticleRecord{Source: source, Bytes: int64(len(data))}
	if len(data) > limit {
		rec.Err = &TooLongError{What: "text", Limit: limit}
		return rec
	}
	title, text, _ := strings.Cut(string(data), "\n")
	if strings.TrimSpace(text) == "" {
		title, text = "", title
	}
	if strings.TrimSpace(text) == "" {
		rec.Err = errors.New("is empty")
		return rec
	}
	rec.Title, rec.Text = strings.TrimSpace(title), text
	return rec
}

// readJSONL reads one article a line. A line that is not a JSON object
// with string fields is a record with an error and the rest go on; a line
// over maxLine ends the input.
func readJSONL(r io.Reader, source string, maxLine int, fn func(ArticleRecord) error) error {
	sc := bufio.NewScanner(r)
	// The buffer's capacity counts as a limit too: keep it within maxLine.
	sc.Buffer(make([]byte, 0, min(64<<10, maxLine)), maxLine)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		rec := ArticleRecord{Source: fmt.Sprintf("%s#%d", source, n), Bytes: int64(len(line) + 1)}
		if err := json.Unmarshal(line, &rec.Article); err != nil {
			rec.Err = fmt.Errorf("invalid JSON: %w", err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	err := sc.Err()
	if err == nil {
		return nil
	}
	if errors.Is(err, bufio.ErrTooLong) {
		err = fmt.Errorf("%w; the rest of the input is skipped", &TooLongError{What: "line", Limit: maxLine})
	}
	return fn(ArticleRecord{Source: fmt.Sprintf("%s#%d", source, n+1), Err: err})
}

// readCSV reads a header row and then one article a row; a row's Source
// carries the line it starts on.
func readCSV(r io.Reader, source string, fn func(ArticleRecord) error) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return fn(ArticleRecord{Source: source, Err: fmt.Errorf("CSV header: %w", err)})
	}
	col, err := newCSVColumns(header)
	if err != nil {
		return fn(ArticleRecord{Source: source, Err: err})
	}
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var rec ArticleRecord
		var perr *csv.ParseError
		switch {
		case errors.As(err, &perr):
			rec = ArticleRecord{Source: fmt.Sprintf("%s#%d", source, perr.Line), Err: perr.Err}
		case err != nil:
			return fn(ArticleRecord{Source: source, Err: err})
		default:
			line, _ := cr.FieldPos(0)
			rec.Source = fmt.Sprintf("%s#%d", source, line)
			rec.Article = Article{ID: col.field(row, "id"), Title: col.field(row, "title"), Text: col.field(row, "text")}
			rec.Bytes = int64(len(rec.Title) + len(rec.Text))
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

// csvColumns maps the column names of Article to their index in a CSV
// header; a missing column is -1.
type csvColumns map[string]int

// newCSVColumns reads a header row: names are matched without case, space or
// a byte-order mark, and text is required.
func newCSVColumns(header []string) (csvColumns, error) {
	col := csvColumns{"id": -1, "title": -1, "text": -1}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, ok := col[h]; ok {
			col[h] = i
		}
	}
	if col["text"] < 0 {
		return nil, fmt.Errorf("the CSV header %q has no text column (want text, and optionally title and id)", strings.Join(header, ","))
	}
	return col, nil
}

// field is the named column of row, or "" when the header or the row lacks
// it.
func (c csvColumns) field(row []string, name string) string {
	if i := c[name]; i >= 0 && i < len(row) {
		return row[i]
	}
	return ""
}
