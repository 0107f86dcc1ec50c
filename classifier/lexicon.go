package classifier

import "math/bits"

// lexicon maps words to ids for the scorer: an open-addressing hash table
// keyed by the tokenKey the tokeniser computes while it reads each token.
// Its 16-byte slots hold a word of up to 8 bytes whole, so looking up most
// English words reads one slot and nothing else; longer words live in a
// byte arena the slot points into. It replaces a Go map, whose lookups were
// 40 % of Classify's time, and it is packed because on a busy server, where
// the network stack keeps the caches cold, every extra array a probe
// touches is another cache miss. The table is fixed once built, so no
// input can lengthen its probe sequences.
type lexicon struct {
	slots []lexSlot // len is a power of two, at most 2/3 full
	arena []byte    // the keys longer than 8 bytes, back to back
	mask  uint64
}

type lexSlot struct {
	// key is a short key's tokenKey.tail (no token holds a zero byte, so
	// the tail also encodes the length), or a long key's arena
	// offset<<8 | length.
	key uint64
	tag uint32 // hash bits, with bit 0 set and bit 1 marking a long key; 0 is empty
	id  int32
}

const shortKey = 8

// newLexicon builds a lexicon of n keys, given in order with their ids.
func newLexicon(n int, each func(add func(key string, id int32))) *lexicon {
	size := 1 << bits.Len(uint(n+n/2))
	lx := &lexicon{slots: make([]lexSlot, size), mask: uint64(size - 1)}
	each(func(key string, id int32) {
		k := keyOf(key)
		slot := lexSlot{key: k.tail, tag: tagOf(k.hash, len(key)), id: id}
		if len(key) > shortKey {
			slot.key = uint64(len(lx.arena))<<8 | uint64(len(key))
			lx.arena = append(lx.arena, key...)
		}
		for i := lx.start(k.hash); ; i = (i + 1) & lx.mask {
			if lx.slots[i].tag == 0 {
				lx.slots[i] = slot
				return
			}
		}
	})
	return lx
}

func tagOf(h uint64, n int) uint32 {
	t := uint32(h>>32) | 1
	if n > shortKey {
		return t | 2
	}
	return t &^ 2
}

// start is the first slot to probe for hash h. FNV's low bits are weak on
// short keys, so the high half is folded in.
func (lx *lexicon) start(h uint64) uint64 { return (h ^ h>>29) & lx.mask }

// lookup returns the id of tok, whose key is k.
func (lx *lexicon) lookup(tok []byte, k tokenKey) (int32, bool) {
	tag := tagOf(k.hash, len(tok))
	for i := lx.start(k.hash); ; i = (i + 1) & lx.mask {
		s := &lx.slots[i]
		switch {
		case s.tag == 0:
			return 0, false
		case s.tag != tag:
		case len(tok) <= shortKey:
			if s.key == k.tail {
				return s.id, true
			}
		case int(s.key&0xff) == len(tok) && string(lx.arena[s.key>>8:s.key>>8+s.key&0xff]) == string(tok):
			return s.id, true
		}
	}
}

// pairTable maps a pair of word ids to the id of their bigram, by open
// addressing with a multiplicative hash: cheaper than a Go map for the one
// lookup the scorer makes per adjacent word pair. Key and id share a slot
// so that a probe reads one cache line.
type pairTable struct {
	slots []pairSlot
	mask  uint64
}

type pairSlot struct {
	key uint64 // 0 marks an empty slot; keys are stored +1
	id  int32
}

func newPairTable(pairs map[uint64]int32) *pairTable {
	size := 1 << bits.Len(uint(2*len(pairs)+1))
	pt := &pairTable{slots: make([]pairSlot, size), mask: uint64(size - 1)}
	for k, id := range pairs {
		for i := pt.slot(k); ; i = (i + 1) & pt.mask {
			if pt.slots[i].key == 0 {
				pt.slots[i] = pairSlot{key: k + 1, id: id}
				break
			}
		}
	}
	return pt
}

func (pt *pairTable) slot(k uint64) uint64 { return (k * 0x9e3779b97f4a7c15 >> 20) & pt.mask }

func (pt *pairTable) lookup(k uint64) (int32, bool) {
	for i := pt.slot(k); ; i = (i + 1) & pt.mask {
		switch s := &pt.slots[i]; s.key {
		case 0:
			return 0, false
		case k + 1:
			return s.id, true
		}
	}
}
