package testutil

import (
	"bytes"
	"strconv"
	"time"
)

// OldEpoch is 2001-01-01T00:00:00Z: a record stamped near it is expired under any max_age a
// test uses, as in the Papyra fixtures.
const OldEpoch = 978307200.0

// Key identifies one record a test wrote: which writer, and its sequence number there.
type Key struct {
	Writer string
	Seq    int64
}

func (k Key) String() string { return k.Writer + "#" + strconv.FormatInt(k.Seq, 10) }

// Now is a fresh timestamp as Papyra writes it: unix seconds as a float.
func Now() float64 { return float64(time.Now().UnixMicro()) / 1e6 }

// Old returns an expired timestamp, i seconds after OldEpoch.
func Old(i int64) float64 { return OldEpoch + float64(i) }

// The fixed parts of a record. Python's json.dumps separates items with ", " and keys with ": ".
const (
	recHead    = `{"kind": "event", "system_id": "papyrad-test", "event_type": "Appended", "payload": {"note": "`
	recWriter  = `", "writer": "`
	recSeq     = `", "seq": `
	recTS      = `}, "timestamp": `
	recTail    = "}"
	defaultPad = "caf\u00e9 \u2615 appended by a test writer"
)

// Record returns one Papyra-style event record for k, stamped ts, with its "\n". The writer
// name must be plain ASCII without quotes or backslashes.
func Record(k Key, ts float64) []byte {
	return AppendRecord(nil, k, ts)
}

// AppendRecord appends Record(k, ts) to b.
func AppendRecord(b []byte, k Key, ts float64) []byte {
	b = append(b, recHead...)
	b = append(b, defaultPad...)
	b = append(b, recWriter...)
	b = append(b, k.Writer...)
	b = append(b, recSeq...)
	b = strconv.AppendInt(b, k.Seq, 10)
	b = append(b, recTS...)
	b = strconv.AppendFloat(b, ts, 'f', 6, 64)
	b = append(b, recTail...)
	return append(b, '\n')
}

// ParseRecord reads back a line written by Record (without its terminator). It accepts
// exactly that shape and nothing else, so a torn, merged or altered line is reported as not
// ok: the tests use it to prove that no line was corrupted.
func ParseRecord(line []byte) (k Key, ts float64, ok bool) {
	rest, found := bytes.CutPrefix(line, []byte(recHead+defaultPad+recWriter))
	if !found {
		return k, 0, false
	}
	i := bytes.IndexByte(rest, '"')
	if i <= 0 {
		return k, 0, false
	}
	writer := rest[:i]
	rest, found = bytes.CutPrefix(rest[i:], []byte(recSeq))
	if !found {
		return k, 0, false
	}
	i = bytes.IndexByte(rest, '}')
	if i <= 0 {
		return k, 0, false
	}
	seq, err := strconv.ParseInt(string(rest[:i]), 10, 64)
	if err != nil || seq < 0 {
		return k, 0, false
	}
	rest, found = bytes.CutPrefix(rest[i:], []byte(recTS))
	if !found {
		return k, 0, false
	}
	num, found := bytes.CutSuffix(rest, []byte(recTail))
	if !found {
		return k, 0, false
	}
	ts, err = strconv.ParseFloat(string(num), 64)
	if err != nil {
		return k, 0, false
	}
	return Key{Writer: string(writer), Seq: seq}, ts, true
}
