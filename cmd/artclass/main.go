// Command artclass classifies news articles by topic, through an artclassd
// server or in-process, and trains, evaluates and inspects artclass models.
//
// Usage:
//
//	artclass classify [--addr ADDR | --local | --model MODEL] [-o table|json|jsonl|csv] [FILE|DIR|-]...
//	artclass eval --data FILE.jsonl [--addr ADDR | --model MODEL] [--report DIR]
//	artclass train --data FILE.jsonl... (--out MODEL | [--addr ADDR] --token-file FILE [--force])
//	artclass model [--addr ADDR | --local | --model MODEL] [-o table|json]
//	artclass health [--addr ADDR]
//	artclass completion bash|zsh|fish|powershell
//	artclass --version
//
// classify, model and health talk to the server at --addr (default
// localhost:50051, or $ARTCLASS_ADDR) unless --local (the model embedded in
// the binary) or --model (a model file) asks for in-process work. eval scores
// the embedded model unless --addr or --model says otherwise; train trains
// in-process when --out is given and on the server otherwise.
//
// Inputs of classify: a text file holds the title on its first line and the
// article below it; a .jsonl file holds one {"title", "text"} object a line
// (other keys are ignored); a directory is searched recursively for files
// matching --include (default *.txt and *.jsonl); - is standard input, read
// as JSONL when its first character is '{' and as one text article
// otherwise. Samples for train and eval are JSONL with a "labels" list; an
// empty list marks an article about none of the topics.
//
// Connection flags (classify, eval, train, model, health): --addr, --tls,
// --ca-file, --cert and --key (mutual TLS), --server-name, --timeout. A
// comma-separated --addr list or a dns:/// name spreads calls round-robin;
// calls without side effects are retried when a server is unavailable.
//
// Exit status: 0 on success, 1 when the work or any input failed (each failed
// input is reported on standard error and the rest go on), 2 for a usage
// error. Errors are one line on standard error; a request the server
// rejects names every bad field.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
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

// runWithInput is run with standard input supplied, for tests.
func runWithInput(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	root := &cobra.Command{
		Use:   "artclass",
		Short: "Classify news articles by topic with calibrated confidence",
		Long: `artclass classifies news articles into topics with calibrated confidences,
through an artclassd server (--addr, default localhost:50051 or $ARTCLASS_ADDR)
or in-process (--local for the embedded model, --model for a model file), and
trains, evaluates and describes models.`,
		Example: `  artclass classify article.txt                   # ask the server at localhost:50051
  artclass classify --local -o json articles/      # in-process, every *.txt and *.jsonl below articles/
  artclass eval --data dev.jsonl --report out/     # metrics, confusion matrix and reliability diagram
  artclass model --addr artclass.internal:50051    # the server's model
  artclass health`,
		Version:       version(),
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
		newHealthCmd(stdout),
	)
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
	// unknown subcommand and cobra.NoArgs both say "unknown command".
	return strings.Contains(err.Error(), "unknown command")
}

// version describes the build: the module version (a tag when installed
// with go install, "(devel)" in a checkout), the VCS revision when the build
// recorded it, and the Go version.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += " (" + rev + modified + ")"
	}
	return v + " " + info.GoVersion
}
