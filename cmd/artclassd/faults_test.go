package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/internal/testenv"
	"github.com/artclass/artclass/modelstore"
)

// storeTmpFiles lists the temporary files of a directory store that are
// not in old: a create-only write in progress, or one a kill interrupted.
func storeTmpFiles(t *testing.T, dir string, old []string) []string {
	t.Helper()
	var out []string
	for _, pattern := range []string{"versions/*/.*.tmp", "active/.*.tmp"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m {
			if !slices.Contains(old, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// checkStoreReadable opens the store at url afresh and checks that a reader
// sees a whole store: an active version that loads, and a listing whose
// every version loads. It returns the active version.
func checkStoreReadable(t *testing.T, url string) string {
	t.Helper()
	ctx := testenv.Context(t)
	st, err := modelstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := st.Active(ctx)
	if err != nil {
		t.Fatalf("the store's active pointer: %v", err)
	}
	list, err := st.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, mf := range list {
		if _, _, err := st.Load(ctx, mf.Version); err != nil {
			t.Fatalf("listed version %s does not load: %v", mf.Version, err)
		}
	}
	if _, _, err := st.Load(ctx, p.Version); err != nil {
		t.Fatalf("the active version %s does not load: %v", p.Version, err)
	}
	return p.Version
}

// TestKillDuringTrain kills artclassd with SIGKILL at random moments while
// Train runs and publishes its model to a directory store, and restarts it
// each time; another replica follows the same store throughout. After
// every kill the store must read whole (its active version and every listed
// version load), its active version must be the last one promoted or this
// round's, a Train that answered OK must be active, the restart must serve
// the active version from its first answer, and the other replica must
// follow within a poll plus a second. Half the kills are at a random time
// in the call, half just after a temporary file of the store appears, when
// a version or the pointer is being written.
func TestKillDuringTrain(t *testing.T) {
	t.Parallel()
	const rounds = 16
	dir := t.TempDir()
	url := "file://" + dir
	args := []string{"--model-dir", dir, "--admin-token-file", writeToken(t), "--store-poll", "1h"}
	def := testenv.DefaultModel(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 6))

	trainer := startChild(t, args...)
	waitVersion(t, newClient(t, trainer.addr), def.Version(), true, 20*time.Second)
	const poll = 250 * time.Millisecond
	watcher := startChild(t, "--model-dir", dir, "--store-poll", poll.String())
	watch := newClient(t, watcher.addr)

	active := def.Version() // the version the last completed promotion made active
	var trainTook time.Duration
	var midWrite, landed, answered int
	for round := range rounds + 1 {
		c := newClient(t, trainer.addr)
		waitServing(t, c)
		if got := served(t, c); got.Version != active {
			t.Fatalf("round %d: the restart serves %s at once, want the active %s", round, got.Version, active)
		}
		if round == rounds {
			// The last start only checks what the last kill left.
			if err := trainer.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if code := trainer.wait(t); code != 0 {
				t.Errorf("exit status %d after SIGTERM, want 0", code)
			}
			break
		}

		want := roundModel(t, round).Version()
		leftovers := storeTmpFiles(t, dir, nil) // from earlier kills
		trained := make(chan error, 1)
		sawWrite := false // a store write was in progress just before the kill
		began := time.Now()
		go func() {
			res, err := c.Train(context.Background(), samples(roundSamples(round)), roundTrain)
			if err == nil && res.Model.Version != want {
				err = fmt.Errorf("trained version %s, want %s", res.Model.Version, want)
			}
			trained <- err
		}()
		switch {
		case round == 0:
			// Measure an uninterrupted Train, then kill after it.
			if err := <-trained; err != nil {
				t.Fatalf("Train: %v", err)
			}
			trainTook = time.Since(began)
			trained <- nil
		case round%2 == 1:
			time.Sleep(time.Duration(rng.Int64N(int64(trainTook)*3/2 + 1)))
		default:
		waitWrite:
			for time.Since(began) < 10*time.Second {
				if len(storeTmpFiles(t, dir, leftovers)) > 0 {
					sawWrite = true
					break
				}
				select {
				case err := <-trained: // over before a file was seen
					trained <- err
					break waitWrite
				default:
				}
			}
			time.Sleep(time.Duration(rng.Int64N(int64(time.Millisecond))))
		}
		tmpsAtKill := storeTmpFiles(t, dir, leftovers)
		trainer.kill(t)
		if sawWrite || len(tmpsAtKill) > 0 {
			midWrite++
		}
		err := <-trained

		switch got := checkStoreReadable(t, url); got {
		case want:
			if active != want {
				landed++
			}
			active = want
		case active:
		default:
			t.Fatalf("round %d: the store's active version is %s, neither this round's %s nor the last %s", round, got, want, active)
		}
		if err == nil {
			answered++
			if active != want {
				t.Fatalf("round %d: Train answered OK but its model is not active", round)
			}
		}
		waitVersion(t, watch, active, true, poll+time.Second)
		t.Logf("round %2d: killed %v into Train (during a store write: %v), Train: %v; active: %s",
			round, time.Since(began).Round(100*time.Microsecond), sawWrite || len(tmpsAtKill) > 0, errSummary(err), active)
		trainer = startChild(t, append(args, "--listen", trainer.addr)...)
	}
	t.Logf("%d kills, %d during a store write; %d models landed, %d Train calls answered OK before the kill (Train alone takes %v)",
		rounds, midWrite, landed, answered, trainTook.Round(time.Millisecond))
	if midWrite == 0 {
		t.Errorf("no kill came while the store was being written, so the test did not test that")
	}
}

func errSummary(err error) string {
	if err == nil {
		return "OK"
	}
	s := err.Error()
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return s
}

// corruptModels are ways a model file goes bad, made from a real one, and
// a part of the reason artclassd must give for each.
func corruptModels(t *testing.T) []struct {
	name, reason string
	data         []byte
} {
	t.Helper()
	good, err := testenv.DefaultModel(t).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/2] ^= 0x40
	newer := append([]byte(nil), good...)
	newer[8] = 99
	return []struct {
		name, reason string
		data         []byte
	}{
		{"empty", "truncated: 0 bytes", nil},
		{"truncated to half", "truncated: header announces", good[:len(good)/2]},
		{"truncated by one byte", "truncated: header announces", good[:len(good)-1]},
		{"header only", "truncated: header announces", good[:52]},
		{"one bit flipped", "checksum mismatch", flipped},
		{"trailing bytes", "trailing data", append(append([]byte(nil), good...), 0)},
		{"a newer format", "format version 99 is newer", newer},
		{"not a model", "bad magic", []byte("this is a text file, not a model\n")},
	}
}

// TestCorruptModelAtStart starts artclassd on each kind of broken model
// file, given with --model or found as active.model in a --model-dir whose
// store is empty: it must exit with status 1 and one line on standard error
// that says why, rather than serve (or publish) another model.
func TestCorruptModelAtStart(t *testing.T) {
	t.Parallel()
	for _, cm := range corruptModels(t) {
		for _, how := range []string{"--model", "--model-dir"} {
			t.Run(cm.name+" "+how, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				path := filepath.Join(dir, "active.model")
				if err := os.WriteFile(path, cm.data, 0o644); err != nil {
					t.Fatal(err)
				}
				arg := path
				if how == "--model-dir" {
					arg = dir
				}
				c := spawn(t, nil, how, arg)
				if code := c.wait(t); code != 1 {
					t.Fatalf("exit status %d with a broken model file, want 1; stderr:\n%s", code, c.stderr)
				}
				msg := c.stderr.String()
				if strings.Count(msg, "\n") != 1 || !strings.HasSuffix(msg, "\n") {
					t.Errorf("stderr is not one line:\n%s", msg)
				}
				if want := "artclassd: load model " + path + ": invalid model file: "; !strings.HasPrefix(msg, want) || !strings.Contains(msg, cm.reason) {
					t.Errorf("stderr %q, want %q… naming %q", msg, want, cm.reason)
				}
				if how == "--model-dir" {
					if _, err := os.Stat(filepath.Join(dir, "active")); !errors.Is(err, os.ErrNotExist) {
						t.Errorf("something was promoted in the store: %v", err)
					}
				}
			})
		}
	}
}

// TestReloadCorruptModel sends SIGHUP to artclassd serving a --model file,
// without a store, after each kind of damage to the file: the old model
// keeps serving, and each failure is logged with its reason and counted on
// the metrics endpoint. A good file then reloads.
func TestReloadCorruptModel(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "serving.model")
	def := testenv.DefaultModel(t)
	if err := def.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	c := startChild(t, "--model", path, "--metrics-listen", "127.0.0.1:0")
	cl := newClient(t, c.addr)
	waitServing(t, cl)
	metricsURL := "http://" + c.waitLog(t, "serving metrics", 1)["addr"].(string) + "/metrics"

	hup := func() {
		t.Helper()
		if err := c.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	for i, cm := range corruptModels(t) {
		if err := os.WriteFile(path, cm.data, 0o644); err != nil {
			t.Fatal(err)
		}
		hup()
		line := c.waitLog(t, "reload failed; keeping the active model", i+1)
		if e, _ := line["err"].(string); !strings.Contains(e, cm.reason) || line["level"] != "ERROR" {
			t.Errorf("%s: the log line %v, want an ERROR naming %q", cm.name, line, cm.reason)
		}
		if want := fmt.Sprintf(`artclass_reload_total{result="failed"} %d`, i+1); !strings.Contains(scrape(t, metricsURL), want) {
			t.Errorf("%s: metrics lack %s", cm.name, want)
		}
		if got := served(t, cl).Version; got != def.Version() {
			t.Fatalf("%s: serving %s after a failed reload, want the old %s", cm.name, got, def.Version())
		}
		if _, err := cl.Classify(testenv.Context(t), article, classifier.Filter{}); err != nil {
			t.Fatalf("%s: Classify after a failed reload: %v", cm.name, err)
		}
	}

	// A good, different model reloads.
	m := roundModel(t, 0)
	if err := m.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	hup()
	waitVersion(t, cl, m.Version(), false, 10*time.Second)
	if body := scrape(t, metricsURL); !strings.Contains(body, `artclass_reload_total{result="ok"} 1`) {
		t.Errorf("metrics lack the good reload")
	}
}

// TestStoreRefusesCorruptVersion damages a version's model file in a
// directory store after it was promoted (bit rot, a bad copy): a replica
// that polls it refuses it, logs and counts the refusal, keeps serving its
// model and reports the store's active version as not yet served; rolling
// back with ActivateModel then brings store and replica together again.
func TestStoreRefusesCorruptVersion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	def := testenv.DefaultModel(t)
	c := startChild(t, "--model-dir", dir, "--store-poll", "1h", "--admin-token-file", writeToken(t), "--metrics-listen", "127.0.0.1:0")
	cl := newClient(t, c.addr)
	waitVersion(t, cl, def.Version(), true, 20*time.Second)
	metricsURL := "http://" + c.waitLog(t, "serving metrics", 1)["addr"].(string) + "/metrics"

	ctx := testenv.Context(t)
	st, err := modelstore.Open(ctx, "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := st.Active(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bad := roundModel(t, 0)
	mf, _, err := st.Publish(ctx, bad, p)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "versions", mf.Version, "model-"+mf.Checksum+".bin")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x40
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}

	if err := c.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	line := c.waitLog(t, "model refused; serving the previous model", 1)
	if line["version"] != bad.Version() || !strings.Contains(fmt.Sprint(line["err"]), "corrupt") {
		t.Errorf("the refusal %v, want one naming %s as corrupt", line, bad.Version())
	}
	if body := scrape(t, metricsURL); !strings.Contains(body, `artclass_store_swaps_total{result="refused"} 1`) {
		t.Errorf("metrics lack the refusal")
	}
	if got := served(t, cl); got.Version != def.Version() || got.StoreActiveVersion != bad.Version() {
		t.Errorf("GetModel serves %s with the store's %s, want %s with %s", got.Version, got.StoreActiveVersion, def.Version(), bad.Version())
	}
	if _, err := cl.Classify(ctx, article, classifier.Filter{}); err != nil {
		t.Errorf("Classify after a refusal: %v", err)
	}

	if _, err := cl.ActivateModel(ctx, def.Version()); err != nil {
		t.Fatalf("ActivateModel of the previous version: %v", err)
	}
	waitVersion(t, cl, def.Version(), true, 10*time.Second)
}
