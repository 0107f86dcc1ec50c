// Artclassd serves the artclass API: it classifies news articles into
// topics with calibrated confidences, over gRPC and over HTTP/JSON with a
// web playground, and retrains, lists and rolls back its models.
//
// Usage:
//
//	artclassd [flags]
//
// With no flags it serves the model embedded in the binary: gRPC on
// localhost:50051 and HTTP on http://localhost:8080 (the playground at /,
// the API under /v1/, its OpenAPI description at /openapi.json), in
// plaintext, with the admin calls (Train, ListModels, ActivateModel)
// disabled. `artclassd --help` lists every flag.
//
// Every flag can also be set by an environment variable: ARTCLASS_ and the
// flag's name in upper case with dashes as underscores (--model-store is
// ARTCLASS_MODEL_STORE). A flag on the command line wins over the variable.
// A usage error (an unknown flag, a bad value) exits with status 2, any
// other failure with 1.
//
// # Models
//
// Without a store, artclassd serves --model FILE or the embedded model;
// SIGHUP reloads FILE and keeps the served model if the new file fails to
// load.
//
// With --model-store URL (file:///dir, s3://bucket?..., mem:// — see
// docs/deploy.md) every replica follows the store's active version: it
// polls the store every --store-poll, loads and verifies a newly active
// version and swaps it in while calls in flight finish on the old one.
// Train publishes to the store and ActivateModel moves its active pointer;
// the other replicas follow within one poll. Health is NOT_SERVING until the
// first model is loaded. When the store holds no active version yet,
// artclassd publishes its --model FILE (or the embedded model) as the first.
// --model-cache DIR keeps a copy of the last model so a replica can start
// while the store is down. --model-dir DIR is short for
// --model-store file:///abs/DIR.
//
// # Shutdown
//
// SIGINT and SIGTERM report NOT_SERVING on grpc.health.v1, wait
// --shutdown-delay (so load balancers stop sending calls), stop accepting
// calls, wait up to --shutdown-timeout for the calls in flight, then close
// every connection.
//
// # Logs
//
// One line per call on standard output, with the method, status code,
// duration, model version and text bytes; never the text or the token.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "artclassd:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// run is artclassd: it parses args, serves until ctx ends, then shuts down
// gracefully.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd, o := newCommand(stdout, stderr)
	cmd.SetArgs(args)
	cmd.RunE = func(*cobra.Command, []string) error {
		d, err := newDaemon(ctx, o, stdout)
		if err != nil {
			return err
		}
		return d.serve(ctx)
	}
	if err := cmd.ExecuteContext(ctx); err != nil {
		return err
	}
	return o.helpErr
}
