// Package modelstore keeps trained models and which one is active, in any
// bucket gocloud.dev/blob opens: a directory, S3 or an S3-compatible store,
// or memory. Many artclassd replicas and trainers share one store; each
// replica follows its active pointer (see Follower).
//
// # Model
//
// A store holds immutable versions and one active pointer, the model that
// MLflow's aliases and TensorFlow Serving's version policies describe,
// without their races:
//
//   - A version is a model file as classifier writes it, named by its content
//     version (classifier.Model.Version), plus a small JSON Manifest. Put
//     writes the model file, reads it back and verifies it (checksum and
//     classifier.Decode with the model's own checks) before it writes the
//     manifest; the manifest is the commit point, so a version without one is
//     invisible, and a pointer can only ever name a verified version.
//   - The active pointer is an append-only log of generations. Promote
//     writes generation N+1, where N is the generation the caller read, with
//     a create-only conditional write: of two promotions racing from the
//     same generation exactly one succeeds, and the other gets an error
//     wrapping ErrConflict that names the version now active. Promotion and
//     rollback change only the pointer.
//
// Every object is written once and never replaced, so the only primitive
// the store needs from a backend is "create if absent", which S3
// (If-None-Match: *), Google Cloud Storage and Azure honour, and which this
// package implements itself for directories (see below).
//
// # Layout
//
// Under the bucket and its prefix:
//
//	versions/<version>/manifest.json         the Manifest; its presence commits the version
//	versions/<version>/model-<sha256>.bin    the model file, named by its checksum
//	active/<generation>.json                 one pointer record per generation, zero-padded to 20 digits
//
// The model file's name carries its checksum, so a damaged or foreign object
// can never stand in for another model's bytes, and two trainers storing the
// same version (same content, different creation time) do not collide.
//
// # URLs
//
// Open accepts:
//
//	file:///abs/dir                     a directory (fileblob); ?create_dir=true creates it
//	mem://                              memory, for tests; every Open is a new, empty store
//	s3://bucket?region=R                AWS S3
//	s3://bucket?endpoint=http://host:port&region=R&use_path_style=true
//	                                    any S3-compatible store (SeaweedFS, MinIO, Ceph, R2)
//
// Every URL takes prefix=path/ to keep the store under a prefix of the
// bucket. The s3:// parameters are gocloud.dev v0.47's (s3blob.URLOpener and
// aws.V2ConfigFromURLParams): region, endpoint, use_path_style (or
// s3ForcePathStyle), disable_https, hostname_immutable, profile, role,
// anonymous, dualstack, fips, accelerate, ssetype, kmskeyid,
// rate_limiter_capacity, request_checksum_calculation and
// response_checksum_validation; an unknown parameter is an error.
// Credentials come from the AWS SDK's default chain: AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, a shared profile, or the pod's IAM role. Open does
// not contact the store, so a replica can start while the store is down.
// The AWS SDK makes up to 3 attempts at each request, with backoff (the
// retryer gocloud.dev installs, which AWS_MAX_ATTEMPTS does not change), so
// a call to an S3 store that is down takes 2 to 5 seconds to fail, and a
// Follower's poll with it.
//
// gs:// and azblob:// work too when a binary imports their drivers for their
// side effect (import _ "gocloud.dev/blob/gcsblob", _
// "gocloud.dev/blob/azureblob"); both honour create-only writes. This package
// does not import them: each pulls in its cloud's SDK (tens of modules) that
// no deployment of ours uses, and S3-compatible endpoints cover most stores.
//
// # Directories
//
// gocloud.dev's fileblob does not make create-only writes atomic: in v0.47
// its IfNotExist is a stat followed by a rename, under a mutex that is new
// for every writer, so two writers (even in one process) can both pass the
// check and the second rename silently replaces the first; it also does not
// fsync. A file:// store therefore creates objects itself: it writes a
// temporary file beside the target, fsyncs it, and publishes it with
// link(2), which fails if the name exists, then fsyncs the directory. That
// is atomic across processes on one machine, and link is atomic on NFS too,
// the usual ReadWriteMany volume (the classic lockfile idiom rests on it;
// not tested here).
// Reads and listings go through fileblob. fileblob lists a directory it
// cannot read as empty, so a file:// store checks that its root directory
// exists before it lists, and never creates the root itself: a store whose
// directory is gone reads as unreachable, not as empty. A store opened
// with New on a fileblob bucket gets fileblob's behaviour, not this one.
//
// # Growth
//
// Versions and pointer generations are never deleted by this package.
// Active lists the pointer's generations (one object each, about 200
// bytes), so it slows as promotions accumulate, by about one listing page
// per thousand; a Follower lists once at start and then reads one object a
// poll. Generations only grow: emptying a store under running replicas
// leaves them waiting for a generation past the one they know, so start
// afresh under a new prefix instead.
package modelstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file:// URLs
	_ "gocloud.dev/blob/memblob"  // mem:// URLs
	_ "gocloud.dev/blob/s3blob"   // s3:// URLs
	"gocloud.dev/gcerrors"

	"github.com/artclass/artclass/classifier"
)

