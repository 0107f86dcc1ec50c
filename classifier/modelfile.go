package classifier

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// A model file is a fixed header followed by a payload:
//
//	magic    [8]byte  "ARTCLSMD"
//	version  uint32   FormatVersion
//	length   uint64   payload bytes
//	checksum [32]byte SHA-256 of the payload
//	payload:
//	  metadata  uvarint length, then JSON (Metadata)
//	  terms     uvarint count, then per term a uvarint length and its bytes
//	  idf       float64 per term
//	  coef      float64 per term per label, term-major
//	  labels    per label: bias, calibration a (whole-text score), c (best
//	            passage score) and b, threshold (float64)
//
// Format 2 added the passage weight c; format 1 files are still read (c = 0:
// they score the whole text only).
//
// Integers are little-endian. Every count is checked against the bytes that
// remain before anything is allocated for it.
const (
	// FormatVersion is the model-file format this package writes and reads.
	FormatVersion = 2
	headerSize    = 8 + 4 + 8 + 32
	// MaxModelBytes is the largest model file accepted.
	MaxModelBytes = 512 << 20
)

const magic = "ARTCLSMD"

// ErrModelFile is wrapped by every error about a model file's content.
var ErrModelFile = errors.New("invalid model file")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrModelFile, fmt.Sprintf(format, args...))
}

// MarshalBinary encodes the model as a model file.
func (m *Model) MarshalBinary() ([]byte, error) {
	payload, err := m.payload()
	if err != nil {
		return nil, err
	}
	out := make([]byte, headerSize, headerSize+len(payload))
	copy(out, magic)
	binary.LittleEndian.PutUint32(out[8:], FormatVersion)
	binary.LittleEndian.PutUint64(out[12:], uint64(len(payload)))
	sum := sha256.Sum256(payload)
	copy(out[20:], sum[:])
	return append(out, payload...), nil
}

func (m *Model) payload() ([]byte, error) {
	js, err := json.Marshal(m.meta)
	if err != nil {
		return nil, fmt.Errorf("encode metadata: %w", err)
	}
	tables := m.tables()
	out := make([]byte, 0, binary.MaxVarintLen64+len(js)+len(tables))
	out = binary.AppendUvarint(out, uint64(len(js)))
	out = append(out, js...)
	return append(out, tables...), nil
}

// tables encodes everything after the metadata.
func (m *Model) tables() []byte {
	L := len(m.bias)
	out := make([]byte, 0, len(m.terms)*(12+8*(1+L))+32*L)
	out = binary.AppendUvarint(out, uint64(len(m.terms)))
	for _, t := range m.terms {
		out = binary.AppendUvarint(out, uint64(len(t)))
		out = append(out, t...)
	}
	put := func(xs ...float64) {
		for _, x := range xs {
			out = binary.LittleEndian.AppendUint64(out, math.Float64bits(x))
		}
	}
	put(m.idf...)
	put(m.coef...)
	for l := range L {
		put(m.bias[l], m.cal[l].a, m.cal[l].c, m.cal[l].b, m.cal[l].threshold)
	}
	return out
}

// contentVersion hashes everything that decides how the model scores — the
// tables, and the metadata (labels, options, counts, CV figures) but for its
// version and creation time — so retraining the same data gives the same
// version. metaJSON is the metadata as it is (or will be) stored: the hash
// is taken over its keys, not over this build's Metadata type, so a file
// keeps its version when a later build adds a field.
func contentVersion(metaJSON, tables []byte) (string, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(metaJSON, &fields); err != nil {
		return "", err
	}
	delete(fields, "version")
	delete(fields, "created")
	canonical, err := json.Marshal(fields) // sorted keys, compacted values
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(binary.AppendUvarint(nil, uint64(len(canonical))))
	h.Write(canonical)
	h.Write(tables)
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}

// stampVersion sets the model's version from its content.
func (m *Model) stampVersion() error {
	js, err := json.Marshal(m.meta)
	if err != nil {
		return fmt.Errorf("encode metadata: %w", err)
	}
	v, err := contentVersion(js, m.tables())
	if err != nil {
		return err
	}
	m.meta.Version = v
	return nil
}

// WriteFile writes the model to path atomically: to a temporary file in
// the same directory, synced, then renamed over path, so a reader or a crash
// sees either the old file or the complete new one.
func (m *Model) WriteFile(path string) error {
	data, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data)
}

