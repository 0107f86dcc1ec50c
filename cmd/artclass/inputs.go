package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"slices"

	"github.com/artclass/artclass/classifier"
)

// defaultInclude are the file names classify takes from a directory.
var defaultInclude = []string{"*.txt", "*.jsonl", "*.csv"}

// inputs are classify's arguments: files, directories and - for standard
// input. The formats are classifier's (ReadArticles).
type inputs struct {
	args    []string
	include []string
	stdin   io.Reader
	// limits bound a text file or JSONL line (Limits.MaxLineBytes).
	limits classifier.Limits
}

// each calls fn with every article of the inputs in order, and with a
// record carrying an error for each input (or line) that cannot be read.
// It stops when ctx ends or fn fails, returning that error.
func (in *inputs) each(ctx context.Context, fn func(classifier.ArticleRecord) error) error {
	for _, arg := range in.args {
		if err := ctx.Err(); err != nil {
			return err
		}
		if arg == "-" {
			if err := classifier.ReadArticles(in.stdin, classifier.FormatDetect, "-", in.limits, fn); err != nil {
				return err
			}
			continue
		}
		err := filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return ctxErr
			}
			switch {
			case err != nil:
				return fn(classifier.ArticleRecord{Source: path, Err: unwrapPathError(err)})
			case d.IsDir() || (path != arg && !in.included(d.Name())):
				return nil
			}
			return classifier.ReadArticlesFile(path, in.limits, fn)
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

// unwrapPathError drops the path from an *fs.PathError: the message names
// the input already.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
