package redis

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// id is a stream entry ID: milliseconds and a sequence number. The zero id, 0-0, is below
// every entry Redis accepts.
type id struct{ ms, seq uint64 }

// maxID is the largest ID a stream can hold.
var maxID = id{math.MaxUint64, math.MaxUint64}

// parseIDBytes is parseID on the bytes of a reply.
func parseIDBytes(b []byte) (id, error) {
	dash := bytes.IndexByte(b, '-')
	if dash < 0 {
		return id{}, fmt.Errorf("stream ID %q has no sequence part", b)
	}
	ms, ok1 := decimal(b[:dash])
	seq, ok2 := decimal(b[dash+1:])
	if !ok1 || !ok2 {
		return parseID(string(b)) // says why
	}
	return id{ms, seq}, nil
}

// decimal parses the unsigned decimal number b, as strconv.ParseUint(b, 10, 64) does.
func decimal(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		d := uint64(c - '0')
		if d > 9 || n > (math.MaxUint64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

func parseID(s string) (id, error) {
	msPart, seqPart, ok := strings.Cut(s, "-")
	if !ok {
		return id{}, fmt.Errorf("stream ID %q has no sequence part", s)
	}
	ms, err := strconv.ParseUint(msPart, 10, 64)
	if err != nil {
		return id{}, fmt.Errorf("stream ID %q: %w", s, err)
	}
	seq, err := strconv.ParseUint(seqPart, 10, 64)
	if err != nil {
		return id{}, fmt.Errorf("stream ID %q: %w", s, err)
	}
	return id{ms, seq}, nil
}

func (a id) String() string {
	return strconv.FormatUint(a.ms, 10) + "-" + strconv.FormatUint(a.seq, 10)
}

func (a id) less(b id) bool {
	return a.ms < b.ms || (a.ms == b.ms && a.seq < b.seq)
}

func minID(a, b id) id {
	if b.less(a) {
		return b
	}
	return a
}

func maxOf(a, b id) id {
	if a.less(b) {
		return b
	}
	return a
}

// next returns the smallest ID above a; ok is false for maxID, which has none.
func (a id) next() (id, bool) {
	switch {
	case a.seq < math.MaxUint64:
		return id{a.ms, a.seq + 1}, true
	case a.ms < math.MaxUint64:
		return id{a.ms + 1, 0}, true
	}
	return a, false
}

// prev returns the largest ID below a; ok is false for 0-0.
func (a id) prev() (id, bool) {
	switch {
	case a.seq > 0:
		return id{a.ms, a.seq - 1}, true
	case a.ms > 0:
		return id{a.ms - 1, math.MaxUint64}, true
	}
	return a, false
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
