package redis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/papyrad/papyrad/internal/errs"
)

// entry is one stream entry as XRANGE returns it: its ID and its field-value pairs in order.
// The bytes point into the reply: they are valid only during the call that is handed them.
type entry struct {
	id     id
	fields [][]byte // field, value, field, value, …; nil when the server sent no array
}

// value returns the value of the last field named name, as a map of the fields holds it.
func (e *entry) value(name string) ([]byte, bool) {
	for i := len(e.fields) - 2; i >= 0; i -= 2 {
		if string(e.fields[i]) == name {
			return e.fields[i+1], true
		}
	}
	return nil, false
}

// json returns the entry's fields as one JSON object, keys sorted, a repeated field's last
// value kept ("null" when it has none): how a non-record without a data field is quarantined.
func (e *entry) json() []byte {
	var m map[string]string
	if e.fields != nil {
		m = make(map[string]string, len(e.fields)/2)
		for i := 0; i+1 < len(e.fields); i += 2 {
			m[string(e.fields[i])] = string(e.fields[i+1])
		}
	}
	b, _ := json.Marshal(m)
	return b
}

// xrange reads at most count entries of key from start to end, both included (XRANGE key
// start end COUNT count), and calls each for every one in order. It returns how many there
// were, the last one's ID and how long the command took, from sending it to having its reply.
//
// The reply is taken as raw RESP into memory the run reuses, and decoded here: go-redis's
// decoding, a map and strings for every entry, took half of a run's CPU time, time in which
// the server's other clients waited for a CPU on a small machine. Whatever this path does not
// take (an error reply, a connection that failed, a reply it cannot decode) goes to go-redis's
// own XRANGE, which retries and judges as for every other command.
func (r *run) xrange(ctx context.Context, key, start, end string, count int64, each func(*entry) error) (int64, id, time.Duration, error) {
	began := time.Now()
	r.reply.b = r.reply.b[:0]
	_, err := r.c.DoRawWriteTo(ctx, &r.reply, "xrange", key, start, end, "count", count).Result()
	took := time.Since(began)
	if ctx.Err() != nil {
		return 0, id{}, took, ctx.Err()
	}
	if err != nil || r.page.decode(r.reply.b) != nil {
		return r.xrangeDecoded(ctx, key, start, end, count, each)
	}
	entries := r.page.entries
	for i := range entries {
		if err := each(&entries[i]); err != nil {
			return 0, id{}, took, err
		}
	}
	if len(entries) == 0 {
		return 0, id{}, took, nil
	}
	return int64(len(entries)), entries[len(entries)-1].id, took, nil
}

// xrangeDecoded is xrange through go-redis's own XRANGE.
func (r *run) xrangeDecoded(ctx context.Context, key, start, end string, count int64, each func(*entry) error) (int64, id, time.Duration, error) {
	began := time.Now()
	msgs, err := r.c.XRangeN(ctx, key, start, end, count).Result()
	took := time.Since(began)
	if err != nil {
		return 0, id{}, took, err
	}
	var e entry
	for _, m := range msgs {
		if e.id, err = parseID(m.ID); err != nil {
			return 0, id{}, took, err
		}
		e.fields = nil
		if m.Values != nil {
			e.fields = make([][]byte, 0, 2*len(m.Values))
			for k, v := range m.Values {
				s, _ := v.(string)
				e.fields = append(e.fields, []byte(k), []byte(s))
			}
		}
		if err := each(&e); err != nil {
			return 0, id{}, took, err
		}
	}
	return int64(len(msgs)), e.id, took, nil
}

// page is an XRANGE reply decoded: its entries, whose fields share one slice. Its memory
// serves every page of a run.
type page struct {
	entries []entry
	fields  [][]byte
	spans   [][2]int // where each entry's fields are in fields; {-1, -1}: a null array
}

// decode decodes the RESP2 reply of an XRANGE, b, into p; an error says what in b is not
// such a reply. Entries and fields point into b.
func (p *page) decode(b []byte) error {
	d := respReader{b: b}
	n, null, err := d.arrayLen()
	if err != nil {
		return err
	}
	if null {
		return fmt.Errorf("a null array for the reply: %w", errs.ErrProtocol)
	}
	p.entries, p.fields, p.spans = p.entries[:0], p.fields[:0], p.spans[:0]
	for i := range n {
		from := len(p.fields)
		x, null, err := d.entry(&p.fields)
		if err != nil {
			return fmt.Errorf("entry %d of %d: %w", i+1, n, err)
		}
		span := [2]int{from, len(p.fields)}
		if null {
			span = [2]int{-1, -1}
		}
		p.entries = append(p.entries, entry{id: x})
		p.spans = append(p.spans, span)
	}
	if d.i != len(b) {
		return fmt.Errorf("%d bytes after the reply: %w", len(b)-d.i, errs.ErrProtocol)
	}
	// Only now: p.fields may have moved as it grew.
	for i, sp := range p.spans {
		if sp[0] >= 0 {
			f := p.fields[sp[0]:sp[1]:sp[1]]
			if f == nil {
				f = [][]byte{} // no fields, but an array
			}
			p.entries[i].fields = f
		}
	}
	return nil
}