var (
	// ErrNotFound is wrapped by errors about a version the store does not
	// hold (or holds only partly, without its manifest).
	ErrNotFound = errors.New("model version not found")
	// ErrNoActive is wrapped by Active's error when no version was ever
	// promoted.
	ErrNoActive = errors.New("no active model")
	// ErrConflict is wrapped by Promote's error when the active pointer
	// moved since the caller read it; errors.As gives the *ConflictError.
	ErrConflict = errors.New("active model changed")
	// ErrCorrupt is wrapped by errors about a stored object that fails
	// verification: a model whose checksum, decoding or content version does
	// not match its manifest, a missing model file, or unreadable JSON.
	ErrCorrupt = errors.New("stored model is corrupt")
	// ErrInvalid is wrapped by errors about a caller's argument: a malformed
	// version name, or a pointer that this store never wrote.
	ErrInvalid = errors.New("invalid argument")
)

// ConflictError is the error of a promotion that lost a race: the pointer
// moved from Expected, which the caller read, to Active.
type ConflictError struct {
	// Expected is the pointer the caller promoted against.
	Expected Pointer
	// Active is the pointer now in force; Active.Version is the version
	// that won.
	Active Pointer
}

// Error names the generation the caller expected and the version now active.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("%v: expected generation %d (%s), but generation %d now makes %s active",
		ErrConflict, e.Expected.Generation, orNone(e.Expected.Version), e.Active.Generation, e.Active.Version)
}

// Unwrap makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Unwrap() error { return ErrConflict }

func orNone(v string) string {
	if v == "" {
		return "none active"
	}
	return v
}

// Manifest describes a stored version.
type Manifest struct {
	// Version is the model's content version, classifier.Model.Version.
	Version string `json:"version"`
	// Created is when the model was trained; Stored when it was put into
	// the store (by the first Put, if several stored it).
	Created time.Time `json:"created"`
	Stored  time.Time `json:"stored"`
	// Parent is the version that was active when this one was trained, if
	// any: the lineage a rollback walks back along.
	Parent string `json:"parent,omitempty"`
	// Labels, Samples, Negatives and LabelCounts are the model's label set
	// and training counts (see classifier.Metadata).
	Labels      []string       `json:"labels"`
	Samples     int            `json:"samples"`
	Negatives   int            `json:"negatives"`
	LabelCounts map[string]int `json:"label_counts"`
	// Algorithm is the topic model that won cross-validation, and CV its
	// cross-validated report: what a quality gate compares.
	Algorithm string            `json:"algorithm"`
	CV        classifier.Report `json:"cv"`
	// Checksum is the hex SHA-256 of the model file, and Size its length
	// in bytes.
	Checksum string `json:"checksum"`
	Size     int64  `json:"size"`
}

// manifestOf describes m, whose file is data.
func manifestOf(m *classifier.Model, data []byte, parent string, stored time.Time) Manifest {
	md := m.Metadata()
	sum := sha256.Sum256(data)
	return Manifest{
		Version:     md.Version,
		Created:     md.Created,
		Stored:      stored,
		Parent:      parent,
		Labels:      md.Labels,
		Samples:     md.Samples,
		Negatives:   md.Negatives,
		LabelCounts: md.LabelCounts,
		Algorithm:   md.Algorithm,
		CV:          md.CV,
		Checksum:    hex.EncodeToString(sum[:]),
		Size:        int64(len(data)),
	}
}

