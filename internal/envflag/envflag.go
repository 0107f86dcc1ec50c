// Package envflag sets command-line flags from environment variables, the
// one mechanism both artclass binaries use: every flag --some-name can also
// be set by PREFIX_SOME_NAME (ARTCLASS_SOME_NAME), a flag given on the
// command line wins over its variable, and --help names each variable.
//
// It works on github.com/spf13/pflag flag sets, which cobra commands use.
// The variables are read after the command line is parsed, so a bad value
// is reported like a bad flag: naming the variable, the flag and the value.
package envflag

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

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
		if contains(skip, f.Name) || strings.Contains(f.Usage, "(env ") {
			return
		}
		f.Usage += " (env " + Var(prefix, f.Name) + ")"
	})
}

// Apply sets every flag of fs that the command line did not set and whose
// variable lookup finds (os.LookupEnv, usually). Flags named in skip are
// left alone. The error names the variable and why its value is refused.
func Apply(fs *pflag.FlagSet, prefix string, lookup func(string) (string, bool), skip ...string) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || contains(skip, f.Name) {
			return
		}
		name := Var(prefix, f.Name)
		v, ok := lookup(name)
		if !ok {
			return
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = fmt.Errorf("invalid value %q for %s (--%s): %w", v, name, f.Name, serr)
		}
	})
	return err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
