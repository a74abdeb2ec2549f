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

// parseIDBytes is parseID on the bytes of a reply, without making a string of them.
func parseIDBytes(b []byte) (id, error) {
	msPart, seqPart, ok := bytes.Cut(b, []byte("-"))
	ms, errMs := strconv.ParseUint(string(msPart), 10, 64)
	seq, errSeq := strconv.ParseUint(string(seqPart), 10, 64)
	if !ok || errMs != nil || errSeq != nil {
		return parseID(string(b)) // says why
	}
	return id{ms, seq}, nil
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
