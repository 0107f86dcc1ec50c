package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// buildCommands builds artclassd and artclass from the service's module
// (the parent directory) and returns their paths by name.
func buildCommands(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./cmd/artclassd", "./cmd/artclass")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/artclassd ./cmd/artclass: %v\n%s", err, out)
	}
	return map[string]string{
		"artclassd": filepath.Join(dir, "artclassd"),
		"artclass":  filepath.Join(dir, "artclass"),
	}
}

// runHelp runs argv with --help appended, in an environment of env only,
// and returns the exit status and what it printed. Both binaries parse every
// flag before --help and exit 0 if all parsed, 2 on an unknown flag or a bad
// value, so this is the real flag set's verdict on argv.
func runHelp(t *testing.T, bins map[string]string, argv []string, env map[string]string) (int, string) {
	t.Helper()
	bin, ok := bins[path.Base(argv[0])]
	if !ok {
		t.Fatalf("command %q is neither artclassd nor artclass", argv[0])
	}
	// A binary that ignored --help would start serving; the deadline stops
	// it rather than the test hanging.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(slices.Clone(argv[1:]), "--help")...)
	cmd.Env = []string{"HOME=" + t.TempDir()}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%q --help did not exit: %s", argv, tail(out.String()))
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String()
	default:
		t.Fatalf("run %q: %v", argv, err)
		return -1, ""
	}
}

// tail is the end of a command's output, enough to show its error.
func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, "\n")
}

// TestCommandLines runs every container's command line, with its
// environment, through the real binaries' flag parsing: a manifest cannot
// name a flag that does not exist or give one a value it refuses. The
// broken cases show the check can fail.
func TestCommandLines(t *testing.T) {
	bins := buildCommands(t)
	type commandLine struct {
		argv []string
		env  map[string]string
	}
	lines := map[string]commandLine{}
	for _, overlay := range overlays() {
		m := render(t, overlay)
		for _, w := range m.workloads() {
			for _, c := range w.pod.Spec.Containers {
				argv, env, err := m.commandLine(&c)
				if err != nil {
					t.Fatalf("%s: %s: %v", overlay, w.name, err)
				}
				lines[overlay+": "+w.name+"/"+c.Name] = commandLine{argv, env}
			}
		}
	}
	names := slices.Sorted(maps.Keys(lines))
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l := lines[name]
			if code, out := runHelp(t, bins, l.argv, l.env); code != 0 {
				t.Errorf("%q --help exited %d, want 0:\n%s", l.argv, code, tail(out))
			}
		})
	}

	// Broken variants of the file overlay's command lines.
	server := lines["overlays/file: Deployment artclassd/artclassd"]
	trainer := lines["overlays/file: Job artclass-trainer/trainer"]
	if server.argv == nil || trainer.argv == nil {
		t.Fatalf("the file overlay lacks the server or the trainer; have %v", names)
	}
	replace := func(argv []string, old, new string) []string {
		out := slices.Clone(argv)
		i := slices.Index(out, old)
		if i < 0 {
			t.Fatalf("%q has no %q", argv, old)
		}
		out[i] = new
		return out
	}
	broken := []struct {
		name string
		argv []string
		env  map[string]string
		// want is in the error, so the case fails for the reason it is
		// about and not for another.
		want string
	}{
		{"artclassd with an unknown flag", append(slices.Clone(server.argv), "--no-such-flag=1"), server.env, "no-such-flag"},
		{"artclassd with a bad duration", replace(server.argv, "--shutdown-delay=10s", "--shutdown-delay=soon"), server.env, "shutdown-delay"},
		{"artclassd with a bad variable", server.argv, merge(server.env, "ARTCLASS_MAX_BATCH", "many"), "ARTCLASS_MAX_BATCH"},
		{"artclass train with an unknown flag", append(slices.Clone(trainer.argv), "--no-such-flag=1"), trainer.env, "no-such-flag"},
	}
	for _, b := range broken {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			code, out := runHelp(t, bins, b.argv, b.env)
			if code != 2 || !strings.Contains(lastLine(out), b.want) {
				t.Errorf("%q --help exited %d, want 2 (usage error) with an error about %s:\n%s", b.argv, code, b.want, tail(out))
			}
		})
	}
}

// lastLine is the last line a command printed: its error, after any usage.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// merge returns env with k set to v.
func merge(env map[string]string, k, v string) map[string]string {
	out := map[string]string{}
	maps.Copy(out, env)
	out[k] = v
	return out
}

// TestDockerfile checks that the image holds what the manifests run: a
// static binary of each command at the path the containers' commands name,
// run as the non-root user the pods expect.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	var final []string // the last stage's instructions
	for _, line := range strings.Split(df, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(strings.ToUpper(line), "FROM ") {
			final = nil
		}
		if line != "" && !strings.HasPrefix(line, "#") {
			final = append(final, line)
		}
	}
	if len(final) == 0 {
		t.Fatal("Dockerfile has no stage")
	}
	base := strings.Fields(final[0])
	if !strings.Contains(final[0], "distroless/static") && !slices.Contains(base, "scratch") {
		t.Errorf("final stage %q is not distroless/static or scratch", final[0])
	}
	if !slices.Contains(final, "USER 65532:65532") && !slices.Contains(final, "USER 65532") {
		t.Errorf("final stage does not run as USER 65532: %q", final)
	}
	if !strings.Contains(df, "CGO_ENABLED=0") {
		t.Error("the build does not set CGO_ENABLED=0: the binaries would not be static")
	}
	var commands []string
	for _, overlay := range overlays() {
		for _, w := range render(t, overlay).workloads() {
			for _, c := range w.pod.Spec.Containers {
				if len(c.Command) > 0 && !slices.Contains(commands, c.Command[0]) {
					commands = append(commands, c.Command[0])
				}
			}
		}
	}
	sort.Strings(commands)
	if len(commands) != 2 {
		t.Errorf("containers run %q, want artclassd and artclass", commands)
	}
	for _, c := range commands {
		if !strings.Contains(strings.Join(final, "\n"), c) {
			t.Errorf("containers run %s, which the final stage does not install", c)
		}
	}
}
