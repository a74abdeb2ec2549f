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

// Slots of keyCache.tok: two that stand for no key, then one per way of each set.
const (
	startSlot  = 0 // before a record's first key
	noSlot     = 1 // a key the cache does not hold
	firstToken = 2
)

// keyCache is a set-associative cache of key tokens: the bytes from a key's opening quote to
// the space after its colon, indexed by their first 8 bytes. Each token also remembers the one
// that came after it (in a record's text, at any depth), and the cache tries that one first:
// records of one kind repeat their keys in the same order.
type keyCache struct {
	w0   [1 << keySetBits][keyWays]uint64           // each way's first word, for the set's scan
	tok  [firstToken + keyWays<<keySetBits]keyToken // by slot; a slot without a token has w0 0
	next [1 << keySetBits]uint8                     // the way each set's next new token replaces
	pred uint16                                     // the slot to try first for the next key
	last uint16                                     // the slot of the key before it
}

// keyToken is a remembered token: its three words, the last two masked to its bytes. A
// token's first word is never 0 (it starts with '"'), so a slot without one matches nothing.
type keyToken struct {
	w0, w1, w2 uint64
	m1, m2     uint64
	n          uint8  // the token's length
	ts         bool   // its key decodes to "timestamp"
	succ       uint16 // the slot of the key that came after it last time
}

func keyIndex(w0 uint64) int { return int((w0 * 0x9e3779b97f4a7c15) >> (64 - keySetBits)) }

func tokenSlot(set, way int) uint16 { return uint16(firstToken + set*keyWays + way) }

// begin starts a record: its first key is predicted to be the last record's first.
func (c *keyCache) begin() {
	if c != nil {
		c.last, c.pred = startSlot, c.tok[startSlot].succ
	}
}

// match returns the length of the remembered token that b holds at i, and whether its key is
// "timestamp"; 0 when none is there (or c is nil). A token is looked for only where the line
// goes on for maxKeyLen bytes, as it does after any key but the last of a record with a short
// last value. The validator does the same with the three words at i, in line.
func (c *keyCache) match(b []byte, i int) (n int, ts bool) {
	if c == nil || i < 0 || len(b)-i < maxKeyLen {
		return 0, false
	}
	s := b[i : i+maxKeyLen]
	w0, w1, w2 := binary.LittleEndian.Uint64(s), binary.LittleEndian.Uint64(s[8:]), binary.LittleEndian.Uint64(s[16:])
	if n, ts, ok := c.predicted(w0, w1, w2); ok {
		return n, ts
	}
	return c.lookup(w0, w1, w2)
}

// predicted matches the token the cache predicts, the common case, against the words at a
// key's place: small enough for the compiler to put in line.
func (c *keyCache) predicted(w0, w1, w2 uint64) (n int, ts, ok bool) {
	t := &c.tok[c.pred]
	if t.w0 != w0 || w1&t.m1 != t.w1 || w2&t.m2 != t.w2 {
		return 0, false, false
	}
	c.last, c.pred = c.pred, t.succ
	return int(t.n), t.ts, true
}

// lookup matches the words at a key's place against every token of their set.
func (c *keyCache) lookup(w0, w1, w2 uint64) (n int, ts bool) {
	set := keyIndex(w0)
	for k := range keyWays {
		if c.w0[set][k] == w0 {
			slot := tokenSlot(set, k)
			if t := &c.tok[slot]; w1&t.m1 == t.w1 && w2&t.m2 == t.w2 {
				c.follow(slot)
				return int(t.n), t.ts
			}
		}
	}
	return 0, false
}

// follow records that the key in slot came after the one in c.last, and predicts the key
// that came after it last time.
func (c *keyCache) follow(slot uint16) {
	c.tok[c.last].succ = slot // noSlot's succ is never read as a prediction that can match
	c.last, c.pred = slot, c.tok[slot].succ
}

// learn remembers tok, a key token just validated (a key string, ':' and ' '), ts saying
// whether the key is "timestamp".
func (c *keyCache) learn(tok []byte, ts bool) {
	if len(tok) < minKeyLen || len(tok) > maxKeyLen {
		c.last, c.pred = noSlot, noSlot
		return
	}
	var pad, mask [maxKeyLen]byte
	copy(pad[:], tok)
	for j := range tok {
		mask[j] = 0xff
	}
	t := keyToken{
		w0: binary.LittleEndian.Uint64(pad[0:8]),
		w1: binary.LittleEndian.Uint64(pad[8:16]), w2: binary.LittleEndian.Uint64(pad[16:24]),
		m1: binary.LittleEndian.Uint64(mask[8:16]), m2: binary.LittleEndian.Uint64(mask[16:24]),
		n: uint8(len(tok)), ts: ts,
	}
	set := keyIndex(t.w0)
	for k := range keyWays {
		if old := &c.tok[tokenSlot(set, k)]; c.w0[set][k] == t.w0 && old.w1 == t.w1 && old.m1 == t.m1 &&
			old.w2 == t.w2 && old.m2 == t.m2 {
			c.follow(tokenSlot(set, k))
			return
		}
	}
	k := int(c.next[set])
	c.next[set] = uint8((k + 1) % keyWays)
	c.w0[set][k], c.tok[tokenSlot(set, k)] = t.w0, t
	c.follow(tokenSlot(set, k))
}

// RecordLine is the fast way through a block of a store's lines. When b starts with a line
// that Classify(line, false) takes as a record, written as Papyra writes it (a JSON object
// directly followed by "\n"), it returns the record's timestamp and the line's length with its
// "\n". Otherwise it returns false, which says nothing about the line: the caller splits it off
// and classifies it.
func (c *Classifier) RecordLine(b []byte) (ts retention.Timestamp, n int, ok bool) {
	if len(b) == 0 || b[0] != '{' {
		return ts, 0, false
	}
	v := validator{}
	if c != nil {
		v.keys = &c.keys
		v.keys.begin()
	}
	// The validator reads past the line only to choose between equal ways of taking what is
	// in it (a remembered key, a digit run): it stops at "\n" and "\r" like at any byte that
	// cannot go on a token, so the object it ends is all in the line.
	i, ok := v.object(b, 1, 1)
	if !ok || i >= len(b) || b[i] != '\n' {
		return ts, 0, false
	}
	return v.ts, i + 1, true
}
