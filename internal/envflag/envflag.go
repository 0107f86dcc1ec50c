// Package envflag sets command-line flags from environment variables, the
// one mechanism both artclass binaries use: every flag --some-name can also
// be set by PREFIX_SOME_NAME (ARTCLASS_SOME_NAME), a flag given on the
// command line wins over its variable, and --help names each variable.
//
// It works on github.com/spf13/pflag flag sets, which cobra commands use;
// Bind does the whole job for a cobra command tree. The variables are read
// after the command line is parsed, so a bad value is reported like a bad
// flag: naming the variable, the flag and the value.
package envflag

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// fromEnv marks, in a flag's annotations, a value Apply set from the
// environment rather than the command line took.
const fromEnv = "envflag-from-env"

// Bind names each flag's variable in the help of cmd and of every command
// below it (add the subcommands first), and returns apply, which sets the
// flags of a parsed command from os.LookupEnv. Call apply from a
// PersistentPreRunE, or from a help function to vet the environment there
// too; its error is a usage error. Cobra's own --help and --version get no
// variable.
func Bind(cmd *cobra.Command, prefix string) (apply func(*cobra.Command) error) {
	annotateTree(cmd, prefix)
	return func(c *cobra.Command) error {
		return Apply(c.Flags(), prefix, os.LookupEnv, "help", "version")
	}
}

func annotateTree(cmd *cobra.Command, prefix string) {
	Annotate(cmd.Flags(), prefix, "help", "version")
	Annotate(cmd.PersistentFlags(), prefix, "help", "version")
	for _, sub := range cmd.Commands() {
		annotateTree(sub, prefix)
	}
}

// FromCommandLine reports whether the flag name of fs was given on the
// command line, not set by its variable: a variable sets a default, so a
// command should not count it as conflicting with another flag.
func FromCommandLine(fs *pflag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	return f != nil && f.Changed && f.Annotations[fromEnv] == nil
}

// Var returns the environment variable of the flag name under prefix:
// Var("ARTCLASS", "model-dir") is "ARTCLASS_MODEL_DIR".
func Var(prefix, name string) string {
	return prefix + "_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Annotate appends "(env PREFIX_NAME)" to the usage of every flag of fs,
// so that --help lists the variables. Flags named in skip (help, version)
// get no variable.
func Annotate(fs *pflag.FlagSet, prefix string, skip ...string) {
	fs.VisitAll(func(f *pflag.Flag) {
		if slices.Contains(skip, f.Name) || strings.Contains(f.Usage, "(env ") {
			return
		}
		f.Usage += " (env " + Var(prefix, f.Name) + ")"
	})
}

// Apply sets every flag of fs that the command line did not set and whose
// variable lookup finds (os.LookupEnv, usually), and marks it for
// FromCommandLine. Flags named in skip are left alone. The error names the
// variable and why its value is refused.
func Apply(fs *pflag.FlagSet, prefix string, lookup func(string) (string, bool), skip ...string) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || slices.Contains(skip, f.Name) {
			return
		}
		name := Var(prefix, f.Name)
		v, ok := lookup(name)
		if !ok {
			return
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = fmt.Errorf("invalid value %q for %s (--%s): %w", v, name, f.Name, serr)
			return
		}
		err = fs.SetAnnotation(f.Name, fromEnv, []string{"true"})
	})
	return err
}
