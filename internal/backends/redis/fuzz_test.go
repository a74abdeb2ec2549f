package redis

import (
	"bytes"
	"encoding/json"
	"math"
	"net/url"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	goredis "github.com/redis/go-redis/v9"

	"github.com/papyrad/papyrad/internal/pyjson"
	"github.com/papyrad/papyrad/internal/retention"
)

// FuzzParseID: an ID the parser accepts prints back to itself (leading zeros aside) and parses
// again to the same ID; its neighbours are ordered around it; anything else is an error that
// quotes the ID. parseIDBytes decides as parseID does.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"0-0", "0-1", "1700000000000-12", "18446744073709551615-18446744073709551615",
		"18446744073709551616-0", "1-", "-1", "1", "", "01-02", "+1-2", "1-2-3", " 1-2", "1_0-2", "0x10-1",
		"000000000000000000001-0", "18446744073709551615-18446744073709551616"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x, err := parseID(s)
		if y, errB := parseIDBytes([]byte(s)); y != x || (errB == nil) != (err == nil) {
			t.Fatalf("parseIDBytes(%q) = %v, %v; parseID gives %v, %v", s, y, errB, x, err)
		}
		if err != nil {
			if !strings.Contains(err.Error(), "stream ID") {
				t.Fatalf("parseID(%q): error %q does not say it is about a stream ID", s, err)
			}
			return
		}
		back, err := parseID(x.String())
		if err != nil || back != x {
			t.Fatalf("parseID(%q) = %v; its String %q parses to %v, %v", s, x, x.String(), back, err)
		}
		ms, seq, _ := strings.Cut(s, "-")
		if canonical(ms) && canonical(seq) && x.String() != s {
			t.Fatalf("parseID(%q).String() = %q", s, x.String())
		}
		if n, ok := x.next(); ok {
			if !x.less(n) {
				t.Fatalf("next(%v) = %v is not above it", x, n)
			}
			if p, ok := n.prev(); !ok || p != x {
				t.Fatalf("prev(next(%v)) = %v, %v", x, p, ok)
			}
		} else if x != maxID {
			t.Fatalf("%v has no next", x)
		}
		if p, ok := x.prev(); ok {
			if !p.less(x) || minID(p, x) != p || maxOf(p, x) != x {
				t.Fatalf("prev(%v) = %v is not below it", x, p)
			}
		} else if x != (id{}) {
			t.Fatalf("%v has no prev", x)
		}
	})
}

// FuzzEntryLine checks the classification of a stream entry's fields against what Papyra's
// reader (json.loads(fields["data"]), a dict) accepts: an entry whose data is valid UTF-8 JSON
// holding an object is a record; a record's data is an object once JSON whitespace is
// trimmed; a non-record has a reason and keeps its bytes for quarantine; the stored size is
// the data field's length; asking for the repr size changes nothing else.
func FuzzEntryLine(f *testing.F) {
	for _, s := range []string{
		`{"kind": "event", "timestamp": 1700000000.5, "payload": {"a": [1, 2.5e3, null]}}`,
		" \t\r\n{\"a\": 1}\n ", "\v{\"a\": 1}", "{\"a\": 1}\u00a0", `{"a": NaN, "b": -Infinity}`,
		`{"a": 1, "a": 2}`, `{"a": "\ud800"}`, "{\"a\": \"\xff\"}", `[{"a": 1}]`, `"x"`, `{"a": 1`, "", "   ",
		`{"timestamp": 1E400}`, `{"k": 123456789012345678901234567890}`,
	} {
		f.Add(s, true, "", "")
	}
	f.Add(`{"a": 1}`, false, "payload", `{"a": 1}`)
	f.Add(`{"a": 1}`, true, "other", "x")
	f.Fuzz(func(t *testing.T, data string, hasData bool, key, val string) {
		values := map[string]any{}
		if hasData {
			values["data"] = data
		}
		if key != "" && key != "data" {
			values[key] = val
		}
		e := entryOf(values)
		l, raw, size := entryLine(nil, e, true)
		var c pyjson.Classifier // its keys remembered, the entry is decided the same
		entryLine(&c, e, false)
		l0, raw0, size0 := entryLine(&c, e, false)
		if l0.Kind != l.Kind || l0.Reason != l.Reason || l0.Timestamp != l.Timestamp || !bytes.Equal(raw0, raw) || size0 != size {
			t.Fatalf("wantRepr changes the result: %+v vs %+v", l0, l)
		}
		if !hasData {
			if l.Kind != retention.NonRecord || l.Reason == "" || size != 0 {
				t.Fatalf("entry without data: %+v, size %d", l, size)
			}
			var back map[string]any
			if err := json.Unmarshal(raw, &back); err != nil || len(back) != len(values) {
				t.Fatalf("quarantine bytes %q do not hold the entry's fields: %v", raw, err)
			}
			return
		}
		if size != int64(len(data)) || string(raw) != data {
			t.Fatalf("size %d and bytes %q, want the data field (%d bytes)", size, raw, len(data))
		}
		switch l.Kind {
		case retention.Record:
			if !jsonTrimmedObject([]byte(data)) || !utf8.ValidString(data) {
				t.Fatalf("record %q is not a JSON object between JSON whitespace", data)
			}
			if c := pyjson.Classify([]byte(data), true); c.Kind != retention.Record || c.ReprSize != l.ReprSize {
				t.Fatalf("record %q: Classify says %+v", data, c)
			}
			if l.ReprSize <= 0 {
				t.Fatalf("record %q has repr size %d", data, l.ReprSize)
			}
		case retention.NonRecord:
			if l.Reason == "" {
				t.Fatalf("non-record %q without a reason", data)
			}
		default:
			t.Fatalf("entry %q classified %v: an entry is a record or not", data, l.Kind)
		}
		// Strict JSON that holds an object is something json.loads reads as a dict.
		trimmed := strings.Trim(data, " \t\r\n")
		if utf8.ValidString(data) && json.Valid([]byte(data)) && strings.HasPrefix(trimmed, "{") && l.Kind != retention.Record {
			t.Fatalf("%q is a JSON object, classified a non-record: %s", data, l.Reason)
		}
	})
}

