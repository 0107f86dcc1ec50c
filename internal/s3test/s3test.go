// Package s3test runs a real S3-compatible server, SeaweedFS's `weed mini`,
// on loopback for tests: the model store's, and the fleet's end to end.
//
// The weed binary is found through $ARTCLASS_WEED, else as
// .cache/seaweedfs-*/weed in the repository root, where scripts/seaweedfs.sh
// builds it. Without one, tests that need it skip, unless
// ARTCLASS_REQUIRE_S3=1 (CI sets it after building weed), when they fail.
//
// Every port weed mini opens is set to a free one, so servers in several
// tests or packages run at once; a server can be stopped and started again
// on the same data directory and ports, as an outage and a recovery.
//
// Credentials: weed mini creates an admin identity from AWS_ACCESS_KEY_ID
// and AWS_SECRET_ACCESS_KEY in its environment. New uses the test
// process's values if both are set and otherwise sets fixed ones with
// t.Setenv (so a test that calls New must not be parallel, though its
// subtests may be), so that the AWS SDK inside the test process and in the
// processes it starts (see Server.Env) signs with them.
package s3test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/s3blob" // s3:// URLs
)

const (
	// Bucket is the bucket New creates.
	Bucket = "artclass-test"
	// Region is the region the server's URLs name; weed accepts any.
	Region = "us-east-1"

	accessKey = "artclass-test-key"
	secretKey = "artclass-test-secret"

	startTimeout = 90 * time.Second
	stopTimeout  = 15 * time.Second
)

// Server is a running (or stopped) weed mini.
type Server struct {
	t     testing.TB
	bin   string
	dir   string
	ports ports
	env   []string
	cmd   *exec.Cmd
	done  chan struct{}
	log   *os.File
}

// ports are every listener weed mini opens.
type ports struct {
	master, masterGRPC, volume, volumeGRPC, filer, filerGRPC int
	s3, s3GRPC, webdav, admin, adminGRPC, debug              int
}

// New starts a server with the bucket Bucket, waits until it answers S3
// calls, and stops it when the test ends. It skips the test if there is no
// weed binary (see the package documentation).
func New(t testing.TB) *Server {
	t.Helper()
	bin, err := binary()
	if err != nil {
		if os.Getenv("ARTCLASS_REQUIRE_S3") == "1" {
			t.Fatalf("s3test: %v (ARTCLASS_REQUIRE_S3=1)", err)
		}
		t.Skipf("s3test: %v; build it with scripts/seaweedfs.sh, or set ARTCLASS_WEED", err)
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" || os.Getenv("AWS_SECRET_ACCESS_KEY") == "" {
		t.Setenv("AWS_ACCESS_KEY_ID", accessKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", secretKey)
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir()}
	s.env = []string{
		"AWS_ACCESS_KEY_ID=" + os.Getenv("AWS_ACCESS_KEY_ID"),
		"AWS_SECRET_ACCESS_KEY=" + os.Getenv("AWS_SECRET_ACCESS_KEY"),
	}
	// Registered after TempDir's cleanup, so it runs first: weed stops
	// before its data directory goes.
	t.Cleanup(s.cleanup)
	// A port found free can be taken by another test process before weed
	// binds it, and weed exits when an explicitly set port is taken: so a
	// first start gets three tries with fresh ports.
	for try := 1; ; try++ {
		free, err := freePorts(12)
		if err != nil {
			t.Fatalf("s3test: %v", err)
		}
		s.ports = ports{free[0], free[1], free[2], free[3], free[4], free[5], free[6], free[7], free[8], free[9], free[10], free[11]}
		err = s.start()
		if err == nil {
			return s
		}
		if try == 3 {
			t.Fatalf("s3test: %v\n%s", err, s.logTail())
		}
		t.Logf("s3test: try %d: %v; retrying on other ports", try, err)
	}
}

// binary finds the weed executable.
func binary() (string, error) {
	if p := os.Getenv("ARTCLASS_WEED"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("ARTCLASS_WEED: %w", err)
		}
		return p, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	matches, _ := filepath.Glob(filepath.Join(root, ".cache", "seaweedfs-*", "weed"))
	if len(matches) == 0 {
		return "", errors.New("no weed binary in .cache/seaweedfs-*/")
	}
	slices.Sort(matches)
	return matches[len(matches)-1], nil
}

// repoRoot is the directory holding this module's go.mod, found from this
// source file so that it works from any package's test.
func repoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the repository")
	}
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above " + filepath.Dir(file))
		}
		dir = parent
	}
}

