package classifier

import (
	"hash/fnv"
	"unicode"
	"unicode/utf8"

	"github.com/james-bowman/nlp"
)

// maxTokenBytes is the longest token kept. Longer runs of letters (a pasted
// hash, a 1 MB "word") can never be in a vocabulary fitted on prose, and
// dropping them keeps scratch memory per call small.
const maxTokenBytes = 64

// Tokeniser splits text into lower-cased terms: runs of Unicode letters,
// digits and combining marks, joined across inner hyphens so that F-35,
// S-400, COP27, covid-19 and 2024 survive whole (nlp's default tokeniser
// keeps letters only). Single-character tokens and English stop words are
// dropped. With Bigrams set it also yields each pair of adjacent kept terms
// within a sentence, joined by one space ("west bank").
//
// Tokeniser implements nlp.Tokeniser; its zero value uses no stop words, and
// NewTokeniser gives the one artclass trains with.
type Tokeniser struct {
	// StopWords are dropped before bigrams are formed.
	StopWords map[string]struct{}
	// Bigrams adds adjacent pairs of terms.
	Bigrams bool
}

var _ nlp.Tokeniser = (*Tokeniser)(nil)

// NewTokeniser returns a tokeniser with the English stop-word list.
func NewTokeniser(bigrams bool) *Tokeniser {
	return &Tokeniser{StopWords: englishStopWords(), Bigrams: bigrams}
}

// ForEachIn calls f with each term of text in order: each unigram, followed,
// when Bigrams is set, by the bigram it ends.
func (t *Tokeniser) ForEachIn(text string, f func(token string)) {
	var buf, prev []byte
	havePrev := false
	t.scan(text, &buf, func(tok []byte, _ tokenKey, joined bool) {
		if !joined {
			havePrev = false
		}
		if _, stop := t.StopWords[string(tok)]; stop {
			// Stop words are skipped for bigrams, as in scikit-learn, so
			// "minister of defence" yields "minister defence".
			return
		}
		f(string(tok))
		if t.Bigrams {
			if havePrev {
				f(string(prev) + " " + string(tok))
			}
			prev = append(prev[:0], tok...)
			havePrev = true
		}
	})
}

// Tokenise returns the terms ForEachIn yields.
func (t *Tokeniser) Tokenise(text string) []string {
	var out []string
	t.ForEachIn(text, func(tok string) { out = append(out, tok) })
	return out
}

// scan is the one tokeniser both training (through nlp) and the compiled
// scorer use, so they cannot disagree. It calls emit with each token,
// lower-cased into *buf (valid only during the call), and whether the token
// directly follows the previous token within the same sentence. Stop words
// are emitted too: callers skip them, each with the lookup it already does.
// It allocates only to grow *buf, which never passes maxTokenBytes+4.
// key is the token's lookup key, computed in registers as its bytes are
// stored, so the scorer's lookup need not read the token again.
func (t *Tokeniser) scan(text string, buf *[]byte, emit func(tok []byte, key tokenKey, joined bool)) {
	joined := false // whether a kept token precedes in this sentence
	i := 0
	for i < len(text) {
		if c := text[i]; c < utf8.RuneSelf && asciiWordLower[c] == 0 {
			// ASCII space and punctuation, the most common separators.
			if isSentenceBreak(rune(c)) {
				joined = false
			}
			i++
			continue
		}
		r, size := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(text[i:])
		}
		if !isWordRune(r) {
			if isSentenceBreak(r) {
				joined = false
			}
			i += size
			continue
		}
		// A token: word runes, with single hyphens allowed between them.
		b := (*buf)[:0]
		h, w := uint64(fnvOffset), uint64(0)
		runes, tooLong := 0, false
		for i < len(text) {
			// Plain ASCII letters and digits take the fast path: this loop
			// is where the scorer spends most of its time.
			if c := text[i]; c < utf8.RuneSelf {
				if lc := asciiWordLower[c]; lc != 0 {
					if len(b) <= maxTokenBytes {
						b = append(b, lc)
						h = (h ^ uint64(lc)) * fnvPrime
						w = w<<8 | uint64(lc)
					} else {
						tooLong = true
					}
					runes++
					i++
					continue
				}
				if c != '-' {
					break // ASCII space or punctuation ends the token
				}
			}
			r, size = rune(text[i]), 1
			if r >= utf8.RuneSelf {
				r, size = utf8.DecodeRuneInString(text[i:])
			}
			if isWordRune(r) {
				if len(b) <= maxTokenBytes {
					n := len(b)
					b = utf8.AppendRune(b, unicode.ToLower(r))
					for _, c := range b[n:] {
						h = (h ^ uint64(c)) * fnvPrime
						w = w<<8 | uint64(c)
					}
				} else {
					tooLong = true // keep consuming, stop storing
				}
				runes++
				i += size
				continue
			}
			if isHyphen(r) && i+size < len(text) {
				next, _ := utf8.DecodeRuneInString(text[i+size:])
				if isWordRune(next) {
					if len(b) <= maxTokenBytes {
						b = append(b, '-')
						h = (h ^ '-') * fnvPrime
						w = w<<8 | '-'
					}
					i += size
					continue
				}
			}
			break
		}
		*buf = b
		if runes < 2 || tooLong || len(b) > maxTokenBytes {
			// Too short to mean anything, or too long to be a word:
			// either way it interrupts the phrase.
			joined = false
			continue
		}
		emit(b, tokenKey{hash: h, tail: w}, joined)
		joined = true
	}
}

