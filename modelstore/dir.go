package modelstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// fileRoot is the directory a file:// URL names, as fileblob reads it.
func fileRoot(u *url.URL) string {
	p := u.Path
	if u.Host == "." {
		p = strings.TrimPrefix(p, "/") // file://./rel is relative
	}
	return filepath.FromSlash(p)
}

// directoryCreate returns the create-only write of a file:// store rooted
// at root/prefix. The package documentation says why fileblob's own
// IfNotExist is not used.
func directoryCreate(root, prefix string) func(ctx context.Context, key string, data []byte) (bool, error) {
	base := filepath.Join(root, filepath.FromSlash(prefix))
	return func(ctx context.Context, key string, data []byte) (bool, error) {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		// The root must exist: creating it would put a store where an
		// unmounted volume should be.
		if err := dirExists(root); err != nil {
			return false, err
		}
		path := filepath.Join(base, filepath.FromSlash(key))
		if !strings.HasPrefix(path, base+string(filepath.Separator)) {
			return false, fmt.Errorf("%w: key %q leaves the store's directory", ErrInvalid, key)
		}
		return createFile(path, data)
	}
}

// dirExists checks that dir is a directory.
func dirExists(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("model store directory: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("model store directory %s is not a directory", dir)
	}
	return nil
}

// createFile writes data to path unless path exists, atomically: readers
// and rival writers see either no file or the whole of one writer's bytes.
// The temporary file starts with '.' and ends in ".tmp" so that the
// store's listings, which parse names, pass over one a crash left behind.
func createFile(path string, data []byte) (created bool, err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("create %s: %w", dir, err)
	}
	if _, err := os.Lstat(path); err == nil {
		return false, nil // the common case of a lost race, without writing
	}
	suffix := make([]byte, 8)
	rand.Read(suffix)
	tmp := filepath.Join(dir, "."+filepath.Base(path)+"."+hex.EncodeToString(suffix)+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return false, fmt.Errorf("create temporary file: %w", err)
	}
	defer os.Remove(tmp) // after the link, the name is all that goes
	if _, err := f.Write(data); err != nil {
		f.Close()
		return false, fmt.Errorf("write %s: %w", tmp, err)
	}
	// fsync before publishing the name, so that a crash of the machine
	// cannot leave a named but empty file.
	if err := f.Sync(); err != nil {
		f.Close()
		return false, fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return false, fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		// NFS may report a failure for a link that was made (the reply was
		// lost and the retried request found the name taken); the link
		// count of the temporary file tells.
		var st syscall.Stat_t
		if serr := syscall.Stat(tmp, &st); serr != nil || st.Nlink != 2 {
			return false, fmt.Errorf("publish %s: %w", path, err)
		}
	}
	if err := syncDir(dir); err != nil {
		return true, err
	}
	return true, nil
}

// syncDir makes a new name in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
