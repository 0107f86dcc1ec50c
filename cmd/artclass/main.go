// Command artclass trains, evaluates and runs artclass topic models.
//
// Usage:
//
//	artclass train --data FILE.jsonl [--data FILE2.jsonl] --out MODEL
//	artclass eval --data FILE.jsonl [--model MODEL] [-o table|json]
//	artclass classify (--local | --model MODEL) [-o table|json|jsonl] [FILE|-]...
//
// Samples are JSONL, one {"title", "text", "labels": [...]} object a line;
// an empty labels list marks an article about none of the topics. Without
// --model, eval and classify --local use the model embedded in the binary.
// A text file given to classify holds the title on its first line and the
// article below it.
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
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "artclass:", err)
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

// run executes the artclass command line args, writing results to stdout and
// progress to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runWithInput(ctx, args, os.Stdin, stdout, stderr)
}

// runWithInput is run with standard input supplied, for tests.
func runWithInput(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	root := &cobra.Command{
		Use:           "artclass",
		Short:         "Classify news articles by topic with calibrated confidence",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newTrainCmd(stdout, stderr), newEvalCmd(stdout), newClassifyCmd(stdout, stderr))
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil && cmd != nil && isCobraUsage(err) {
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
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "accepts ", "requires at least", "required flag", "invalid argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
