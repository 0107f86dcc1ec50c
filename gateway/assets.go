package gateway

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"
)

// openAPI is the OpenAPI v2 description scripts/gen.sh generates from the
// proto; scripts/check-generated.sh fails CI when it is not current.
//
//go:embed openapi/artclass.swagger.json
var openAPI []byte

// playgroundFiles are the playground's HTML, CSS and JavaScript, written by
// hand and served as they are: no build step, nothing fetched at run time.
//
//go:embed playground
var playgroundFiles embed.FS

// contentSecurityPolicy lets the playground load only its own files and
// call only its own origin, so that text pasted into it can never run as
// script or send itself anywhere else.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// playgroundHandler serves the playground's files.
func playgroundHandler() (http.Handler, error) {
	sub, err := fs.Sub(playgroundFiles, "playground")
	if err != nil {
		return nil, fmt.Errorf("gateway: playground files: %w", err)
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the playground's files are read with GET", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// Embedded files have no modification time to revalidate with, and
		// a new binary may bring new ones.
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}), nil
}