// respReader reads RESP2 from b[i] on.
type respReader struct {
	b []byte
	i int
}

// entry decodes one entry: an array of its ID and the array of its fields and values, which
// it appends to fields, or a null array (null is then set).
func (d *respReader) entry(fields *[][]byte) (x id, null bool, err error) {
	n, null, err := d.arrayLen()
	if err != nil {
		return id{}, false, err
	}
	if null || n != 2 {
		return id{}, false, fmt.Errorf("an entry of %d elements, want 2: %w", n, errs.ErrProtocol)
	}
	raw, err := d.str()
	if err != nil {
		return id{}, false, err
	}
	if x, err = parseIDBytes(raw); err != nil {
		return id{}, false, errs.Mark(err, errs.ErrProtocol)
	}
	m, null, err := d.arrayLen()
	if err != nil || null {
		return x, null, err
	}
	if m%2 != 0 {
		return id{}, false, fmt.Errorf("entry %s: %d fields and values: %w", x, m, errs.ErrProtocol)
	}
	for range m {
		s, err := d.str()
		if err != nil {
			return id{}, false, fmt.Errorf("entry %s: %w", x, err)
		}
		*fields = append(*fields, s)
	}
	return x, false, nil
}

// line returns the header line at d.i, without its CRLF, and moves past it.
func (d *respReader) line() ([]byte, error) {
	j := bytes.Index(d.b[d.i:], []byte("\r\n"))
	if j < 1 {
		return nil, fmt.Errorf("no reply line at byte %d: %w", d.i, errs.ErrProtocol)
	}
	l := d.b[d.i : d.i+j]
	d.i += j + 2
	return l, nil
}

// arrayLen decodes an array's header: its length, or null for "*-1".
func (d *respReader) arrayLen() (n int, null bool, err error) {
	l, err := d.line()
	if err != nil {
		return 0, false, err
	}
	if l[0] != '*' {
		return 0, false, fmt.Errorf("%q where an array starts: %w", truncate(l), errs.ErrProtocol)
	}
	if string(l[1:]) == "-1" {
		return 0, true, nil
	}
	n, ok := length(l[1:], len(d.b)-d.i)
	if !ok {
		return 0, false, fmt.Errorf("array length %q: %w", truncate(l[1:]), errs.ErrProtocol)
	}
	return n, false, nil
}

// str decodes a bulk string.
func (d *respReader) str() ([]byte, error) {
	l, err := d.line()
	if err != nil {
		return nil, err
	}
	if l[0] != '$' {
		return nil, fmt.Errorf("%q where a string starts: %w", truncate(l), errs.ErrProtocol)
	}
	n, ok := length(l[1:], len(d.b)-d.i-2)
	if !ok {
		return nil, fmt.Errorf("string length %q at byte %d of %d: %w", truncate(l[1:]), d.i, len(d.b), errs.ErrProtocol)
	}
	if d.b[d.i+n] != '\r' || d.b[d.i+n+1] != '\n' {
		return nil, fmt.Errorf("a string of %d bytes not followed by CRLF: %w", n, errs.ErrProtocol)
	}
	s := d.b[d.i : d.i+n : d.i+n]
	d.i += n + 2
	return s, nil
}

// length parses a RESP length, which must be at most limit (what is left of the reply: an
// array holds at least one byte for each element).
func length(b []byte, limit int) (int, bool) {
	n, err := strconv.Atoi(string(b))
	if err != nil || n < 0 || n > limit {
		return 0, false
	}
	return n, true
}

// truncate shortens what an error quotes of a reply.
func truncate(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// replyBuffer collects a raw reply, in memory that serves every reply of a run.
type replyBuffer struct{ b []byte }

func (w *replyBuffer) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// ReadFrom reads r to its end into the buffer. go-redis hands a bulk string over as a
// LimitedReader of its exact length: room is made for all of it at once.
func (w *replyBuffer) ReadFrom(r io.Reader) (int64, error) {
	if lr, ok := r.(*io.LimitedReader); ok && lr.N > 0 && lr.N < 1<<30 {
		w.b = slices.Grow(w.b, int(lr.N))
	}
	var n int64
	for {
		if len(w.b) == cap(w.b) {
			w.b = slices.Grow(w.b, 512)
		}
		m, err := r.Read(w.b[len(w.b):cap(w.b)])
		w.b = w.b[:len(w.b)+m]
		n += int64(m)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
