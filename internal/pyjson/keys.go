package pyjson

import (
	"encoding/binary"

	"github.com/papyrad/papyrad/internal/retention"
)

// A Classifier classifies lines exactly as Classify does, and faster for lines like those it
// has seen: it remembers the member keys they repeat. Papyra writes every record with the same
// few keys, each followed by ": ", and matching such a key as one run of bytes costs a few
// word compares where validating it as a string costs a scan. Identical bytes at a place where
// a key is expected are an identical, already validated key, so what is decided never depends
// on what was seen before. The zero Classifier is ready; one must not be used concurrently.
// A nil *Classifier classifies as Classify does, remembering nothing.
type Classifier struct {
	keys keyCache
}

// Classify is Classify, remembering the keys of line for the lines after it.
func (c *Classifier) Classify(line []byte, wantRepr bool) retention.Class {
	if c == nil {
		return classify(line, wantRepr, nil)
	}
	return classify(line, wantRepr, &c.keys)
}

const (
	keySetBits = 6 // 64 sets
	keyWays    = 4 // of 4 keys each: Papyra's registry_* keys share their first 8 bytes
	minKeyLen  = 8 // a shorter token's first word would hold bytes of its value
	maxKeyLen  = 24
)

// keyCache is a set-associative cache of key tokens: the bytes from a key's opening quote to
// the space after its colon, indexed by their first 8 bytes.
type keyCache struct {
	sets [1 << keySetBits]keySet
}

// keySet is one set of keyCache. A way's first word is never 0 (a token starts with '"'), so
// an empty way matches nothing.
type keySet struct {
	w0   [keyWays]uint64 // each token's first 8 bytes, little endian
	rest [keyWays]keyToken
	next uint8 // the way the next new token replaces
}

// keyToken is the rest of a remembered token: its next two words, each masked to its bytes.
type keyToken struct {
	w1, w2 uint64
	m1, m2 uint64
	n      uint8 // the token's length
	ts     bool  // its key decodes to "timestamp"
}

func keyIndex(w0 uint64) int { return int((w0 * 0x9e3779b97f4a7c15) >> (64 - keySetBits)) }

// match returns the length of the remembered token that b holds at i, and whether its key is
// "timestamp"; 0 when none is there (or c is nil). A token is looked for only where the line
// goes on for maxKeyLen bytes, as it does after any key but the last of a record with a short
// last value.
func (c *keyCache) match(b []byte, i int) (n int, ts bool) {
	if c == nil || i < 0 || len(b)-i < maxKeyLen {
		return 0, false
	}
	s := b[i:]
	_ = s[maxKeyLen-1]
	w0 := binary.LittleEndian.Uint64(s)
	w1 := binary.LittleEndian.Uint64(s[8:])
	w2 := binary.LittleEndian.Uint64(s[16:])
	set := &c.sets[keyIndex(w0)]
	for k := range keyWays {
		if set.w0[k] == w0 {
			if t := &set.rest[k]; w1&t.m1 == t.w1 && w2&t.m2 == t.w2 {
				return int(t.n), t.ts
			}
		}
	}
	return 0, false
}

// learn remembers tok, a key token just validated (a key string, ':' and ' '), ts saying
// whether the key is "timestamp".
func (c *keyCache) learn(tok []byte, ts bool) {
	if len(tok) < minKeyLen || len(tok) > maxKeyLen {
		return
	}
	var pad, mask [maxKeyLen]byte
	copy(pad[:], tok)
	for j := range tok {
		mask[j] = 0xff
	}
	w0 := binary.LittleEndian.Uint64(pad[0:8])
	t := keyToken{
		w1: binary.LittleEndian.Uint64(pad[8:16]), w2: binary.LittleEndian.Uint64(pad[16:24]),
		m1: binary.LittleEndian.Uint64(mask[8:16]), m2: binary.LittleEndian.Uint64(mask[16:24]),
		n: uint8(len(tok)), ts: ts,
	}
	set := &c.sets[keyIndex(w0)]
	for k := range keyWays {
		if set.w0[k] == w0 && set.rest[k] == t {
			return
		}
	}
	set.w0[set.next], set.rest[set.next] = w0, t
	set.next = (set.next + 1) % keyWays
}
