package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/internal/buildinfo"
	"github.com/artclass/artclass/internal/envflag"
	"github.com/artclass/artclass/modelstore"
	"github.com/artclass/artclass/server"
)

// envPrefix is the prefix of every flag's environment variable.
const envPrefix = "ARTCLASS"

// options are the parsed flags.
type options struct {
	listen, httpListen, metricsListen string
	corsOrigins                       []string
	model, modelDir, modelStore       string
	storePoll                         time.Duration
	modelCache                        string
	adminTokenFile                    string
	tlsCert, tlsKey, clientCA         string
	maxTextBytes, maxBatch            int
	maxMessageBytes                   int
	maxConnectionAge                  time.Duration
	shutdownDelay, shutdownTimeout    time.Duration
	logLevel, logFormat               string

	helpErr error // a usage error found while answering --help
}

// usageError is a mistake on the command line or in an ARTCLASS_*
// variable: main exits 2 for it.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// newCommand returns artclassd's command line, every flag bound to its
// ARTCLASS_* variable, and the options it fills in.
func newCommand(stdout, stderr io.Writer) (*cobra.Command, *options) {
	o := new(options)
	cmd := &cobra.Command{
		Use:   "artclassd [flags]",
		Short: "Serve the artclass API over gRPC and HTTP/JSON",
		Long:  "artclassd classifies news articles into topics with calibrated confidences.\nEvery flag can also be set by its ARTCLASS_* environment variable; the command line wins.",
		// cobra.NoArgs would answer before PreRunE, without the usage
		// status; PreRunE refuses arguments instead.
		Args:          cobra.ArbitraryArgs,
		Version:       buildinfo.Version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	o.register(cmd.Flags())
	applyEnv := envflag.Bind(cmd, envPrefix)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	finish := func(cmd *cobra.Command) error {
		if err := applyEnv(cmd); err != nil {
			return usageError{err}
		}
		if err := o.check(); err != nil {
			return usageError{err}
		}
		return nil
	}
	cmd.PreRunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError{fmt.Errorf("unexpected arguments %q; artclassd takes only flags", args)}
		}
		return finish(cmd)
	}
	// --help is answered without PreRunE; it checks the environment too, so
	// that `artclassd ARGS --help` vets a whole configuration (the
	// Kubernetes manifests' test relies on it).
	help := cmd.HelpFunc()
	cmd.SetHelpFunc(func(c *cobra.Command, args []string) {
		if o.helpErr = finish(c); o.helpErr == nil {
			help(c, args)
		}
	})
	return cmd, o
}

func (o *options) register(fs *pflag.FlagSet) {
	fs.StringVar(&o.listen, "listen", "localhost:50051", "serve gRPC on `ADDR`")
	fs.StringVar(&o.httpListen, "http-listen", "localhost:8080", "serve HTTP/JSON, /openapi.json and the playground on `ADDR`; empty serves none")
	fs.StringSliceVar(&o.corsOrigins, "http-cors-origins", nil, "browser `ORIGINS` (comma-separated) allowed to call the HTTP API from other sites; none by default")
	fs.StringVar(&o.metricsListen, "metrics-listen", "", "serve Prometheus metrics on http://`ADDR`/metrics; empty serves none")
	fs.StringVar(&o.model, "model", "", "serve the model `FILE` (with a store: publish it when the store has no active model) instead of the embedded model")
	fs.StringVar(&o.modelStore, "model-store", "", "follow and publish to the model store at `URL` (file:///dir, s3://bucket?region=…, mem://)")
	fs.StringVar(&o.modelDir, "model-dir", "", "short for --model-store file:///abs/`DIR` (created if missing)")
	fs.DurationVar(&o.storePoll, "store-poll", modelstore.DefaultPollInterval, "how often to poll the model store for a new active version")
	fs.StringVar(&o.modelCache, "model-cache", "", "keep a copy of the last model in `DIR`, to start while the store is down")
	fs.StringVar(&o.adminTokenFile, "admin-token-file", "", "the `FILE` holding the bearer token of Train, ListModels and ActivateModel; without it they are disabled")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "serve gRPC and HTTP over TLS with the PEM certificate `FILE`")
	fs.StringVar(&o.tlsKey, "tls-key", "", "the PEM private key `FILE` of --tls-cert")
	fs.StringVar(&o.clientCA, "client-ca", "", "require client certificates signed by the PEM CA `FILE` (mTLS)")
	fs.IntVar(&o.maxTextBytes, "max-text-bytes", classifier.DefaultMaxTextBytes, "the longest title or text accepted, in bytes")
	fs.IntVar(&o.maxBatch, "max-batch", server.DefaultMaxBatch, "the most articles in one ClassifyBatch call")
	fs.IntVar(&o.maxMessageBytes, "max-message-bytes", 16<<20, "the largest gRPC message received, in bytes")
	fs.DurationVar(&o.maxConnectionAge, "max-connection-age", 5*time.Minute, "close client connections this old (after their calls), so clients re-resolve and spread over new replicas; 0 never")
	fs.DurationVar(&o.shutdownDelay, "shutdown-delay", 0, "on SIGTERM, report NOT_SERVING this long before draining, so load balancers stop sending calls")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long a shutdown waits for calls in flight")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "json", "json or text")
}

// check refuses flag combinations and values that cannot work.
func (o *options) check() error {
	switch {
	case o.maxTextBytes <= 0:
		return fmt.Errorf("--max-text-bytes %d must be positive", o.maxTextBytes)
	case o.maxBatch <= 0:
		return fmt.Errorf("--max-batch %d must be positive", o.maxBatch)
	case o.maxMessageBytes <= 0:
		return fmt.Errorf("--max-message-bytes %d must be positive", o.maxMessageBytes)
	case o.storePoll < 100*time.Millisecond:
		return fmt.Errorf("--store-poll %v is below the minimum of 100ms", o.storePoll)
	case o.maxConnectionAge < 0 || o.shutdownDelay < 0 || o.shutdownTimeout < 0:
		return errors.New("--max-connection-age, --shutdown-delay and --shutdown-timeout must not be negative")
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return errors.New("--tls-cert and --tls-key go together")
	case o.clientCA != "" && o.tlsCert == "":
		return errors.New("--client-ca needs --tls-cert and --tls-key")
	case o.modelDir != "" && o.modelStore != "":
		return errors.New("--model-dir is short for a file:// --model-store: give one of them")
	case o.modelCache != "" && o.storeURL() == "":
		return errors.New("--model-cache keeps a copy of the store's model: it needs --model-store or --model-dir")
	case o.listen == "":
		return errors.New("--listen must name an address")
	}
	return nil
}

// storeURL is the model store's URL, "" for none.
func (o *options) storeURL() string {
	if o.modelDir == "" {
		return o.modelStore
	}
	abs, err := filepath.Abs(o.modelDir)
	if err != nil {
		abs = o.modelDir
	}
	return "file://" + filepath.ToSlash(abs)
}