// FuzzIDLog: the compact log of a run's entry IDs gives back every ID and size it was given,
// and search agrees with a binary search over the plain list, for IDs in it and between them.
func FuzzIDLog(f *testing.F) {
	f.Add([]byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09"), uint64(1700000000000), uint16(3))
	f.Add(bytes.Repeat([]byte("\x01\x00\x05"), 700), uint64(0), uint16(0))
	f.Add(bytes.Repeat([]byte("\xff\x7f\x00\x10"), 300), uint64(math.MaxUint64-1<<20), uint16(1000))
	f.Fuzz(func(t *testing.T, steps []byte, start uint64, sizeMul uint16) {
		var l idLog
		var ids []id
		var sizes []int64
		x := id{start, 0}
		for i := 0; i+1 < len(steps); i += 2 {
			step, sz := steps[i], steps[i+1]
			next := x
			switch {
			case i == 0: // the first entry is x
			case step%4 == 0: // the next sequence number
				next = id{x.ms, x.seq + 1}
			case step%4 == 1: // a later millisecond
				next = id{x.ms + uint64(step>>2) + 1, uint64(sz % 3)}
			case step%4 == 2: // a jump in the sequence
				next = id{x.ms, x.seq + uint64(step)*uint64(sz) + 1}
			default: // a large jump in time
				next = id{x.ms + uint64(step)<<uint(sz%40) + 1, 0}
			}
			if i > 0 && !x.less(next) {
				break // wrapped around: IDs only grow
			}
			size := int64(sz) * int64(sizeMul)
			l.add(next, size)
			ids = append(ids, next)
			sizes = append(sizes, size)
			x = next
		}
		if l.len() != len(ids) {
			t.Fatalf("len %d, added %d", l.len(), len(ids))
		}
		var before int64
		for i, want := range ids {
			if got := l.at(i); got != want {
				t.Fatalf("at(%d) = %v, want %v", i, got, want)
			}
			if got := l.sizeBefore(i); got != before {
				t.Fatalf("sizeBefore(%d) = %d, want %d", i, got, before)
			}
			before += sizes[i]
			probes := []id{want}
			if p, ok := want.prev(); ok {
				probes = append(probes, p)
			}
			if n, ok := want.next(); ok {
				probes = append(probes, n)
			}
			for _, p := range probes {
				ref := sort.Search(len(ids), func(k int) bool { return !ids[k].less(p) })
				if got := l.search(p); got != ref {
					t.Fatalf("search(%v) = %d, want %d (entry %d is %v)", p, got, ref, i, want)
				}
			}
		}
		if l.sizeBefore(l.len()) != before {
			t.Fatalf("sizeBefore(len) = %d, want %d", l.sizeBefore(l.len()), before)
		}
	})
}

// FuzzRedact: whatever a URL holds, the redacted form never carries a password go-redis would
// send, and quotes no password parameter.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		"redis://127.0.0.1:6379/0", "redis://:hunter2@127.0.0.1:6379/0", "rediss://app:p%40ss%3Aw0rd@cache:6380/0",
		"unix://:hunter2@/run/redis.sock?db=2", "redis://127.0.0.1/0?password=hunter2", "redis://:hun ter2@host:bad port/0",
		"::hunter2@", "redis://a:b@c:d@e/0", "redis://:%zz@h/0", "redis://user@h/0?password=a&password=b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := Redact(s)
		ru, err := url.Parse(r)
		if err != nil {
			if r != "(unparsable URL)" && !strings.HasSuffix(r, "://(unparsable URL)") {
				t.Fatalf("Redact(%q) = %q, which does not parse and is not the unparsable form", s, r)
			}
			return
		}
		if pw, ok := ru.User.Password(); ok && pw != "xxxxx" {
			t.Fatalf("Redact(%q) = %q keeps the password %q", s, r, pw)
		}
		for _, v := range ru.Query()["password"] {
			if v != "xxxxx" {
				t.Fatalf("Redact(%q) = %q keeps a password parameter %q", s, r, v)
			}
		}
		if opt, err := goredis.ParseURL(s); err == nil && opt.Password != "" {
			if pw, _ := ru.User.Password(); pw != "xxxxx" {
				t.Fatalf("go-redis reads password %q from %q, and Redact gives %q", opt.Password, s, r)
			}
		}
	})
}

// canonical reports whether s is a decimal number as strconv prints it.
func canonical(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == "" && (s == "0" || s[0] != '0')
}
