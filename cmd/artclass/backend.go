package main

import (
	"context"
	"io"

	"github.com/spf13/pflag"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/client"
	"github.com/artclass/artclass/internal/envflag"
)

// backend classifies batches of articles, through a server or in-process,
// with the same results either way.
type backend interface {
	// classify returns one verdict per article, in order; the error is for
	// the whole batch (an unreachable server).
	classify(ctx context.Context, articles []classifier.Article, f classifier.Filter) ([]verdict, error)
	// model describes the model: its metadata and each label's decision
	// threshold, whichever backend answers.
	model(ctx context.Context) (client.Model, error)
	// where names the model or server for messages.
	where() string
	close() error
}

// verdict is the outcome for one article: a filtered classifier.Result and
// the version of the model that gave it, or err.
type verdict struct {
	classifier.Result
	version string
	err     error
}

// modelFlags choose between the server and an in-process model.
type modelFlags struct {
	conn      connFlags
	local     bool
	modelPath string
	// limits are the rules in-process classification applies; their
	// line limit bounds the JSONL lines read from any backend.
	limits classifier.Limits
	// serverFirst: with none of --addr, --local and --model the command
	// asks the server; otherwise it uses the embedded model.
	serverFirst bool
}

func (m *modelFlags) register(fs *pflag.FlagSet, serverFirst bool) {
	m.serverFirst = serverFirst
	m.conn.register(fs, false)
	fs.BoolVar(&m.local, "local", false, "use the model embedded in the binary, in-process")
	fs.StringVar(&m.modelPath, "model", "", "use the model `FILE`, in-process")
	fs.IntVar(&m.limits.MaxTextBytes, "max-text-bytes", classifier.DefaultMaxTextBytes,
		"in-process: the longest title or text accepted (a server applies its own limit); JSONL lines may be as long as such an article needs")
}

// open returns the backend the flags choose. --addr from the environment
// (ARTCLASS_ADDR) gives way to --local and --model; given on the command
// line next to them, it is a usage error.
func (m *modelFlags) open(fs *pflag.FlagSet, stderr io.Writer) (backend, error) {
	switch {
	case m.local && m.modelPath != "":
		return nil, usagef("give at most one of --local and --model")
	case envflag.FromCommandLine(fs, "addr") && (m.local || m.modelPath != ""):
		return nil, usagef("--addr asks the server; --local and --model work in-process: give one")
	case m.limits.MaxTextBytes < 1:
		return nil, usagef("--max-text-bytes %d must be at least 1", m.limits.MaxTextBytes)
	}
	if m.local || m.modelPath != "" || (!fs.Changed("addr") && !m.serverFirst) {
		return localModel(m.modelPath, m.limits)
	}
	c, err := m.conn.dial(stderr)
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

func (r *remote) classify(ctx context.Context, articles []classifier.Article, f classifier.Filter) ([]verdict, error) {
	res, err := r.c.ClassifyBatch(ctx, articles, f)
	if err != nil {
		return nil, r.conn.serverError(err)
	}
	out := make([]verdict, len(res))
	for i, it := range res {
		out[i] = verdict{Result: it.Result.Result, version: it.ModelVersion, err: it.Err}
	}
	return out, nil
}

func (r *remote) model(ctx context.Context) (client.Model, error) {
	m, err := r.c.GetModel(ctx)
	if err != nil {
		return client.Model{}, r.conn.serverError(err)
	}
	return m.Model, nil
}

func (r *remote) where() string { return r.conn.addr }
func (r *remote) close() error  { return r.c.Close() }

// local is a backend that runs a model in-process.
type local struct {
	m      *classifier.Model
	name   string
	limits classifier.Limits
}

// localModel loads the model file at path, or the embedded model if path is
// empty.
func localModel(path string, limits classifier.Limits) (*local, error) {
	if path == "" {
		m, err := classifier.Default()
		return &local{m: m, name: "the embedded model", limits: limits}, err
	}
	m, err := classifier.LoadFile(path)
	return &local{m: m, name: path, limits: limits}, err
}

func (l *local) classify(ctx context.Context, articles []classifier.Article, f classifier.Filter) ([]verdict, error) {
	out := make([]verdict, len(articles))
	for i, a := range articles {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if out[i].err = l.limits.CheckArticle(a); out[i].err == nil {
			out[i] = verdict{Result: l.m.Classify(a.Title, a.Text).Filter(f), version: l.m.Version()}
		}
	}
	return out, nil
}

func (l *local) model(context.Context) (client.Model, error) {
	return client.Model{Metadata: l.m.Metadata(), Thresholds: l.m.Thresholds()}, nil
}

func (l *local) where() string { return l.name }
func (l *local) close() error  { return nil }
