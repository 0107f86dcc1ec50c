package main

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/client"
)

// backend classifies batches of articles, through a server or in-process,
// with the same results either way.
type backend interface {
	// classify returns one result per article, in order; the error is for
	// the whole batch (an unreachable server).
	classify(ctx context.Context, articles []client.Article, f client.Filter) ([]client.ItemResult, error)
	// labels returns the model's labels, sorted.
	labels(ctx context.Context) ([]string, error)
	// metadata describes the model.
	metadata(ctx context.Context) (classifier.Metadata, error)
	// where names the model or server for messages.
	where() string
	close() error
}

// modelFlags choose between the server and an in-process model.
type modelFlags struct {
	conn      connFlags
	local     bool
	modelPath string
	// serverFirst: with none of --addr, --local and --model the command
	// asks the server; otherwise it uses the embedded model.
	serverFirst bool
}

func (m *modelFlags) register(fs *pflag.FlagSet, serverFirst bool) {
	m.serverFirst = serverFirst
	m.conn.register(fs, false)
	fs.BoolVar(&m.local, "local", false, "use the model embedded in the binary, in-process")
	fs.StringVar(&m.modelPath, "model", "", "use the model `FILE`, in-process")
}

// open returns the backend the flags choose.
func (m *modelFlags) open(fs *pflag.FlagSet) (backend, error) {
	addr := fs.Changed("addr")
	switch {
	case m.local && m.modelPath != "":
		return nil, usagef("give at most one of --local and --model")
	case addr && (m.local || m.modelPath != ""):
		return nil, usagef("--addr asks the server; --local and --model work in-process: give one")
	}
	if m.local || m.modelPath != "" || (!addr && !m.serverFirst) {
		return localModel(m.modelPath)
	}
	c, err := m.conn.dial()
	if err != nil {
		return nil, err
	}
	return &remote{c: c, conn: &m.conn}, nil
}

// remote is a backend that calls a server.
type remote struct {
	c    *client.Client
	conn *connFlags
}

func (r *remote) classify(ctx context.Context, articles []client.Article, f client.Filter) ([]client.ItemResult, error) {
	res, err := r.c.ClassifyBatch(ctx, articles, f)
	return res, r.conn.serverError(err)
}

func (r *remote) labels(ctx context.Context) ([]string, error) {
	md, err := r.metadata(ctx)
	return md.Labels, err
}

func (r *remote) metadata(ctx context.Context) (classifier.Metadata, error) {
	md, err := r.c.GetModel(ctx)
	return md, r.conn.serverError(err)
}

func (r *remote) where() string { return r.conn.addr }
func (r *remote) close() error  { return r.c.Close() }

// local is a backend that runs a model in-process.
type local struct {
	m    *classifier.Model
	name string
}

// localModel loads the model file at path, or the embedded model if path is
// empty.
func localModel(path string) (*local, error) {
	if path == "" {
		m, err := classifier.Default()
		return &local{m: m, name: "the embedded model"}, err
	}
	m, err := classifier.LoadFile(path)
	return &local{m: m, name: path}, err
}

func (l *local) classify(ctx context.Context, articles []client.Article, f client.Filter) ([]client.ItemResult, error) {
	out := make([]client.ItemResult, len(articles))
	for i, a := range articles {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out[i].ID = a.ID
		if err := checkArticle(a); err != nil {
			out[i].Err = err
			continue
		}
		out[i].Classification = filtered(l.m.Classify(a.Title, a.Text), l.m.Version(), f)
	}
	return out, nil
}

func (l *local) labels(context.Context) ([]string, error) { return l.m.Labels(), nil }

func (l *local) metadata(context.Context) (classifier.Metadata, error) { return l.m.Metadata(), nil }

func (l *local) where() string { return l.name }
func (l *local) close() error  { return nil }

// checkArticle applies the server's default rules to an article classified
// in-process, so that bad input fails the same way in both places.
func checkArticle(a client.Article) error {
	var v []client.FieldViolation
	switch {
	case len(a.Title) > maxInputBytes:
		v = append(v, client.FieldViolation{Field: "title", Description: fmt.Sprintf("is %d bytes; the limit is %d bytes", len(a.Title), maxInputBytes)})
	case !utf8.ValidString(a.Title):
		v = append(v, client.FieldViolation{Field: "title", Description: "is not valid UTF-8"})
	}
	switch {
	case len(a.Text) > maxInputBytes:
		v = append(v, client.FieldViolation{Field: "text", Description: fmt.Sprintf("is %d bytes; the limit is %d bytes", len(a.Text), maxInputBytes)})
	case !utf8.ValidString(a.Text):
		v = append(v, client.FieldViolation{Field: "text", Description: "is not valid UTF-8"})
	case strings.TrimSpace(a.Text) == "":
		v = append(v, client.FieldViolation{Field: "text", Description: "is empty or only white space; it must hold the article's body"})
	}
	if len(v) == 0 {
		return nil
	}
	return &client.InvalidInputError{Message: "invalid request", Violations: v}
}

// filtered is what the server answers for r: the topics that pass
// MinConfidence, then the first TopK of them; the assigned labels whole.
func filtered(r classifier.Result, version string, f client.Filter) client.Classification {
	out := client.Classification{Labels: r.Labels(), ModelVersion: version, Topics: make([]classifier.Topic, 0, len(r.Topics))}
	for _, t := range r.Topics {
		if t.Confidence < f.MinConfidence || (f.TopK > 0 && len(out.Topics) == f.TopK) {
			continue
		}
		out.Topics = append(out.Topics, t)
	}
	return out
}
