package envflag

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestApply(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    string        // --addr after Apply
		wantDur time.Duration // --poll after Apply
		wantErr string
	}{
		{name: "defaults", want: "localhost:1", wantDur: time.Second},
		{name: "variable sets the flag", env: map[string]string{"ARTCLASS_ADDR": "h:2", "ARTCLASS_STORE_POLL": "5s"}, want: "h:2", wantDur: 5 * time.Second},
		{name: "command line wins", args: []string{"--addr", "c:3"}, env: map[string]string{"ARTCLASS_ADDR": "h:2"}, want: "c:3", wantDur: time.Second},
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
