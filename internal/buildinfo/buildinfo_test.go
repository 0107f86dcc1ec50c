package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestDescribe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		info debug.BuildInfo
		want string
	}{
		{name: "checkout", info: debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}}, want: "devel go1.26.0"},
		{name: "no version", info: debug.BuildInfo{GoVersion: "go1.26.0"}, want: "devel go1.26.0"},
		{name: "release", info: debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.0"}}, want: "v1.2.0 go1.26.0"},
		{
			name: "revision shortened",
			info: debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"},
				Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"}, {Key: "vcs.modified", Value: "true"}}},
			want: "devel 0123456789ab go1.26.0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := describe(&tt.info); got != tt.want {
				t.Errorf("describe = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestVersionOfThisTest(t *testing.T) {
	t.Parallel()
	// A test binary records its build: the version ends with the Go version.
	info, _ := debug.ReadBuildInfo()
	if got := Version(); !strings.HasSuffix(got, info.GoVersion) {
		t.Errorf("Version() = %q, want it to end with %q", got, info.GoVersion)
	}
}