// freePorts returns n distinct free TCP ports on loopback below Linux's
// ephemeral range (32768 on), so that no outgoing connection takes one of
// them while the server is stopped and it can start again on the same ones.
func freePorts(n int) ([]int, error) {
	var out []int
	for tries := 0; len(out) < n && tries < 10000; tries++ {
		p := 20000 + rand.IntN(12000)
		if slices.Contains(out, p) {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l.Close()
		out = append(out, p)
	}
	if len(out) < n {
		return nil, fmt.Errorf("found only %d of %d free ports", len(out), n)
	}
	return out, nil
}

// Endpoint is the server's S3 endpoint, http://127.0.0.1:port.
func (s *Server) Endpoint() string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.ports.s3))
}

// URL is the gocloud.dev URL of the bucket, under prefix if it is not
// empty; each test should use its own prefix.
func (s *Server) URL(prefix string) string {
	u := "s3://" + Bucket + "?endpoint=" + s.Endpoint() + "&region=" + Region + "&use_path_style=true"
	if prefix != "" {
		u += "&prefix=" + prefix
	}
	return u
}

// Env is the environment a process started by the test needs to reach the
// server: the credentials.
func (s *Server) Env() []string { return slices.Clone(s.env) }

// Dir is the server's data directory.
func (s *Server) Dir() string { return s.dir }

func (s *Server) args() []string {
	p := s.ports
	return []string{
		"mini",
		"-dir=" + s.dir,
		"-ip=127.0.0.1",
		"-ip.bind=127.0.0.1",
		"-bucket=" + Bucket,
		"-master.port=" + strconv.Itoa(p.master),
		"-master.port.grpc=" + strconv.Itoa(p.masterGRPC),
		"-master.telemetry=false",
		"-volume.port=" + strconv.Itoa(p.volume),
		"-volume.port.grpc=" + strconv.Itoa(p.volumeGRPC),
		"-filer.port=" + strconv.Itoa(p.filer),
		"-filer.port.grpc=" + strconv.Itoa(p.filerGRPC),
		"-filer.localSocket=" + filepath.Join(os.TempDir(), fmt.Sprintf("artclass-weed-filer-%d.sock", p.filer)),
		"-s3.port=" + strconv.Itoa(p.s3),
		"-s3.port.grpc=" + strconv.Itoa(p.s3GRPC),
		"-s3.port.iceberg=0",
		"-s3.port.lance=0",
		"-s3.localSocket=" + filepath.Join(os.TempDir(), fmt.Sprintf("artclass-weed-s3-%d.sock", p.s3)),
		"-webdav=false",
		"-webdav.port=" + strconv.Itoa(p.webdav),
		"-admin.ui=false",
		"-admin.port=" + strconv.Itoa(p.admin),
		"-admin.port.grpc=" + strconv.Itoa(p.adminGRPC),
		"-admin.port.legacy=0",
		"-debug.port=" + strconv.Itoa(p.debug),
		"-s3.debug.port=" + strconv.Itoa(p.debug),
	}
}

// Start starts the server again after Stop, on the same data directory
// and ports, and waits until it answers S3 calls.
func (s *Server) Start() {
	s.t.Helper()
	if s.cmd != nil {
		s.t.Fatal("s3test: Start: the server is running")
	}
	if err := s.start(); err != nil {
		s.t.Fatalf("s3test: %v\n%s", err, s.logTail())
	}
}

func (s *Server) start() error {
	log, err := os.OpenFile(filepath.Join(s.dir, "weed.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, s.args()...)
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Dir = s.dir
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start weed: %w", err)
	}
	s.cmd, s.log, s.done = cmd, log, make(chan struct{})
	go func() { cmd.Wait(); close(s.done) }()
	if err := s.waitReady(); err != nil {
		s.Stop()
		return err
	}
	return nil
}

// waitReady waits until the bucket answers a signed HEAD: weed creates
// the bucket only after its S3 port opens.
func (s *Server) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	b, err := blob.OpenBucket(ctx, s.URL(""))
	if err != nil {
		return fmt.Errorf("open %s: %w", s.URL(""), err)
	}
	defer b.Close()
	var last error
	for {
		select {
		case <-s.done:
			return errors.New("weed mini exited while starting")
		case <-ctx.Done():
			return fmt.Errorf("weed mini did not serve bucket %s on %s within %v (last: %v)", Bucket, s.Endpoint(), startTimeout, last)
		case <-time.After(200 * time.Millisecond):
		}
		attempt, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := b.IsAccessible(attempt)
		cancel()
		if ok {
			return nil
		}
		last = err
	}
}

// Stop stops the server (SIGTERM, then SIGKILL after 15 s) and waits for
// it to exit. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.log.Close()
	s.cmd, s.log = nil, nil
}

func (s *Server) cleanup() {
	if s.t.Failed() {
		s.t.Logf("s3test: weed log tail:\n%s", s.logTail())
	}
	s.Stop()
}

// logTail is the end of the server's log, for failure messages.
func (s *Server) logTail() string {
	data, err := os.ReadFile(filepath.Join(s.dir, "weed.log"))
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-40):], "\n")
}
