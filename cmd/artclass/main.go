// Command artclass classifies news articles by topic, through an artclassd
// server or in-process, and trains, evaluates and inspects artclass models.
//
// Usage:
//
//	artclass classify [--addr ADDR | --local | --model MODEL] [-o table|json|jsonl|csv] [FILE|DIR|-]...
//	artclass eval --data FILE.jsonl [--addr ADDR | --model MODEL] [-o table|json] [--report DIR]
//	artclass train --data FILE.jsonl... (--out MODEL [--baseline MODEL] | [--addr ADDR] --token-file FILE) [--force]
//	artclass model [--addr ADDR | --local | --model MODEL] [-o table|json]
//	artclass models list|activate VERSION [--addr ADDR] --token-file FILE
//	artclass health [--addr ADDR]
//	artclass completion bash|zsh|fish|powershell
//	artclass --version
//
// Every flag has an environment variable, ARTCLASS_ and the flag's name in
// capitals with - as _ (ARTCLASS_ADDR); the command line wins. Inputs,
// outputs, connection errors and every flag are described in docs/cli.md
// and by artclass COMMAND --help.
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
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
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

// run executes the artclass command line args, writing results to stdout and
// progress to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runWithInput(ctx, args, os.Stdin, stdout, stderr)
}

// envPrefix starts the environment variable of every flag.
const envPrefix = "ARTCLASS"

// runWithInput is run with standard input supplied, for tests.
func runWithInput(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	root := &cobra.Command{
		Use:   "artclass",
		Short: "Classify news articles by topic with calibrated confidence",
		Long: `artclass classifies news articles into topics with calibrated confidences,
through an artclassd server (--addr, default localhost:50051) or in-process
(--local for the embedded model, --model for a model file), and trains,
evaluates and describes models. Every flag has an ARTCLASS_* variable.`,
		Example: `  artclass classify examples/articles/                  # ask the server at localhost:50051
  artclass classify --local -o json examples/articles/   # in-process
  artclass eval --data examples/samples.jsonl --report out/
  artclass model --addr artclass.internal:50051
  artclass health`,
		Version:       buildinfo.Version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("artclass {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newClassifyCmd(stdout, stderr),
		newEvalCmd(stdout, stderr),
		newTrainCmd(stdout, stderr),
		newModelCmd(stdout),
		newModelsCmd(stdout, stderr),
		newHealthCmd(stdout),
	)
	applyEnv := envflag.Bind(root, envPrefix)
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
	if err != nil && isCobraUsage(err) {
		return usageError{err}
	}
	return err
}

// isCobraUsage reports whether err is cobra's complaint about arguments or
// an unknown command, rather than a failure of the work itself.
func isCobraUsage(err error) bool {
	var u usageError
	if errors.As(err, &u) {
		return true
	}
	// Flag errors arrive as usageError through SetFlagErrorFunc; an
	// unknown subcommand and cobra.NoArgs both say "unknown command",
	// cobra.ExactArgs "accepts".
	return strings.Contains(err.Error(), "unknown command") || strings.Contains(err.Error(), "accepts ")
}