// Pointer is one generation of the active pointer. The zero Pointer means
// "nothing active yet": Active returns it with ErrNoActive, and promoting
// against it creates generation 1.
type Pointer struct {
	// Generation counts promotions from 1; each names one version.
	Generation uint64 `json:"generation"`
	// Version is the active version.
	Version string `json:"version"`
	// Previous is the version the promotion replaced, "" for the first: a
	// rollback promotes it again.
	Previous string `json:"previous,omitempty"`
	// Time is when the promotion was written.
	Time time.Time `json:"time"`
}

// pointerRecord is a Pointer as stored. Writer is random per write, so a
// promoter whose create-only write timed out after landing, and was retried
// into "already exists", can tell its own record from a rival's.
type pointerRecord struct {
	Pointer
	Writer string `json:"writer"`
}

// Store is a model store opened on a bucket. Its methods are safe for
// concurrent use, and any number of Stores, in any number of processes, may
// share one bucket.
type Store struct {
	bucket *blob.Bucket
	// create writes data under key unless key exists, and reports whether
	// it did. It is the store's only write.
	create func(ctx context.Context, key string, data []byte) (bool, error)
	// ready, if set, checks the store can be read before a listing: a
	// directory store's root must exist, since fileblob lists a missing or
	// unreadable directory as empty, which would read as "nothing active".
	ready func() error
}

// MaxVersionBytes bounds a version name (ValidateVersion), which becomes
// part of a key.
const MaxVersionBytes = 64

const (
	versionsDir  = "versions/"
	activeDir    = "active/"
	manifestName = "manifest.json"
	// maxRecordBytes bounds what is read of a manifest or pointer record.
	maxRecordBytes = 1 << 20
)

// Open opens the store at urlstr (see the package documentation for the URL
// forms). It does not contact the store.
func Open(ctx context.Context, urlstr string) (*Store, error) {
	u, err := url.Parse(urlstr)
	if err != nil {
		return nil, fmt.Errorf("model store URL: %w", err)
	}
	// The prefix is applied here rather than by blob.OpenBucket so that a
	// directory store knows the path its objects are created under.
	q := u.Query()
	prefix := q.Get("prefix")
	q.Del("prefix")
	u.RawQuery = q.Encode()
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if strings.HasPrefix(prefix, "/") || slices.Contains(strings.Split(prefix, "/"), "..") {
		return nil, fmt.Errorf("%w: model store URL: prefix %q must be relative and must not contain ..", ErrInvalid, prefix)
	}
	b, err := blob.OpenBucket(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("open model store %s: %w", redact(u), err)
	}
	if prefix != "" {
		b = blob.PrefixedBucket(b, prefix)
	}
	s := New(b)
	if u.Scheme == "file" {
		root := fileRoot(u)
		s.create = directoryCreate(root, prefix)
		s.ready = func() error { return dirExists(root) }
	}
	return s, nil
}

// redact drops the query of a URL for messages: parameters are not
// secrets today, but nothing is lost by keeping them out of logs.
func redact(u *url.URL) string {
	c := *u
	c.RawQuery = ""
	c.User = nil
	return c.String()
}

// New returns a store on an open bucket, which the store then owns (Close
// closes it). Objects are created with blob.WriterOptions.IfNotExist, so the
// bucket's driver must make that atomic: memblob, s3blob, gcsblob and
// azureblob do; fileblob does not (use Open with a file:// URL).
func New(b *blob.Bucket) *Store {
	s := &Store{bucket: b}
	s.create = s.blobCreate
	return s
}

// Close closes the store's bucket.
func (s *Store) Close() error {
	if err := s.bucket.Close(); err != nil {
		return fmt.Errorf("close model store: %w", err)
	}
	return nil
}

func (s *Store) checkReady() error {
	if s.ready == nil {
		return nil
	}
	return s.ready()
}

