package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/artclass/artclass/classifier"
)

// defaultInclude are the file names classify takes from a directory.
var defaultInclude = []string{"*.txt", "*.jsonl", "*.csv"}

// item is one article read from the inputs, or why one could not be read.
type item struct {
	source string
	classifier.Article
	size int64 // input bytes it took, for the progress bar
	err  error
}

// inputs are classify's arguments.
type inputs struct {
	args    []string
	include []string
	stdin   io.Reader
	// maxLine bounds a JSONL line or CSV record.
	maxLine int
}

// each calls fn with every article of the inputs in order, and with an item
// carrying an error for each input (or line) that cannot be read. It stops
// when ctx ends or fn fails, returning that error.
func (in *inputs) each(ctx context.Context, fn func(item) error) error {
	for _, arg := range in.args {
		if err := ctx.Err(); err != nil {
			return err
		}
		if arg == "-" {
			if err := in.readStdin(fn); err != nil {
				return err
			}
			continue
		}
		info, err := os.Stat(arg)
		if err != nil {
			if err := fn(item{source: arg, err: unwrapPathError(err)}); err != nil {
				return err
			}
			continue
		}
		if !info.IsDir() {
			if err := in.readFile(arg, fn); err != nil {
				return err
			}
			continue
		}
		err = filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return ctxErr
			}
			if err != nil {
				return fn(item{source: path, err: unwrapPathError(err)})
			}
			if d.IsDir() || !in.included(d.Name()) {
				return nil
			}
			return in.readFile(path, fn)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// included reports whether a file found in a directory is an input.
func (in *inputs) included(name string) bool {
	return slices.ContainsFunc(in.include, func(g string) bool {
		ok, _ := filepath.Match(g, name)
		return ok
	})
}

// files calls fn with the size of each input file, for the progress bar;
// it reports whether every input is a file (standard input is not).
func (in *inputs) files(fn func(size int64)) bool {
	sized := true
	for _, arg := range in.args {
		if arg == "-" {
			sized = false
			continue
		}
		_ = filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (path == arg || in.included(d.Name())) {
				if info, err := d.Info(); err == nil {
					fn(info.Size())
				}
			}
			return nil
		})
	}
	return sized
}

// readFile reads one input file by its extension: .jsonl or .ndjson one
// article a line, .csv one a row, anything else one text article.
func (in *inputs) readFile(path string, fn func(item) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fn(item{source: path, err: unwrapPathError(err)})
	}
	defer f.Close()
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson":
		return in.readJSONL(f, path, fn)
	case ".csv":
		return in.readCSV(f, path, fn)
	}
	return fn(readText(f, path, in.maxLine))
}

// readStdin reads standard input as JSONL when its first non-blank byte is
// '{', and as one text article otherwise.
func (in *inputs) readStdin(fn func(item) error) error {
	br := bufio.NewReaderSize(in.stdin, 64<<10)
	for {
		b, err := br.Peek(1)
		switch {
		case errors.Is(err, io.EOF):
			return fn(item{source: "-", err: errors.New("standard input is empty")})
		case err != nil:
			return fn(item{source: "-", err: err})
		case b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n':
			_, _ = br.ReadByte()
		case b[0] == '{':
			return in.readJSONL(br, "-", fn)
		default:
			return fn(readText(br, "-", in.maxLine))
		}
	}
}

// readText reads one text article: the title on the first line, the body
// below it; a single line is the body. Its size is for the classifier to
// judge (CheckArticle in-process, the server's limit remotely); limit, the
// JSONL line limit, only bounds the memory one file can take.
func readText(r io.Reader, source string, limit int) item {
	data, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return item{source: source, err: err}
	}
	it := item{source: source, size: int64(len(data))}
	if len(data) > limit {
		it.err = fmt.Errorf("is larger than %d bytes (--max-text-bytes raises the limit)", limit)
		return it
	}
	title, text, _ := strings.Cut(string(data), "\n")
	if strings.TrimSpace(text) == "" {
		title, text = "", title
	}
	if strings.TrimSpace(text) == "" {
		it.err = errors.New("is empty")
		return it
	}
	it.Title, it.Text = strings.TrimSpace(title), text
	return it
}

// readJSONL streams the lines of r, one article each. A line that is not a
// JSON object with a string text becomes an item with an error and the rest
// go on; a line over the limit ends the file. The source of line n is
// "source#n".
func (in *inputs) readJSONL(r io.Reader, source string, fn func(item) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), in.maxLine)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		it := item{source: fmt.Sprintf("%s#%d", source, n), size: int64(len(line) + 1)}
		if err := json.Unmarshal(line, &it.Article); err != nil {
			it.err = fmt.Errorf("invalid JSON: %w", err)
		}
		if err := fn(it); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("line is longer than %d bytes (--max-text-bytes raises the limit); the rest of the file is skipped", in.maxLine)
		}
		return fn(item{source: fmt.Sprintf("%s#%d", source, n+1), err: err})
	}
	return nil
}

// readCSV reads a CSV file with a header row naming its columns: text, and
// optionally title and id (other columns are ignored). Each further row is
// one article, its source "source#n" with n its line.
func (in *inputs) readCSV(r io.Reader, source string, fn func(item) error) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return fn(item{source: source, err: fmt.Errorf("CSV header: %w", err)})
	}
	col := map[string]int{"id": -1, "title": -1, "text": -1}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, ok := col[h]; ok {
			col[h] = i
		}
	}
	if col["text"] < 0 {
		return fn(item{source: source, err: fmt.Errorf("the CSV header %q has no text column (want text, and optionally title and id)", strings.Join(header, ","))})
	}
	field := func(rec []string, name string) string {
		if i := col[name]; i >= 0 && i < len(rec) {
			return rec[i]
		}
		return ""
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var it item
		var perr *csv.ParseError
		switch {
		case errors.As(err, &perr):
			it = item{source: fmt.Sprintf("%s#%d", source, perr.Line), err: perr.Err}
		case err != nil:
			return fn(item{source: source, err: err})
		default:
			line, _ := cr.FieldPos(0)
			it.source = fmt.Sprintf("%s#%d", source, line)
			it.Article = classifier.Article{ID: field(rec, "id"), Title: field(rec, "title"), Text: field(rec, "text")}
			it.size = int64(len(it.Title) + len(it.Text))
		}
		if err := fn(it); err != nil {
			return err
		}
	}
}

// unwrapPathError drops the path from an *fs.PathError: the message names
// the input already.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