// asciiWordLower maps each ASCII letter and digit to its lower case and
// every other ASCII byte to 0: one load instead of three range tests in the
// scorer's innermost loop. It is a constant, so nothing can change it.
const asciiWordLower = "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x000123456789\x00\x00\x00\x00\x00\x00\x00abcdefghijklmnopqrstuvwxyz\x00\x00\x00\x00\x00\x00abcdefghijklmnopqrstuvwxyz\x00\x00\x00\x00\x00"

// tokenKey is what the lexicon needs of a token besides its bytes.
type tokenKey struct {
	hash uint64 // FNV-1a of the token
	tail uint64 // its last 8 bytes, big-endian: a token of up to 8 bytes whole
}

// keyOf returns the tokenKey scan computes for tok. It takes the hash from
// hash/fnv, so that TestScanKey checks scan's inlined FNV-1a against the
// standard library's.
func keyOf(tok string) tokenKey {
	h := fnv.New64a()
	h.Write([]byte(tok))
	k := tokenKey{hash: h.Sum64()}
	for i := 0; i < len(tok); i++ {
		k.tail = k.tail<<8 | uint64(tok[i])
	}
	return k
}

// FNV-1a, 64-bit, inlined in scan.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || 'A' <= r && r <= 'Z'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

func isHyphen(r rune) bool { return r == '-' || r == '\u2010' || r == '\u2011' }

func isSentenceBreak(r rune) bool {
	switch r {
	case '.', '!', '?', ';', ':', '\n', '\r', '"', '(', ')', '\u201c', '\u201d', '|':
		return true
	}
	return false
}

// englishStopWords returns scikit-learn's English stop-word list less seven
// words that carry topic meaning in news ("fire", "front", "system",
// "interest", "bill", "serious", "mill"): opened fire, the front line and a
// missile-defence system are exactly what a defence model needs.
func englishStopWords() map[string]struct{} {
	words := []string{
		"a", "about", "above", "across", "after", "afterwards", "again", "against", "all", "almost",
		"alone", "along", "already", "also", "although", "always", "am", "among", "amongst", "amoungst",
		"amount", "an", "and", "another", "any", "anyhow", "anyone", "anything", "anyway", "anywhere",
		"are", "around", "as", "at", "back", "be", "became", "because", "become", "becomes", "becoming",
		"been", "before", "beforehand", "behind", "being", "below", "beside", "besides", "between",
		"beyond", "both", "bottom", "but", "by", "call", "can", "cannot", "cant", "co", "con",
		"could", "couldnt", "cry", "de", "describe", "detail", "do", "done", "down", "due", "during",
		"each", "eg", "eight", "either", "eleven", "else", "elsewhere", "empty", "enough", "etc", "even",
		"ever", "every", "everyone", "everything", "everywhere", "except", "few", "fifteen", "fifty",
		"fill", "find", "first", "five", "for", "former", "formerly", "forty", "found", "four",
		"from", "full", "further", "get", "give", "go", "had", "has", "hasnt", "have", "he",
		"hence", "her", "here", "hereafter", "hereby", "herein", "hereupon", "hers", "herself", "him",
		"himself", "his", "how", "however", "hundred", "i", "ie", "if", "in", "inc", "indeed",
		"interest", "into", "is", "it", "its", "itself", "keep", "last", "latter", "latterly", "least",
		"less", "ltd", "made", "many", "may", "me", "meanwhile", "might", "mine", "more",
		"moreover", "most", "mostly", "move", "much", "must", "my", "myself", "name", "namely",
		"neither", "never", "nevertheless", "next", "nine", "no", "nobody", "none", "noone", "nor",
		"not", "nothing", "now", "nowhere", "of", "off", "often", "on", "once", "one", "only", "onto",
		"or", "other", "others", "otherwise", "our", "ours", "ourselves", "out", "over", "own", "part",
		"per", "perhaps", "please", "put", "rather", "re", "same", "see", "seem", "seemed", "seeming",
		"seems", "several", "she", "should", "show", "side", "since", "sincere", "six",
		"sixty", "so", "some", "somehow", "someone", "something", "sometime", "sometimes", "somewhere",
		"still", "such", "take", "ten", "than", "that", "the", "their", "them", "themselves",
		"then", "thence", "there", "thereafter", "thereby", "therefore", "therein", "thereupon",
		"these", "they", "thick", "thin", "third", "this", "those", "though", "three", "through",
		"throughout", "thru", "thus", "to", "together", "too", "top", "toward", "towards", "twelve",
		"twenty", "two", "un", "under", "until", "up", "upon", "us", "very", "via", "was", "we", "well",
		"were", "what", "whatever", "when", "whence", "whenever", "where", "whereafter", "whereas",
		"whereby", "wherein", "whereupon", "wherever", "whether", "which", "while", "whither", "who",
		"whoever", "whole", "whom", "whose", "why", "will", "with", "within", "without", "would", "yet",
		"you", "your", "yours", "yourself", "yourselves",
	}
	m := make(map[string]struct{}, len(words))
	for _, w := range words {
		m[w] = struct{}{}
	}
	return m
}
