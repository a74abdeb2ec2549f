package redis

import (
	"encoding/binary"
	"sort"
)

// idLog holds the IDs and data sizes of the entries a run has read, in stream order, in a few
// bytes each, so that a plan made over millions of entries can name the entry at any position
// without keeping the entries. IDs are strictly increasing in a stream: each is stored as the
// difference to the one before (a varint of the milliseconds, then a varint of the sequence,
// which restarts when the milliseconds move), then a varint of the size, with a full ID and the
// sizes so far every idChunk entries as an index.
type idLog struct {
	n      int
	buf    []byte
	chunks []idChunkHead
	last   id
	total  int64
}

type idChunkHead struct {
	first     id
	firstSize int64
	before    int64 // sizes of the entries before the chunk
	off       int   // where the chunk's second entry starts in buf
}

const idChunk = 256

func (l *idLog) add(x id, size int64) {
	if l.n%idChunk == 0 {
		l.chunks = append(l.chunks, idChunkHead{first: x, firstSize: size, before: l.total, off: len(l.buf)})
	} else {
		dms := x.ms - l.last.ms
		l.buf = binary.AppendUvarint(l.buf, dms)
		seq := x.seq
		if dms == 0 {
			seq -= l.last.seq
		}
		l.buf = binary.AppendUvarint(l.buf, seq)
		l.buf = binary.AppendUvarint(l.buf, uint64(size))
	}
	l.last = x
	l.total += size
	l.n++
}

// len returns the number of entries.
func (l *idLog) len() int { return l.n }

// walk decodes chunk c up to (not including) its k-th entry and returns that entry's ID and
// the sizes of the entries before it in the whole log. stop, if set, ends the walk early at the
// first entry for which it is true, and the position reached within the chunk is returned too.
func (l *idLog) walk(c, k int, stop func(id) bool) (id, int64, int) {
	h := l.chunks[c]
	x, before, size, off := h.first, h.before, h.firstSize, h.off
	for j := 0; j < k; j++ {
		if stop != nil && stop(x) {
			return x, before, j
		}
		before += size
		dms, n := binary.Uvarint(l.buf[off:])
		off += n
		seq, m := binary.Uvarint(l.buf[off:])
		off += m
		sz, p := binary.Uvarint(l.buf[off:])
		off += p
		if dms == 0 {
			x.seq += seq
		} else {
			x = id{x.ms + dms, seq}
		}
		size = int64(sz)
	}
	return x, before, k
}

// at returns the i-th ID (from 0).
func (l *idLog) at(i int) id {
	x, _, _ := l.walk(i/idChunk, i%idChunk, nil)
	return x
}

// sizeBefore returns the sizes of the entries before position i added up (i may be len).
func (l *idLog) sizeBefore(i int) int64 {
	if i >= l.n {
		return l.total
	}
	_, before, _ := l.walk(i/idChunk, i%idChunk, nil)
	return before
}

// search returns the position of the first ID at or above x (len when there is none).
func (l *idLog) search(x id) int {
	// The first chunk starting at or above x; the answer is its start or inside the chunk
	// before it.
	c := sort.Search(len(l.chunks), func(k int) bool { return !l.chunks[k].first.less(x) })
	if c < len(l.chunks) && l.chunks[c].first == x {
		return c * idChunk
	}
	if c == 0 {
		return 0
	}
	lo := (c - 1) * idChunk
	n := min(idChunk, l.n-lo)
	// Walk the chunk to its last entry, stopping at the first at or above x.
	last, _, j := l.walk(c-1, n-1, func(y id) bool { return !y.less(x) })
	if j < n-1 || !last.less(x) {
		return lo + j
	}
	return lo + n
}
