package envflag

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func TestApply(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    string        // --addr after Apply
		wantDur time.Duration // --poll after Apply
		wantCL  bool          // FromCommandLine("addr") after Apply
		wantErr string
	}{
		{name: "defaults", want: "localhost:1", wantDur: time.Second},
		{name: "variable sets the flag", env: map[string]string{"ARTCLASS_ADDR": "h:2", "ARTCLASS_STORE_POLL": "5s"}, want: "h:2", wantDur: 5 * time.Second},
		{name: "command line wins", args: []string{"--addr", "c:3"}, env: map[string]string{"ARTCLASS_ADDR": "h:2"}, want: "c:3", wantDur: time.Second, wantCL: true},
		{name: "bad value names the variable", env: map[string]string{"ARTCLASS_STORE_POLL": "soon"}, wantErr: "ARTCLASS_STORE_POLL (--store-poll)"},
		{name: "skipped flag ignores its variable", env: map[string]string{"ARTCLASS_HELP": "true"}, want: "localhost:1", wantDur: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
			addr := fs.String("addr", "localhost:1", "server")
			poll := fs.Duration("store-poll", time.Second, "poll")
			help := fs.Bool("help", false, "help")
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := Apply(fs, "ARTCLASS", func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }, "help")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *addr != tt.want || *poll != tt.wantDur || *help {
				t.Errorf("addr %q poll %v help %v, want %q %v false", *addr, *poll, *help, tt.want, tt.wantDur)
			}
			if got := FromCommandLine(fs, "addr"); got != tt.wantCL {
				t.Errorf("FromCommandLine(addr) = %v, want %v", got, tt.wantCL)
			}
		})
	}
}

func TestAnnotate(t *testing.T) {
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	fs.String("model-dir", "", "the directory")
	fs.Bool("version", false, "print the version")
	Annotate(fs, "ARTCLASS", "version")
	Annotate(fs, "ARTCLASS", "version") // twice is once
	if got := fs.Lookup("model-dir").Usage; got != "the directory (env ARTCLASS_MODEL_DIR)" {
		t.Errorf("usage %q", got)
	}
	if got := fs.Lookup("version").Usage; got != "print the version" {
		t.Errorf("skipped flag usage %q", got)
	}
}

// TestBind runs a real cobra command tree: a subcommand's own and inherited
// flags take their variables, help names them, and a bad value fails the
// command.
func TestBind(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantAddr string
		wantN    int
		wantCL   bool // FromCommandLine("addr") in the subcommand
		wantErr  string
	}{
		{name: "defaults", args: []string{"sub"}, wantAddr: "localhost:1", wantN: 1},
		{name: "variables", args: []string{"sub"}, env: map[string]string{"T_ADDR": "h:2", "T_N": "7"}, wantAddr: "h:2", wantN: 7},
		{name: "command line wins", args: []string{"sub", "--addr", "c:3"}, env: map[string]string{"T_ADDR": "h:2"}, wantAddr: "c:3", wantN: 1, wantCL: true},
		{name: "bad value", args: []string{"sub"}, env: map[string]string{"T_N": "many"}, wantErr: "invalid value \"many\" for T_N (--n)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var addr string
			var n int
			var fromCL bool
			root := &cobra.Command{Use: "root", SilenceErrors: true, SilenceUsage: true}
			root.PersistentFlags().StringVar(&addr, "addr", "localhost:1", "server")
			sub := &cobra.Command{Use: "sub", RunE: func(cmd *cobra.Command, _ []string) error {
				fromCL = FromCommandLine(cmd.Flags(), "addr")
				return nil
			}}
			sub.Flags().IntVar(&n, "n", 1, "count")
			root.AddCommand(sub)
			apply := Bind(root, "T")
			root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return apply(cmd) }
			root.SetArgs(tt.args)
			err := root.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if addr != tt.wantAddr || n != tt.wantN || fromCL != tt.wantCL {
				t.Errorf("addr %q n %d from command line %v, want %q %d %v", addr, n, fromCL, tt.wantAddr, tt.wantN, tt.wantCL)
			}
		})
	}
}

func TestBindHelpNamesVariables(t *testing.T) {
	root := &cobra.Command{Use: "root", Version: "v1"}
	root.PersistentFlags().String("addr", "", "server")
	sub := &cobra.Command{Use: "sub", Run: func(*cobra.Command, []string) {}}
	sub.Flags().Int("max-n", 1, "count")
	root.AddCommand(sub)
	Bind(root, "T")
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"sub", "--help"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"count (env T_MAX_N)", "server (env T_ADDR)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "T_HELP") {
		t.Errorf("help names a variable for --help:\n%s", out.String())
	}
}
