package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/artclass/artclass/classifier"
)

// maxInputBytes bounds one text input, matching the server's default limit.
const maxInputBytes = 1 << 20

// defaultInclude are the file names classify takes from a directory.
var defaultInclude = []string{"*.txt", "*.jsonl"}

// item is one article read from the inputs, or why one could not be read.
type item struct {
	source      string
	title, text string
	size        int64 // input bytes it took, for the progress bar
	err         error
}

// inputs are classify's arguments.
type inputs struct {
	args    []string
	include []string
	stdin   io.Reader
}

// errStop ends the walk over the inputs early.
var errStop = errors.New("stop")

// each calls fn with every article of the inputs in order, and with an item
// carrying an error for each input (or JSONL line) that cannot be read. It
// stops when ctx ends or fn fails, returning that error.
func (in *inputs) each(ctx context.Context, fn func(item) error) error {
	for _, arg := range in.args {
		if err := ctx.Err(); err != nil {
			return err
		}
		if arg == "-" {
			if err := readStdin(in.stdin, fn); err != nil {
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
			if err := readFile(arg, fn); err != nil {
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
			return readFile(path, fn)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// included reports whether a file found in a directory is an input.
func (in *inputs) included(name string) bool {
	for _, g := range in.include {
		if ok, _ := filepath.Match(g, name); ok {
			return true
		}
	}
	return false
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
		info, err := os.Stat(arg)
		switch {
		case err != nil:
		case !info.IsDir():
			fn(info.Size())
		default:
			_ = filepath.WalkDir(arg, func(_ string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() && in.included(d.Name()) {
					if info, err := d.Info(); err == nil {
						fn(info.Size())
					}
				}
				return nil
			})
		}
	}
	return sized
}

func isJSONL(path string) bool {
	return strings.HasSuffix(path, ".jsonl") || strings.HasSuffix(path, ".ndjson")
}

func readFile(path string, fn func(item) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fn(item{source: path, err: unwrapPathError(err)})
	}
	defer f.Close()
	if isJSONL(path) {
		return readJSONL(f, path, fn)
	}
	return fn(readText(f, path))
}

// readStdin reads standard input as JSONL when its first non-blank byte is
// '{', and as one text article otherwise.
func readStdin(r io.Reader, fn func(item) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		b, err := br.Peek(1)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return fn(item{source: "-", err: errors.New("standard input is empty")})
			}
			return fn(item{source: "-", err: err})
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			br.ReadByte()
			continue
		case '{':
			return readJSONL(br, "-", fn)
		}
		return fn(readText(br, "-"))
	}
}

// readText reads one text article: the title on the first line, the body
// below it. A single line is the body.
func readText(r io.Reader, source string) item {
	data, err := io.ReadAll(io.LimitReader(r, maxInputBytes+1))
	if err != nil {
		return item{source: source, err: err}
	}
	it := item{source: source, size: int64(len(data))}
	if len(data) > maxInputBytes {
		it.err = fmt.Errorf("is larger than %d bytes", maxInputBytes)
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
	it.title, it.text = strings.TrimSpace(title), text
	return it
}

// article is the part of a JSONL line classify reads.
type article struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

// readJSONL streams the lines of r, one article each. A line that is not a
// JSON object with a string text becomes an item with an error and the rest
// go on. The source of line n is "source#n".
func readJSONL(r io.Reader, source string, fn func(item) error) error {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	var line []byte
	for n := 1; ; n++ {
		var err error
		var size int64
		line, size, err = classifier.ReadLine(br, line[:0])
		src := fmt.Sprintf("%s#%d", source, n)
		var it item
		switch {
		case errors.Is(err, classifier.ErrLineTooLong):
			it = item{source: src, size: size, err: fmt.Errorf("line is longer than %d bytes", classifier.MaxSampleLineBytes)}
		case err != nil && !errors.Is(err, io.EOF):
			return fn(item{source: src, err: err})
		case len(bytes.TrimSpace(line)) == 0:
			if errors.Is(err, io.EOF) {
				return nil
			}
			continue
		default:
			var a article
			if jerr := json.Unmarshal(line, &a); jerr != nil {
				it = item{source: src, size: size, err: fmt.Errorf("invalid JSON: %w", jerr)}
			} else {
				it = item{source: src, size: size, title: a.Title, text: a.Text}
			}
		}
		if ferr := fn(it); ferr != nil {
			return ferr
		}
		if errors.Is(err, io.EOF) {
			return nil
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
