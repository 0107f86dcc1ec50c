// Command artclass classifies news articles by topic, through an artclassd
// server or in-process, and trains, evaluates and inspects artclass models:
// artclass classify|eval|train|model|models|health|completion [flags] [args].
// `artclass COMMAND --help` and docs/cli.md describe every command and flag;
// every flag has an ARTCLASS_* variable (ARTCLASS_ADDR), which the command
// line overrides.
//
// Exit status: 0 on success, 1 when the work or any input failed (each
// failed input is reported on standard error and the rest go on), 2 for a
// usage error, a malformed --addr included.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/artclass/artclass/internal/buildinfo"
	"github.com/artclass/artclass/internal/envflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "artclass:", strings.Join(strings.Fields(err.Error()), " "))
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError marks an error in how the command was called (exit status 2).
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// run executes the artclass command line args, reading articles from stdin
// and writing results to stdout and progress to stderr.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	root := &cobra.Command{
		Use:   "artclass",
		Short: "Classify news articles by topic with calibrated confidence",
		Example: `  artclass classify examples/articles/                  # ask the server at localhost:50051
  artclass classify --local -o json examples/articles/   # in-process
  artclass eval --data examples/samples.jsonl --report out/`,
		Version:       buildinfo.Version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("artclass {{.Version}}\n")
	// Every command's help ends with where the rest is written down.
	root.SetUsageTemplate(root.UsageTemplate() + "\nEvery command, input, output and flag is described in docs/cli.md.\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newClassifyCmd(stdout, stderr),
		newEvalCmd(stdout, stderr),
		newTrainCmd(stdout, stderr),
		newModelCmd(stdout),
		newModelsCmd(stdout, stderr),
		newHealthCmd(stdout),
	)
	applyEnv := envflag.Bind(root, "ARTCLASS")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := applyEnv(cmd); err != nil {
			return usageError{err}
		}
		return nil
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	// Flag errors arrive as usageError through SetFlagErrorFunc; cobra's
	// own complaints (an unknown subcommand, cobra.NoArgs: "unknown
	// command"; cobra.ExactArgs: "accepts") are usage errors too.
	if err != nil && (strings.Contains(err.Error(), "unknown command") || strings.Contains(err.Error(), "accepts ")) {
		return usageError{err}
	}
	return err
}