func (s *Store) blobCreate(ctx context.Context, key string, data []byte) (bool, error) {
	err := s.bucket.WriteAll(ctx, key, data, &blob.WriterOptions{IfNotExist: true, ContentType: contentType(key)})
	switch {
	case err == nil:
		return true, nil
	case gcerrors.Code(err) == gcerrors.FailedPrecondition:
		return false, nil
	default:
		return false, err
	}
}

func contentType(key string) string {
	if strings.HasSuffix(key, ".json") {
		return "application/json"
	}
	return "application/octet-stream"
}

// ValidateVersion reports whether v can name a version: 1 to 64 lower-case
// ASCII letters, digits, '-' or '_' (classifier's versions are 16 hex
// digits). The error wraps ErrInvalid.
func ValidateVersion(v string) error {
	if v == "" || len(v) > MaxVersionBytes {
		return fmt.Errorf("%w: version %q: must be 1 to %d characters", ErrInvalid, v, MaxVersionBytes)
	}
	for _, c := range []byte(v) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: version %q: must hold only lower-case letters, digits, '-' and '_'", ErrInvalid, v)
		}
	}
	return nil
}

func manifestKey(version string) string { return versionsDir + version + "/" + manifestName }

func modelKey(version, checksum string) string {
	return versionsDir + version + "/model-" + checksum + ".bin"
}

func pointerKey(gen uint64) string { return fmt.Sprintf("%s%020d.json", activeDir, gen) }

// read reads the object at key, of at most limit bytes: a larger one is an
// error wrapping ErrCorrupt, refused before its download when the store
// gives its size.
func (s *Store) read(ctx context.Context, key string, limit int64) ([]byte, error) {
	r, err := s.bucket.NewReader(ctx, key, nil)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if r.Size() > limit {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than the limit of %d", ErrCorrupt, key, r.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: %s is more than the limit of %d bytes", ErrCorrupt, key, limit)
	}
	return data, nil
}

// Manifest returns the manifest of a stored version, or an error wrapping
// ErrNotFound.
func (s *Store) Manifest(ctx context.Context, version string) (Manifest, error) {
	if err := ValidateVersion(version); err != nil {
		return Manifest{}, err
	}
	data, err := s.read(ctx, manifestKey(version), maxRecordBytes)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return Manifest{}, fmt.Errorf("%w: %s", ErrNotFound, version)
	}
	if err != nil {
		return Manifest{}, fmt.Errorf("read manifest of %s: %w", version, err)
	}
	var mf Manifest
	if err := json.Unmarshal(data, &mf); err != nil {
		return Manifest{}, fmt.Errorf("%w: manifest of %s: %w", ErrCorrupt, version, err)
	}
	if mf.Version != version {
		return Manifest{}, fmt.Errorf("%w: manifest of %s names version %q", ErrCorrupt, version, mf.Version)
	}
	if _, err := hex.DecodeString(mf.Checksum); err != nil || len(mf.Checksum) != 2*sha256.Size {
		return Manifest{}, fmt.Errorf("%w: manifest of %s: checksum %q is not a hex SHA-256", ErrCorrupt, version, mf.Checksum)
	}
	return mf, nil
}

// Load reads a stored version and verifies it: the model file's SHA-256
// against the manifest, classifier.Decode's checks, and the decoded model's
// content version against the name. A version that fails any of them is an
// error wrapping ErrCorrupt; one the store does not hold wraps ErrNotFound.
func (s *Store) Load(ctx context.Context, version string) (*classifier.Model, Manifest, error) {
	m, mf, _, err := s.load(ctx, version)
	return m, mf, err
}

// load is Load, also returning the model file.
func (s *Store) load(ctx context.Context, version string) (*classifier.Model, Manifest, []byte, error) {
	mf, err := s.Manifest(ctx, version)
	if err != nil {
		return nil, Manifest{}, nil, err
	}
	data, err := s.readModel(ctx, version, mf.Checksum)
	if err != nil {
		return nil, Manifest{}, nil, err
	}
	m, err := verify(version, mf.Checksum, data)
	if err != nil {
		return nil, Manifest{}, nil, err
	}
	return m, mf, data, nil
}

