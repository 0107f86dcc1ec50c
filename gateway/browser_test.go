package gateway_test

import (
	"context"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/artclass/artclass/gateway"
)

// chromium finds the browser: $ARTCLASS_CHROMIUM, or Debian's chromium on
// the PATH. Without one the browser tests skip, unless
// ARTCLASS_REQUIRE_BROWSER=1 (CI sets it), when they fail.
func chromium(t testing.TB) string {
	t.Helper()
	candidates := []string{os.Getenv("ARTCLASS_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := "no chromium: install it (apt-get install -y chromium) or set ARTCLASS_CHROMIUM to a Chrome binary"
	if os.Getenv("ARTCLASS_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg + "; ARTCLASS_REQUIRE_BROWSER=1 makes the browser tests required")
	}
	t.Skip(msg)
	return ""
}

// newBrowser starts a headless chromium with a fresh profile for the test
// and returns a chromedp context on its first tab. Console errors and
// uncaught exceptions of the page fail the test: a script error or a
// Content-Security-Policy violation shows there first.
func newBrowser(t testing.TB) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900),
	)
	// The browser lives as long as this context: no timeout here, or the
	// timeout would stop the browser (see chromedp.Run).
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	var mu sync.Mutex
	var problems []string
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			// An error response the page handles still shows as a failed
			// resource; the tests check how the page shows it.
			if (m.Type == chromedp.ConsoleError || m.IsException()) && !strings.Contains(m.Text, "Failed to load resource") {
				mu.Lock()
				problems = append(problems, m.String())
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range problems {
			t.Errorf("browser console: %s", p)
		}
	})
	return ctx
}

