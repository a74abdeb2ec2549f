package redis

import (
	"encoding/binary"
	"sort"
)

// idLog holds the IDs of the entries a run has read, in stream order, in a few bytes each, so
// that a plan made over millions of entries can name the entry at any position without keeping
// the entries. IDs are strictly increasing in a stream: each is stored as the difference to the
// one before (a varint of the milliseconds, then a varint of the sequence, which restarts when
// the milliseconds move), with a full ID every idChunk entries as an index.
type idLog struct {
	n      int
	buf    []byte
	chunks []idChunkHead
	last   id
}

type idChunkHead struct {
	first id
	off   int // where the chunk's second ID starts in buf
}

const idChunk = 256

func (l *idLog) add(x id) {
	if l.n%idChunk == 0 {
		l.chunks = append(l.chunks, idChunkHead{first: x, off: len(l.buf)})
	} else {
		dms := x.ms - l.last.ms
		l.buf = binary.AppendUvarint(l.buf, dms)
		seq := x.seq
		if dms == 0 {
			seq -= l.last.seq
		}
		l.buf = binary.AppendUvarint(l.buf, seq)
	}
	l.last = x
	l.n++
}

// len returns the number of IDs.
func (l *idLog) len() int { return l.n }

// at returns the i-th ID (from 0).
func (l *idLog) at(i int) id {
	c := l.chunks[i/idChunk]
	x, off := c.first, c.off
	for k := 0; k < i%idChunk; k++ {
		dms, n := binary.Uvarint(l.buf[off:])
		off += n
		seq, m := binary.Uvarint(l.buf[off:])
		off += m
		if dms == 0 {
			x.seq += seq
		} else {
			x = id{x.ms + dms, seq}
		}
	}
	return x
}

// search returns the position of the first ID at or above x (len when there is none).
func (l *idLog) search(x id) int {
	// The last chunk whose first ID is at or below x holds the answer or ends just before it.
	c := sort.Search(len(l.chunks), func(k int) bool { return x.less(l.chunks[k].first) || x == l.chunks[k].first })
	if c > 0 && (c == len(l.chunks) || l.chunks[c].first != x) {
		c--
	}
	lo := c * idChunk
	hi := min(lo+idChunk, l.n)
	for i := lo; i < hi; i++ {
		if !l.at(i).less(x) {
			return i
		}
	}
	return hi
}
