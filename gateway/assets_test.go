package gateway

import (
	"io/fs"
	"regexp"
	"testing"
)

// maxPageBytes is the playground's weight budget, uncompressed: every file
// the page loads.
const maxPageBytes = 150 << 10

// TestPlaygroundWeight keeps the playground within its budget and checks
// that every local file the page names is embedded, and that it names
// nothing from another origin (it must work without the internet).
func TestPlaygroundWeight(t *testing.T) {
	site, err := fs.Sub(playgroundFiles, "playground")
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	err = fs.WalkDir(site, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(site, path)
		total += len(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if total > maxPageBytes {
		t.Errorf("the playground's files weigh %d bytes, over the budget of %d", total, maxPageBytes)
	}
	t.Logf("playground: %d bytes", total)

	index, err := fs.ReadFile(site, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"#]+)"`).FindAllStringSubmatch(string(index), -1)
	if len(refs) < 3 {
		t.Fatalf("index.html names %d files, want the script, the style sheet and the icon at least", len(refs))
	}
	for _, m := range refs {
		ref := m[1]
		switch {
		case regexp.MustCompile(`^[a-z]+:|^//`).MatchString(ref):
			t.Errorf("index.html loads %q from another origin", ref)
		case ref == "./" || ref == "openapi.json":
			// Served by the gateway itself, not from the embedded files.
		default:
			if _, err := fs.Stat(site, ref); err != nil {
				t.Errorf("index.html names %q, which is not embedded: %v", ref, err)
			}
		}
	}
}