// writeFileAtomic writes data to path via a "*.tmp" file in its directory.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write model: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write model: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write model: sync: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write model: %w", err)
	}
	if err = os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("write model: %w", err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write model: %w", err)
	}
	// Sync the directory so the rename itself survives a crash.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// LoadFile reads and validates the model file at path.
func LoadFile(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	if st.Size() > MaxModelBytes {
		return nil, fmt.Errorf("load model %s: %w", path, corrupt("file is %d bytes, more than the %d a model may have", st.Size(), MaxModelBytes))
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxModelBytes+1))
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	m, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	return m, nil
}

// Decode parses and validates a model file held in memory. Any problem —
// truncation, corruption, a foreign file, a newer format — is an error
// wrapping ErrModelFile, never a panic.
func Decode(data []byte) (*Model, error) {
	if len(data) < headerSize {
		if len(data) >= 8 && string(data[:8]) != magic {
			return nil, corrupt("not an artclass model (bad magic)")
		}
		return nil, corrupt("truncated: %d bytes, shorter than the %d-byte header", len(data), headerSize)
	}
	if string(data[:8]) != magic {
		return nil, corrupt("not an artclass model (bad magic)")
	}
	format := binary.LittleEndian.Uint32(data[8:])
	if format != FormatVersion && format != 1 {
		if format > FormatVersion {
			return nil, corrupt("format version %d is newer than this build reads (%d); upgrade artclass", format, FormatVersion)
		}
		return nil, corrupt("unsupported format version %d", format)
	}
	n := binary.LittleEndian.Uint64(data[12:])
	payload := data[headerSize:]
	if n != uint64(len(payload)) {
		if n > uint64(len(payload)) {
			return nil, corrupt("truncated: header announces %d payload bytes, file holds %d", n, len(payload))
		}
		return nil, corrupt("%d bytes of trailing data after the payload", uint64(len(payload))-n)
	}
	if sum := sha256.Sum256(payload); !bytes.Equal(sum[:], data[20:52]) {
		return nil, corrupt("checksum mismatch: the file is corrupt")
	}
	return decodePayload(payload, format)
}

// reader reads the payload and refuses any count the remaining bytes cannot
// back.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint(what string, max uint64) int {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = corrupt("truncated or malformed %s", what)
		return 0
	}
	if v > max {
		r.err = corrupt("%s %d exceeds the %d the file can hold", what, v, max)
		return 0
	}
	r.b = r.b[n:]
	return int(v)
}

func (r *reader) bytes(what string, n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.err = corrupt("truncated %s", what)
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) floats(what string, n int) []float64 {
	raw := r.bytes(what, n*8)
	if r.err != nil {
		return nil
	}
	out := make([]float64, n)
	for i := range out {
		x := math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
		if math.IsNaN(x) || math.IsInf(x, 0) {
			r.err = corrupt("%s holds a non-finite value", what)
			return nil
		}
		out[i] = x
	}
	return out
}

// decodePayload decodes and validates a model file's payload (after the
// header and checksum) of the given format version: metadata, vocabulary,
// weights, and the content version they must hash to.
func decodePayload(p []byte, format uint32) (*Model, error) {
	r := &reader{b: p}
	meta, js, err := decodeMetadata(r, format)
	if err != nil {
		return nil, err
	}
	tablesRaw := r.b
	m := &Model{meta: meta, tok: NewTokeniser(meta.Options.Bigrams)}
	if m.terms, err = decodeTerms(r, meta.Terms, len(meta.Labels), m.tok); err != nil {
		return nil, err
	}
	if err := decodeWeights(r, m, format); err != nil {
		return nil, err
	}
	m.compile()
	v, err := contentVersion(js, tablesRaw)
	if err != nil {
		return nil, corrupt("metadata: %v", err)
	}
	if v != meta.Version {
		return nil, corrupt("version %q does not match the content (%q)", meta.Version, v)
	}
	if format == 1 {
		// The version hashes the tables as this build writes them, so that
		// the model can be written again and read back.
		if err := m.stampVersion(); err != nil {
			return nil, corrupt("metadata: %v", err)
		}
	}
	return m, nil
}

