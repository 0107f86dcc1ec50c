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
		err := ctx.Err()
		switch {
		case err != nil:
		case arg == "-":
			err = classifier.ReadArticles(in.stdin, classifier.FormatDetect, "-", in.limits, fn)
		default:
			err = in.walk(arg, func(path string, _ fs.DirEntry, err error) error {
				switch {
				case ctx.Err() != nil:
					return ctx.Err()
				case err != nil:
					return fn(classifier.ArticleRecord{Source: path, Err: unwrapPathError(err)})
				}
				return classifier.ReadArticlesFile(path, in.limits, fn)
			})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// walk calls fn with arg when it is a file, with every --include file below
// it when it is a directory, and with each error met on the way.
func (in *inputs) walk(arg string, fn fs.WalkDirFunc) error {
	included := func(name string) bool {
		return slices.ContainsFunc(in.include, func(g string) bool { ok, _ := filepath.Match(g, name); return ok })
	}
	return filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
		if err == nil && (d.IsDir() || (path != arg && !included(d.Name()))) {
			return nil
		}
		return fn(path, d, err)
	})
}

// files calls fn with the size of each input file, for the progress bar;
// it reports whether every input is a file (standard input is not).
func (in *inputs) files(fn func(size int64)) bool {
	for _, arg := range slices.DeleteFunc(slices.Clone(in.args), func(a string) bool { return a == "-" }) {
		_ = in.walk(arg, func(_ string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if info, err := d.Info(); err == nil {
				fn(info.Size())
			}
			return nil
		})
	}
	return !slices.Contains(in.args, "-")
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