// within runs steps with a deadline, so that a page that never gets to the
// awaited state fails the test rather than hanging it.
func within(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// eval evaluates a JavaScript expression in the page and decodes its value.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// screenshotDir is where screenshots go: $ARTCLASS_SCREENSHOTS, or a
// temporary directory that lasts as long as the test.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("ARTCLASS_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// verdict is what the page shows for one article.
type verdict struct {
	Topics     []string // the bars' labels, top first
	Assigned   []string // the labels marked assigned
	Verdict    []string // the labels in the headline
	Widths     []string // each bar's fill width
	Thresholds int      // the threshold ticks drawn
	Meters     int      // bars a screen reader reads as meters
	Marks      []string // the labels of the highlighted terms
	WhyLabels  []string // the labels whose terms are listed
	Warning    bool     // the low-coverage warning is shown
}

const readVerdict = `(() => {
  const q = (s) => [...document.querySelectorAll(s)];
  return {
    Topics: q("#topics > li").map((e) => e.dataset.label),
    Assigned: q("#topics > li.assigned").map((e) => e.dataset.label),
    Verdict: q("#verdict .tag").map((e) => e.dataset.label),
    Widths: q("#topics .fill").map((e) => e.style.width),
    Thresholds: q("#topics .threshold").length,
    Meters: q("#topics [role=meter][aria-valuenow]").length,
    Marks: [...new Set(q("#evidence mark").map((e) => e.dataset.label))],
    WhyLabels: q(".why-row").map((e) => e.dataset.label),
    Warning: !!document.getElementById("coverage-warning"),
  };
})()`

// TestPlaygroundInBrowser drives the playground in headless chromium
// against a real server: the examples, an error, a batch file, and
// screenshots at desktop and phone width.
func TestPlaygroundInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	s := start(t, withModel(t), gateway.Options{})
	shots := screenshotDir(t)

	within(t, ctx,
		chromedp.Navigate(s.url+"/"),
		// The model card is filled from GetModel.
		chromedp.WaitVisible(chromedp.CSS("#model-card dl")),
	)
	if chip := eval[string](t, ctx, `document.getElementById("model-chip").textContent`); !strings.HasPrefix(chip, "model ") {
		t.Errorf("model chip says %q, want the model version", chip)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("#model-card tbody tr").length`); n != 4 {
		t.Errorf("model card lists %d labels, want 4", n)
	}

	t.Run("examples", func(t *testing.T) {
		for i, want := range []string{"defence", "elections", "environment", "middle-east"} {
			within(t, ctx,
				chromedp.Click(chromedp.CSS(`#examples button[data-example="`+string(rune('0'+i))+`"]`)),
				chromedp.Poll[chromedp.Void](`document.querySelector("#topics > li")?.dataset.label === "`+want+`"`),
			)
			v := eval[verdict](t, ctx, readVerdict)
			if len(v.Topics) != 4 || v.Topics[0] != want {
				t.Errorf("example %d: bars %v, want 4 with %s first", i, v.Topics, want)
			}
			if len(v.Assigned) == 0 || v.Assigned[0] != want || !slices.Equal(v.Assigned, v.Verdict) {
				t.Errorf("example %d: assigned %v, headline %v; want %s first in both", i, v.Assigned, v.Verdict, want)
			}
			if v.Thresholds != 4 || v.Meters != 4 || len(v.Widths) != 4 || v.Widths[0] == "" || v.Widths[0] == "0%" {
				t.Errorf("example %d: %d thresholds, %d meters, widths %v; want 4 of each and a wide top bar", i, v.Thresholds, v.Meters, v.Widths)
			}
			if !slices.Contains(v.Marks, want) || !slices.Equal(v.WhyLabels, v.Assigned) {
				t.Errorf("example %d: highlighted terms of %v, terms listed for %v; want %s highlighted and terms for every assigned label %v", i, v.Marks, v.WhyLabels, want, v.Assigned)
			}
			if v.Warning {
				t.Errorf("example %d: low-coverage warning shown for an ordinary article", i)
			}
		}
	})

	t.Run("desktop screenshot", func(t *testing.T) {
		screenshot(t, ctx, shots, "playground-desktop.png")
	})

	t.Run("low coverage", func(t *testing.T) {
		within(t, ctx,
			chromedp.Click(chromedp.CSS("#clear-btn")),
			chromedp.SendKeys(chromedp.CSS("#text"), "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor."),
			chromedp.Click(chromedp.CSS("#classify-btn")),
			chromedp.WaitVisible(chromedp.CSS("#coverage-warning")),
		)
		if v := eval[verdict](t, ctx, readVerdict); len(v.Assigned) != 0 {
			t.Errorf("gibberish assigned %v, want none", v.Assigned)
		}
	})

	t.Run("empty text", func(t *testing.T) {
		within(t, ctx,
			chromedp.Click(chromedp.CSS("#clear-btn")),
			chromedp.Click(chromedp.CSS("#classify-btn")),
			chromedp.WaitVisible(chromedp.CSS("#form-error")),
		)
		msg := eval[string](t, ctx, `document.getElementById("form-error").textContent`)
		if !strings.HasPrefix(msg, "The article text is empty") {
			t.Errorf("error message %q, want one that starts with \"The article text is empty\"", msg)
		}
		if got := eval[string](t, ctx, `document.getElementById("text").getAttribute("aria-invalid") + " " + document.activeElement.id`); got != "true text" {
			t.Errorf("text box aria-invalid and focus: %q, want \"true text\"", got)
		}
		if n := eval[int](t, ctx, `document.querySelectorAll("#topics > li").length`); n != 0 {
			t.Errorf("%d bars still shown after an error", n)
		}
	})

	t.Run("keyboard", func(t *testing.T) {
		// Every control has a name a screen reader can say.
		unnamed := eval[[]string](t, ctx, `[...document.querySelectorAll("input, textarea, button, select, a[href]")]
			.filter((e) => !((e.labels && e.labels.length) || e.getAttribute("aria-label") || e.textContent.trim()))
			.map((e) => e.outerHTML.slice(0, 80))`)
		if len(unnamed) > 0 {
			t.Errorf("controls without a name: %q", unnamed)
		}
		if live := eval[string](t, ctx, `document.getElementById("result-summary").getAttribute("aria-live")`); live != "polite" {
			t.Errorf("result summary aria-live = %q, want polite", live)
		}
		// Title, then text, by Tab; Ctrl+Enter in the text classifies.
		within(t, ctx,
			chromedp.Focus(chromedp.CSS("#title")),
			chromedp.KeyEvent(kb.Tab),
		)
		if id := eval[string](t, ctx, `document.activeElement.id`); id != "text" {
			t.Fatalf("Tab from the title went to %q, want the text", id)
		}
		within(t, ctx,
			chromedp.KeyEvent("Glaciers retreat as climate change warms the Alps, scientists said."),
			chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierCtrl)),
			chromedp.Poll[chromedp.Void](`document.querySelector("#topics > li")?.dataset.label === "environment"`),
		)
		if msg := eval[bool](t, ctx, `document.getElementById("form-error").hidden`); !msg {
			t.Error("the earlier error is still shown after a good classification")
		}
	})

	t.Run("batch", func(t *testing.T) {
		dir := t.TempDir()
		jsonl := filepath.Join(dir, "feed.jsonl")
		lines := []string{
			`{"id": "polls", "title": "Polls close", "text": "Voters queued at polling stations as the election count began and candidates awaited the ballot results."}`,
			`{"id": "glacier", "text": "Glaciers are melting faster as climate change warms the mountains, scientists said, and carbon emissions keep rising."}`,
			`{"id": "blank", "text": "   "}`,
			`not json`,
		}
		if err := os.WriteFile(jsonl, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		// CSV with a quoted comma and a quoted line break.
		csvFile := filepath.Join(dir, "desk.csv")
		csvText := "id,title,text\r\n" +
			"c1,\"Drill, near the border\",\"Troops and tanks of the army moved to the border for a military drill.\"\r\n" +
			"c2,,\"Line one about carbon emissions,\nand a second about climate change and drought.\"\r\n"
		if err := os.WriteFile(csvFile, []byte(csvText), 0o644); err != nil {
			t.Fatal(err)
		}
		downloads := t.TempDir()
		if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads,
		}); err != nil {
			t.Fatalf("allow downloads: %v", err)
		}
		within(t, ctx,
			chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{jsonl, csvFile}),
			chromedp.Poll[chromedp.Void](`document.querySelectorAll("#batch-table tbody tr").length === 6 && !document.getElementById("batch-actions").hidden`),
		)
		type row struct{ ID, Topics, Problem string }
		rows := eval[[]row](t, ctx, `[...document.querySelectorAll("#batch-table tbody tr")].map((tr) => ({
			ID: tr.cells[0].textContent, Topics: tr.cells[1].textContent, Problem: tr.cells[tr.cells.length - 1].textContent }))`)
		want := []row{
			{ID: "polls", Topics: "elections"},
			{ID: "glacier", Topics: "environment"},
			{ID: "blank", Problem: "The article text is empty or only white space; it must hold the article's body."},
			{ID: "feed.jsonl:4", Problem: "Line 4 of feed.jsonl is not valid JSON."},
			{ID: "c1", Topics: "defence"},
			{ID: "c2", Topics: "environment"},
		}
		if !slices.Equal(rows, want) {
			t.Errorf("batch table:\n%v\nwant\n%v", rows, want)
		}
		screenshot(t, ctx, shots, "playground-batch.png")

		// The CSV download holds the same rows.
		within(t, ctx, chromedp.Click(chromedp.CSS("#download-csv")))
		path := filepath.Join(downloads, "artclass-results.csv")
		var data []byte
		for range 2000 { // up to 20 s for the browser to write the file
			var err error
			if data, err = os.ReadFile(path); err == nil && len(data) > 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		recs, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
		if err != nil || len(recs) != 7 {
			t.Fatalf("downloaded CSV: %d records, err %v:\n%s", len(recs), err, data)
		}
		if h := strings.Join(recs[0], ","); !strings.HasPrefix(h, "id,labels,") || !strings.HasSuffix(h, ",error") {
			t.Errorf("CSV header %q", h)
		}
		if recs[1][0] != "polls" || recs[1][1] != "elections" || recs[3][0] != "blank" || recs[3][len(recs[3])-1] == "" {
			t.Errorf("CSV rows %v", recs[1:])
		}
	})

	// Last, as the emulated phone stays for the rest of the tab's life.
	t.Run("phone", func(t *testing.T) {
		within(t, ctx,
			chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
			// chromedp.Click's mouse events do not reach the page under touch
			// emulation; click() is what a tap ends in.
			chromedp.Evaluate[chromedp.Void](`document.querySelector('#examples button[data-example="1"]').click()`),
			chromedp.Poll[chromedp.Void](`document.querySelector("#topics > li")?.dataset.label === "elections"`),
		)
		// At phone width nothing may stick out sideways; the tables scroll
		// inside their own boxes.
		if w := eval[int](t, ctx, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); w > 0 {
			t.Errorf("at 390 px the page scrolls %d px sideways", w)
		}
		screenshot(t, ctx, shots, "playground-phone.png")
	})
}