// decodeMetadata reads the metadata JSON at the start of the payload and
// checks its labels (valid, sorted, distinct) and options; it returns the
// JSON too, which the content version hashes.
func decodeMetadata(r *reader, format uint32) (Metadata, []byte, error) {
	var meta Metadata
	js := r.bytes("metadata", r.uvarint("metadata length", uint64(len(r.b))))
	if r.err != nil {
		return meta, nil, r.err
	}
	if err := json.Unmarshal(js, &meta); err != nil {
		return meta, nil, corrupt("metadata: %v", err)
	}
	if len(meta.Labels) == 0 {
		return meta, nil, corrupt("metadata lists no labels")
	}
	for i, l := range meta.Labels {
		if err := ValidateLabel(l); err != nil {
			return meta, nil, corrupt("metadata: %v", err)
		}
		if i > 0 && meta.Labels[i-1] >= l {
			return meta, nil, corrupt("metadata: labels are not sorted and distinct")
		}
	}
	if err := meta.Options.Validate(); err != nil {
		return meta, nil, corrupt("metadata: options: %v", err)
	}
	if format == 1 && meta.Options.PassageWords != 0 {
		return meta, nil, corrupt("metadata: format 1 has no passages, but passage_words is %d", meta.Options.PassageWords)
	}
	return meta, js, nil
}

// decodeTerms reads the vocabulary of a model with labels labels: as many
// terms as the metadata counts (want), each one tok could have produced,
// none twice, and every bigram's words in the vocabulary too.
func decodeTerms(r *reader, want, labels int, tok *Tokeniser) ([]string, error) {
	// Each term takes at least 2 bytes of name and 8·(1+L) of weights.
	nTerms := r.uvarint("term count", uint64(len(r.b))/uint64(2+8*(1+labels)))
	if r.err != nil {
		return nil, r.err
	}
	if nTerms != want {
		return nil, corrupt("term count %d disagrees with metadata (%d)", nTerms, want)
	}
	terms := make([]string, nTerms)
	seen := make(map[string]struct{}, nTerms)
	for i := range terms {
		t := string(r.bytes("term", r.uvarint("term length", maxTokenBytes*2+1)))
		if r.err != nil {
			return nil, r.err
		}
		if err := checkTerm(t, tok); err != nil {
			return nil, corrupt("term %d: %v", i, err)
		}
		if _, dup := seen[t]; dup {
			return nil, corrupt("term %q appears twice", t)
		}
		seen[t] = struct{}{}
		terms[i] = t
	}
	for i, t := range terms {
		if a, b, ok := strings.Cut(t, " "); ok {
			_, okA := seen[a]
			_, okB := seen[b]
			if !okA || !okB {
				return nil, corrupt("bigram %d (%q) has a word missing from the vocabulary", i, t)
			}
		}
	}
	return terms, nil
}

// decodeWeights reads the tables after the vocabulary into m: IDF weights
// (none negative), coefficients, and each label's bias, calibration and
// threshold (in [0, 1]; format 1 has no passage coefficient). Nothing may
// follow them.
func decodeWeights(r *reader, m *Model, format uint32) error {
	nTerms, L := len(m.terms), len(m.meta.Labels)
	m.idf = r.floats("idf", nTerms)
	m.coef = r.floats("coefficients", nTerms*L)
	perLabel := 5
	if format == 1 {
		perLabel = 4
	}
	per := r.floats("label parameters", perLabel*L)
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return corrupt("%d unread bytes after the tables", len(r.b))
	}
	if slices.ContainsFunc(m.idf, func(x float64) bool { return x < 0 }) {
		return corrupt("negative idf weight")
	}
	m.bias, m.cal = make([]float64, L), make([]calibrated, L)
	for l := range L {
		p := per[perLabel*l : perLabel*(l+1)]
		if format == 1 {
			m.bias[l], m.cal[l] = p[0], calibrated{a: p[1], b: p[2], threshold: p[3]}
		} else {
			m.bias[l], m.cal[l] = p[0], calibrated{a: p[1], c: p[2], b: p[3], threshold: p[4]}
		}
		if !(m.cal[l].threshold >= 0 && m.cal[l].threshold <= 1) {
			return corrupt("threshold of label %q is %v, outside [0, 1]", m.meta.Labels[l], m.cal[l].threshold)
		}
	}
	return nil
}

// checkTerm reports whether t is a term tok could have produced: one token,
// or two joined by a space when bigrams are on.
func checkTerm(t string, tok *Tokeniser) error {
	if !utf8.ValidString(t) {
		return errors.New("not valid UTF-8")
	}
	parts := strings.Split(t, " ")
	if len(parts) > 2 || len(parts) == 2 && !tok.Bigrams {
		return fmt.Errorf("%q is not a term", t)
	}
	for _, p := range parts {
		if len(p) < 2 || len(p) > maxTokenBytes || strings.ContainsFunc(p, func(r rune) bool { return !isWordRune(r) && r != '-' }) {
			return fmt.Errorf("%q is not a term", t)
		}
	}
	return nil
}
