package classifier

import (
	"bytes"
	"math/bits"
)

// lexicon maps words to ids for the scorer. It is an open-addressing hash
// table over one byte arena, keyed by the FNV-1a hash the tokeniser computes
// while it reads each token: a lookup costs usually one 8-byte slot and one
// key comparison, and no allocation. It replaces a Go map in the one place
// where the map's lookups were 40 % of Classify's time. The table is fixed
// once built, so no input can lengthen its probe sequences.
type lexicon struct {
	slots []lexSlot // len is a power of two, at most half full
	keys  []uint32  // entry → end of its key in arena; entry i starts at keys[i-1]
	ids   []int32   // entry → id
	arena []byte    // every key, back to back
	mask  uint64
}

// lexSlot is small so that more of the table stays in cache.
type lexSlot struct {
	tag   uint32 // high bits of the key's hash; 0 marks an empty slot
	entry uint32
}

// newLexicon builds a lexicon of n keys, given in order with their ids.
func newLexicon(n int, each func(add func(key string, id int32))) *lexicon {
	size := 1 << bits.Len(uint(2*n+1))
	lx := &lexicon{slots: make([]lexSlot, size), mask: uint64(size - 1)}
	each(func(key string, id int32) {
		h := fnv1a(key)
		entry := uint32(len(lx.ids))
		lx.arena = append(lx.arena, key...)
		lx.keys = append(lx.keys, uint32(len(lx.arena)))
		lx.ids = append(lx.ids, id)
		for i := lx.start(h); ; i = (i + 1) & lx.mask {
			if lx.slots[i].tag == 0 {
				lx.slots[i] = lexSlot{tag: tagOf(h), entry: entry}
				return
			}
		}
	})
	return lx
}

func tagOf(h uint64) uint32 { return uint32(h>>32) | 1 }

// start is the first slot to probe for hash h. FNV's low bits are weak on
// short keys, so the high half is folded in.
func (lx *lexicon) start(h uint64) uint64 { return (h ^ h>>29) & lx.mask }

// lookup returns the id of key, whose FNV-1a hash is h.
func (lx *lexicon) lookup(key []byte, h uint64) (int32, bool) {
	tag := tagOf(h)
	for i := lx.start(h); ; i = (i + 1) & lx.mask {
		s := lx.slots[i]
		if s.tag == 0 {
			return 0, false
		}
		if s.tag == tag {
			start := uint32(0)
			if s.entry > 0 {
				start = lx.keys[s.entry-1]
			}
			if bytes.Equal(lx.arena[start:lx.keys[s.entry]], key) {
				return lx.ids[s.entry], true
			}
		}
	}
}

// pairTable maps a pair of word ids to the id of their bigram, by open
// addressing with a multiplicative hash: cheaper than a Go map for the one
// lookup the scorer makes per adjacent word pair.
type pairTable struct {
	keys []uint64 // 0 marks an empty slot; keys are stored +1
	ids  []int32
	mask uint64
}

func newPairTable(pairs map[uint64]int32) *pairTable {
	size := 1 << bits.Len(uint(2*len(pairs)+1))
	pt := &pairTable{keys: make([]uint64, size), ids: make([]int32, size), mask: uint64(size - 1)}
	for k, id := range pairs {
		for i := pt.slot(k); ; i = (i + 1) & pt.mask {
			if pt.keys[i] == 0 {
				pt.keys[i], pt.ids[i] = k+1, id
				break
			}
		}
	}
	return pt
}

func (pt *pairTable) slot(k uint64) uint64 { return (k * 0x9e3779b97f4a7c15 >> 20) & pt.mask }

func (pt *pairTable) lookup(k uint64) (int32, bool) {
	for i := pt.slot(k); ; i = (i + 1) & pt.mask {
		switch pt.keys[i] {
		case 0:
			return 0, false
		case k + 1:
			return pt.ids[i], true
		}
	}
}