func (s *Store) readModel(ctx context.Context, version, checksum string) ([]byte, error) {
	key := modelKey(version, checksum)
	data, err := s.read(ctx, key, classifier.MaxModelBytes)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, fmt.Errorf("%w: %s: model file %s is missing", ErrCorrupt, version, key)
	}
	if err != nil {
		return nil, fmt.Errorf("read model %s: %w", version, err)
	}
	return data, nil
}

// verify checks a model file against the version and checksum it is
// stored under, and decodes it.
func verify(version, checksum string, data []byte) (*classifier.Model, error) {
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != checksum {
		return nil, fmt.Errorf("%w: %s: model file's SHA-256 is %s, the manifest says %s", ErrCorrupt, version, got, checksum)
	}
	m, err := classifier.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, version, err)
	}
	if m.Version() != version {
		return nil, fmt.Errorf("%w: %s: the model file holds version %s", ErrCorrupt, version, m.Version())
	}
	return m, nil
}

// Put stores m as an immutable version and returns its manifest; parent is
// the version that was active when m was trained ("" for none). The model
// file is written, read back and verified before the manifest that makes
// the version visible, so a crash at any point leaves either no version or
// a complete one.
//
// Putting a version the store already holds is not an error: Put verifies
// the stored copy and returns its manifest, unchanged (the first Put's
// parent and times stand). A stored copy that fails verification is an
// error wrapping ErrCorrupt; its objects must be deleted by hand before the
// version can be stored again, since nothing in a store is overwritten.
func (s *Store) Put(ctx context.Context, m *classifier.Model, parent string) (Manifest, error) {
	version := m.Version()
	if err := ValidateVersion(version); err != nil {
		return Manifest{}, err
	}
	if parent != "" {
		if err := ValidateVersion(parent); err != nil {
			return Manifest{}, fmt.Errorf("parent: %w", err)
		}
	}
	if mf, err := s.stored(ctx, version); err == nil || !errors.Is(err, ErrNotFound) {
		return mf, err
	}
	data, err := m.MarshalBinary()
	if err != nil {
		return Manifest{}, fmt.Errorf("put %s: encode: %w", version, err)
	}
	mf := manifestOf(m, data, parent, time.Now().UTC())
	// The model file's name is its checksum, so if it exists it holds these
	// bytes, unless something outside the store damaged it, which the read
	// back below catches.
	if _, err := s.create(ctx, modelKey(version, mf.Checksum), data); err != nil {
		return Manifest{}, fmt.Errorf("put %s: write model file: %w", version, err)
	}
	back, err := s.readModel(ctx, version, mf.Checksum)
	if err != nil {
		return Manifest{}, fmt.Errorf("put %s: read back: %w", version, err)
	}
	if _, err := verify(version, mf.Checksum, back); err != nil {
		return Manifest{}, fmt.Errorf("put %s: read back: %w", version, err)
	}
	js, err := json.MarshalIndent(mf, "", "  ")
	if err != nil {
		return Manifest{}, fmt.Errorf("put %s: encode manifest: %w", version, err)
	}
	created, err := s.create(ctx, manifestKey(version), js)
	if err != nil {
		return Manifest{}, fmt.Errorf("put %s: write manifest: %w", version, err)
	}
	if !created {
		// Another Put of the same version committed first; its manifest
		// stands.
		return s.stored(ctx, version)
	}
	return mf, nil
}

// stored returns the manifest of a version the store holds, after
// verifying its model file.
func (s *Store) stored(ctx context.Context, version string) (Manifest, error) {
	_, mf, err := s.Load(ctx, version)
	if err != nil {
		return Manifest{}, fmt.Errorf("put %s: stored copy: %w", version, err)
	}
	return mf, nil
}

// List returns the manifest of every stored version, oldest first by the
// time it was stored. Versions whose Put has not committed are left out; a
// manifest that cannot be read is an error wrapping ErrCorrupt.
func (s *Store) List(ctx context.Context) ([]Manifest, error) {
	if err := s.checkReady(); err != nil {
		return nil, fmt.Errorf("list versions: %w", err)
	}
	var out []Manifest
	it := s.bucket.List(&blob.ListOptions{Prefix: versionsDir, Delimiter: "/"})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list versions: %w", err)
		}
		if !obj.IsDir {
			continue
		}
		version := strings.TrimSuffix(strings.TrimPrefix(obj.Key, versionsDir), "/")
		if ValidateVersion(version) != nil {
			continue // not ours
		}
		mf, err := s.Manifest(ctx, version)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list versions: %w", err)
		}
		out = append(out, mf)
	}
	slices.SortFunc(out, func(a, b Manifest) int {
		if c := a.Stored.Compare(b.Stored); c != 0 {
			return c
		}
		return strings.Compare(a.Version, b.Version)
	})
	return out, nil
}

