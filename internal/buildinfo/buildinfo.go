// Package buildinfo describes the build of the running binary, for both
// artclass binaries' --version.
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// Version is the main module's version ("devel" in a checkout), the VCS
// revision when the build recorded one, and the Go version:
// "v1.2.0 go1.26.0" or "devel 0123456789ab go1.26.0".
func Version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	return describe(info)
}

// describe is Version for the given build information.
func describe(info *debug.BuildInfo) string {
	parts := []string{info.Main.Version}
	if parts[0] == "" || parts[0] == "(devel)" {
		parts[0] = "devel"
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && s.Value != "" {
			// Twelve hex digits name a commit as well as forty, as
			// pseudo-versions do.
			parts = append(parts, s.Value[:min(12, len(s.Value))])
		}
	}
	if info.GoVersion != "" {
		parts = append(parts, info.GoVersion)
	}
	return strings.Join(parts, " ")
}
