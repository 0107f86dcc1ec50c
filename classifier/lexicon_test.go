package classifier

import (
	"fmt"
	"strings"
	"testing"
)

// TestLexicon checks lookups around the 8-byte boundary where keys stop
// being stored in their slot, and near misses of every kind: prefixes,
// extensions, one byte changed, and long keys that share a tail.
func TestLexicon(t *testing.T) {
	t.Parallel()
	keys := []string{
		"al", "iraq", "missile", "missiles", "elections", "parliament",
		"ministers", "12345678", "123456789", "abcdefghijklmnop", "abcdefghijklmnopq",
		"zürich", "東京", "ελλάδα", "re-elected", strings.Repeat("x", maxTokenBytes),
	}
	// Enough keys that probe sequences collide and wrap.
	for i := range 5000 {
		keys = append(keys, fmt.Sprintf("w%d", i), fmt.Sprintf("longer-word-%d", i))
	}
	lx := newLexicon(len(keys), func(add func(string, int32)) {
		for i, k := range keys {
			add(k, int32(i))
		}
	})
	for i, k := range keys {
		if id, ok := lx.lookup([]byte(k), keyOf(k)); !ok || id != int32(i) {
			t.Errorf("lookup(%q) = %d, %t; want %d, true", k, id, ok, i)
		}
	}
	absent := []string{
		"", "a", "ira", "iraqi", "missilez", "missile ", "1234567", "1234567890",
		"abcdefghijklmno", "abcdefghijklmnopqr", "xbcdefghijklmnop", "abcdefghijklmnoq",
		"zurich", "東", "re-electe", strings.Repeat("x", maxTokenBytes-1),
		strings.Repeat("x", maxTokenBytes+1), "w5000", "longer-word-5000", "longer-word-49999",
	}
	for _, k := range absent {
		if id, ok := lx.lookup([]byte(k), keyOf(k)); ok {
			t.Errorf("lookup(%q) = %d, true; want absent", k, id)
		}
	}
}

// TestPairTable checks every stored pair is found and pairs that differ in
// either half or in order are not.
func TestPairTable(t *testing.T) {
	t.Parallel()
	pairs := map[uint64]int32{}
	for a := range int32(100) {
		pairs[pairKey(a, a*7+1)] = a
	}
	pt := newPairTable(pairs)
	for a := range int32(100) {
		if id, ok := pt.lookup(pairKey(a, a*7+1)); !ok || id != a {
			t.Errorf("lookup(%d, %d) = %d, %t; want %d, true", a, a*7+1, id, ok, a)
		}
		if _, ok := pt.lookup(pairKey(a*7+1, a)); ok {
			t.Errorf("lookup(%d, %d) found a pair stored the other way round", a*7+1, a)
		}
		if _, ok := pt.lookup(pairKey(a, a*7+2)); ok {
			t.Errorf("lookup(%d, %d) found a pair never stored", a, a*7+2)
		}
	}
}