// Active returns the active pointer, or the zero Pointer and an error
// wrapping ErrNoActive if no version was ever promoted. It lists the
// pointer's generations once; a Follower, which knows the last one, reads
// only the next.
func (s *Store) Active(ctx context.Context) (Pointer, error) {
	if err := s.checkReady(); err != nil {
		return Pointer{}, fmt.Errorf("read active pointer: %w", err)
	}
	var last uint64
	it := s.bucket.List(&blob.ListOptions{Prefix: activeDir})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return Pointer{}, fmt.Errorf("read active pointer: %w", err)
		}
		if gen, ok := parsePointerKey(obj.Key); ok && gen > last {
			last = gen
		}
	}
	if last == 0 {
		return Pointer{}, ErrNoActive
	}
	rec, err := s.readPointer(ctx, last)
	if err != nil {
		return Pointer{}, fmt.Errorf("read active pointer: %w", err)
	}
	// A promotion may have landed since the listing.
	return s.advance(ctx, rec.Pointer)
}

func parsePointerKey(key string) (uint64, bool) {
	name, ok := strings.CutPrefix(key, activeDir)
	if !ok {
		return 0, false
	}
	digits, ok := strings.CutSuffix(name, ".json")
	if !ok || len(digits) != 20 {
		return 0, false
	}
	gen, err := strconv.ParseUint(digits, 10, 64)
	return gen, err == nil && gen > 0
}

// readPointer reads generation gen; a missing one wraps ErrNotFound.
func (s *Store) readPointer(ctx context.Context, gen uint64) (pointerRecord, error) {
	data, err := s.read(ctx, pointerKey(gen), maxRecordBytes)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return pointerRecord{}, fmt.Errorf("%w: pointer generation %d", ErrNotFound, gen)
	}
	if err != nil {
		return pointerRecord{}, fmt.Errorf("read pointer generation %d: %w", gen, err)
	}
	var rec pointerRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return pointerRecord{}, fmt.Errorf("%w: pointer generation %d: %w", ErrCorrupt, gen, err)
	}
	if rec.Generation != gen || ValidateVersion(rec.Version) != nil {
		return pointerRecord{}, fmt.Errorf("%w: pointer generation %d holds generation %d, version %q", ErrCorrupt, gen, rec.Generation, rec.Version)
	}
	return rec, nil
}

// advance returns the newest pointer at or after p by reading generations
// p+1, p+2, … until one is missing: one read when nothing changed. The
// zero Pointer lists instead.
func (s *Store) advance(ctx context.Context, p Pointer) (Pointer, error) {
	if p.Generation == 0 {
		return s.Active(ctx)
	}
	for {
		rec, err := s.readPointer(ctx, p.Generation+1)
		if errors.Is(err, ErrNotFound) {
			// A directory store whose root has gone also answers "not
			// found"; that is an unreachable store, not an unchanged one.
			if err := s.checkReady(); err != nil {
				return Pointer{}, fmt.Errorf("read active pointer: %w", err)
			}
			return p, nil
		}
		if err != nil {
			return Pointer{}, err
		}
		p = rec.Pointer
	}
}

// Promote makes version active, provided the pointer is still expected,
// the Pointer the caller read from Active (the zero Pointer if nothing was
// active). It verifies the version first (see Load), so a pointer never
// names a version that would not load. Rolling back is promoting an older
// version, such as expected.Previous.
//
// If another promotion moved the pointer since expected, nothing changes
// and the error is a *ConflictError (wrapping ErrConflict) naming the
// version now active; the caller may read Active again and decide anew. A
// version the store does not hold wraps ErrNotFound; an expected pointer
// this store never wrote wraps ErrInvalid.
func (s *Store) Promote(ctx context.Context, version string, expected Pointer) (Pointer, error) {
	if err := ValidateVersion(version); err != nil {
		return Pointer{}, err
	}
	return s.promote(ctx, version, expected, false)
}