// screenshot saves a full-page PNG of the tab as dir/name.
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	// From the top, where the sticky header belongs.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo({top: 0, behavior: "instant"})`)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// paint is what the browser measured of one load of the playground.
type paint struct {
	FirstPaint, FirstContentfulPaint float64 // ms after navigation started
	ModelShown                       float64 // ms until the model card is filled, GetModel included
	Bytes                            float64 // the page's files, uncompressed (the API calls not counted)
}

// BenchmarkPlaygroundFirstPaint loads the playground from a loopback server
// into headless chromium b.N times and reports first paint, first
// contentful paint, the time until the model card shows, and the page's
// weight, from the browser's own performance timeline. The files are
// fetched anew each time (Cache-Control: no-cache, no validators).
func BenchmarkPlaygroundFirstPaint(b *testing.B) {
	ctx := newBrowser(b)
	s := start(b, withModel(b), gateway.Options{})
	var sum paint
	for b.Loop() {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := chromedp.Do(ctx,
			chromedp.Navigate(s.url+"/"),
			chromedp.WaitVisible(chromedp.CSS("#model-card dl")),
		)
		if err != nil {
			cancel()
			b.Fatal(err)
		}
		m, err := chromedp.Run(ctx, chromedp.Poll[paint](`(() => {
			const byName = (n) => performance.getEntriesByName(n)[0]?.startTime;
			const fp = byName("first-paint"), fcp = byName("first-contentful-paint");
			const shown = byName("artclass:model-shown");
			if (fp === undefined || fcp === undefined || shown === undefined) return null;
			const nav = performance.getEntriesByType("navigation")[0];
			const files = performance.getEntriesByType("resource").filter((r) => r.initiatorType !== "fetch");
			const bytes = nav.decodedBodySize + files.reduce((n, r) => n + r.decodedBodySize, 0);
			return { FirstPaint: fp, FirstContentfulPaint: fcp, ModelShown: shown, Bytes: bytes };
		})()`))
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		sum.FirstPaint += m.FirstPaint
		sum.FirstContentfulPaint += m.FirstContentfulPaint
		sum.ModelShown += m.ModelShown
		sum.Bytes = m.Bytes
	}
	n := float64(b.N)
	b.ReportMetric(sum.FirstPaint/n, "first-paint-ms")
	b.ReportMetric(sum.FirstContentfulPaint/n, "first-contentful-paint-ms")
	b.ReportMetric(sum.ModelShown/n, "model-shown-ms")
	b.ReportMetric(sum.Bytes, "page-bytes")
}