// Activate is Promote for a caller that serves the version it promotes (a
// replica's ActivateModel): it returns the verified model too, so the
// version is downloaded and checked once rather than once to promote it and
// again to serve it. Errors are Promote's.
func (s *Store) Activate(ctx context.Context, version string, expected Pointer) (*classifier.Model, Pointer, error) {
	if err := ValidateVersion(version); err != nil {
		return nil, Pointer{}, err
	}
	m, _, err := s.Load(ctx, version)
	if err != nil {
		return nil, Pointer{}, fmt.Errorf("promote %s: %w", version, err)
	}
	p, err := s.promote(ctx, version, expected, true)
	if err != nil {
		return nil, Pointer{}, err
	}
	return m, p, nil
}

// promote is Promote of a well-formed version name; verified says the
// caller has just verified the stored version (Publish, through Put), which
// spares downloading and decoding it again.
func (s *Store) promote(ctx context.Context, version string, expected Pointer, verified bool) (Pointer, error) {
	if expected.Generation > 0 {
		// Check the caller's pointer is one this store wrote: a made-up
		// generation ahead of the log would otherwise leave a gap that
		// followers never read past.
		rec, err := s.readPointer(ctx, expected.Generation)
		if errors.Is(err, ErrNotFound) {
			return Pointer{}, fmt.Errorf("%w: promote %s: expected pointer generation %d does not exist in this store", ErrInvalid, version, expected.Generation)
		}
		if err != nil {
			return Pointer{}, fmt.Errorf("promote %s: %w", version, err)
		}
		if rec.Version != expected.Version {
			return Pointer{}, fmt.Errorf("%w: promote %s: expected pointer generation %d names %s, not %s", ErrInvalid, version, expected.Generation, rec.Version, expected.Version)
		}
	}
	if !verified {
		if _, _, err := s.Load(ctx, version); err != nil {
			return Pointer{}, fmt.Errorf("promote %s: %w", version, err)
		}
	}
	writer := make([]byte, 16)
	rand.Read(writer)
	rec := pointerRecord{
		Pointer: Pointer{
			Generation: expected.Generation + 1,
			Version:    version,
			Previous:   expected.Version,
			Time:       time.Now().UTC(),
		},
		Writer: hex.EncodeToString(writer),
	}
	js, err := json.Marshal(rec)
	if err != nil {
		return Pointer{}, fmt.Errorf("promote %s: encode pointer: %w", version, err)
	}
	created, err := s.create(ctx, pointerKey(rec.Generation), js)
	if err != nil {
		return Pointer{}, fmt.Errorf("promote %s: write pointer generation %d: %w", version, rec.Generation, err)
	}
	if created {
		return rec.Pointer, nil
	}
	there, err := s.readPointer(ctx, rec.Generation)
	if err != nil {
		return Pointer{}, fmt.Errorf("promote %s: lost the race for generation %d, then: %w", version, rec.Generation, err)
	}
	if there.Writer == rec.Writer {
		return rec.Pointer, nil // our own write, retried after it landed
	}
	now, err := s.advance(ctx, there.Pointer)
	if err != nil {
		now = there.Pointer
	}
	return Pointer{}, &ConflictError{Expected: expected, Active: now}
}

// Publish stores m and makes it active, provided the pointer is still
// expected: Put with expected.Version as the parent, then Promote (without
// loading again the version Put has just verified). Read
// expected before training, so that a promotion made meanwhile (another
// trainer, a rollback) is a conflict rather than silently replaced. The
// version stays stored whatever Promote says, and can be promoted later.
func (s *Store) Publish(ctx context.Context, m *classifier.Model, expected Pointer) (Manifest, Pointer, error) {
	mf, err := s.Put(ctx, m, expected.Version)
	if err != nil {
		return Manifest{}, Pointer{}, err
	}
	p, err := s.promote(ctx, mf.Version, expected, true)
	if err != nil {
		return mf, Pointer{}, err
	}
	return mf, p, nil
}
