package redis

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/retention"
	"github.com/papyrad/papyrad/internal/testutil/redisserver"
)

// testEntry is an entry as a server sends it: fields nil and null set for a null array.
type testEntry struct {
	id     string
	fields []string
	null   bool
}

// xrangeReply encodes entries as the RESP2 reply of an XRANGE.
func xrangeReply(entries ...testEntry) []byte {
	b := fmt.Appendf(nil, "*%d\r\n", len(entries))
	for _, e := range entries {
		b = fmt.Appendf(b, "*2\r\n$%d\r\n%s\r\n", len(e.id), e.id)
		if e.null {
			b = append(b, "*-1\r\n"...)
			continue
		}
		b = fmt.Appendf(b, "*%d\r\n", len(e.fields))
		for _, f := range e.fields {
			b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(f), f)
		}
	}
	return b
}

// fakeClient returns a client of a server that answers its commands with replies, in turn, over
// in-memory connections, and closes the connection once it has no reply left. served says how
// many commands it has answered.
func fakeClient(t testing.TB, replies ...[]byte) (c *goredis.Client, served func() int) {
	var mu sync.Mutex
	n := 0
	opt := &goredis.Options{
		Protocol: 2, DisableIdentity: true, MaxRetries: -1, PoolSize: 1,
		ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			client, server := net.Pipe()
			go func() {
				defer server.Close()
				rd := bufio.NewReader(server)
				for {
					name, err := readCommand(rd)
					if err != nil {
						return
					}
					if !strings.EqualFold(name, "xrange") {
						// The connection's set-up (HELLO): an old server's answer.
						if _, err := fmt.Fprintf(server, "-ERR unknown command '%s'\r\n", name); err != nil {
							return
						}
						continue
					}
					mu.Lock()
					if n >= len(replies) {
						mu.Unlock()
						return
					}
					reply := replies[n]
					n++
					mu.Unlock()
					if _, err := server.Write(reply); err != nil {
						return
					}
				}
			}()
			return client, nil
		},
	}
	c = goredis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c, func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

// readCommand reads one command (an array of bulk strings) from rd and returns its name.
func readCommand(rd *bufio.Reader) (string, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	n, err := strconv.Atoi(line[1 : len(line)-2])
	if err != nil {
		return "", err
	}
	var name string
	for i := range n {
		if line, err = rd.ReadString('\n'); err != nil {
			return "", err
		}
		size, err := strconv.Atoi(line[1 : len(line)-2])
		if err != nil {
			return "", err
		}
		arg := make([]byte, size+2)
		if _, err := io.ReadFull(rd, arg); err != nil {
			return "", err
		}
		if i == 0 {
			name = string(arg[:size])
		}
	}
	return name, nil
}

// decodedLikeGoRedis reports whether p holds the entries go-redis decoded from the same reply:
// the same IDs, and each entry's fields as its map (a repeated field's last value; nil for
// none).
func decodedLikeGoRedis(p *page, msgs []goredis.XMessage) error {
	if len(msgs) != len(p.entries) {
		return fmt.Errorf("%d entries, go-redis has %d", len(p.entries), len(msgs))
	}
	for i, m := range msgs {
		e := &p.entries[i]
		if x, err := parseID(m.ID); err != nil || x != e.id {
			return fmt.Errorf("entry %d: ID %v, go-redis has %q", i, e.id, m.ID)
		}
		if (e.fields == nil) != (m.Values == nil) {
			return fmt.Errorf("entry %d: fields %q, go-redis has %v", i, e.fields, m.Values)
		}
		want := map[string]string{}
		for i := 0; i+1 < len(e.fields); i += 2 {
			want[string(e.fields[i])] = string(e.fields[i+1])
		}
		if len(want) != len(m.Values) {
			return fmt.Errorf("entry %d: fields %q, go-redis has %v", i, e.fields, m.Values)
		}
		for k, v := range m.Values {
			if s, ok := v.(string); !ok || want[k] != s {
				return fmt.Errorf("entry %d: field %q is %q, go-redis has %v", i, k, want[k], v)
			}
			if got, ok := e.value(k); !ok || string(got) != want[k] {
				return fmt.Errorf("entry %d: value(%q) = %q, %v", i, k, got, ok)
			}
		}
	}
	return nil
}

// goRedisDecode returns the entries go-redis's XRANGE decodes from reply.
func goRedisDecode(t testing.TB, reply []byte) ([]goredis.XMessage, error) {
	c, _ := fakeClient(t, reply)
	return c.XRangeN(context.Background(), "k", "-", "+", 10).Result()
}

// goodReplies are replies a server may send; badReplies are not XRANGE replies the decoder
// takes (go-redis takes some of them).
var (
	goodReplies = [][]byte{
		xrangeReply(),
		xrangeReply(testEntry{id: "1-0", fields: []string{"data", `{"timestamp": 1}`}}),
		xrangeReply(
			testEntry{id: "1700000000000-0", fields: []string{"data", "a\r\nb", "other", ""}},
			testEntry{id: "1700000000000-1", null: true},
			testEntry{id: "1700000000001-0", fields: []string{}},
			testEntry{id: "18446744073709551615-18446744073709551615", fields: []string{"data", "x", "data", "y"}},
		),
	}
	badReplies = [][]byte{
		[]byte("*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$4\r\ndata\r\n$-1\r\n"),  // a null value
		[]byte("*1\r\n*2\r\n+1-0\r\n*0\r\n"),                            // the ID as a simple string
		[]byte("*1\r\n*2\r\n$3\r\n1-0\r\n*1\r\n$4\r\ndata\r\n"),         // a field without its value
		[]byte("*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$4\r\ndata\r\n$1\r\nxx"), // a string longer than said
		[]byte("*-1\r\n"), []byte("-ERR wrong\r\n"), []byte("*2\r\n*2\r\n$3\r\n1-0\r\n*0\r\n"),
		[]byte("*1\r\n*2\r\n$3\r\n1-x\r\n*0\r\n"), []byte("*1\r\n*2\r\n$3\r\n1-0\r\n*0\r\n+OK\r\n"),
	}
)

// TestPageDecode: replies encoded as a server sends them decode to their entries, exactly as
// go-redis decodes them; anything else is a protocol error.
func TestPageDecode(t *testing.T) {
	var p page
	for _, reply := range goodReplies {
		if err := p.decode(reply); err != nil {
			t.Fatalf("%q: %v", reply, err)
		}
		msgs, err := goRedisDecode(t, reply)
		if err != nil {
			t.Fatalf("go-redis on %q: %v", reply, err)
		}
		if err := decodedLikeGoRedis(&p, msgs); err != nil {
			t.Fatalf("%q: %v", reply, err)
		}
	}
	if p.entries[1].fields != nil || p.entries[2].fields == nil || len(p.entries[2].fields) != 0 {
		t.Errorf("a null field array and an empty one: %q and %q", p.entries[1].fields, p.entries[2].fields)
	}
	if v, _ := p.entries[3].value("data"); string(v) != "y" {
		t.Errorf("a repeated field's value is %q, want the last one", v)
	}
	for _, reply := range badReplies {
		if err := p.decode(reply); !errors.Is(err, errs.ErrProtocol) {
			t.Errorf("%q: %v, want a protocol error", reply, err)
		}
	}
}

// FuzzPageDecode: whatever the decoder takes, go-redis decodes to the same entries; whatever it
// does not take, it says is not the protocol (xrange then hands the reply to go-redis).
func FuzzPageDecode(f *testing.F) {
	for _, s := range append(slices.Clone(goodReplies), badReplies...) {
		f.Add(s)
	}
	f.Add([]byte("*+1\r\n*2\r\n$3\r\n1-0\r\n*0\r\n"))
	f.Fuzz(func(t *testing.T, reply []byte) {
		var p page
		if err := p.decode(reply); err != nil {
			if !errors.Is(err, errs.ErrProtocol) {
				t.Fatalf("%q: %v is not a protocol error", reply, err)
			}
			return
		}
		msgs, err := goRedisDecode(t, reply)
		if err != nil {
			t.Fatalf("%q decoded, but go-redis says %v", reply, err)
		}
		if err := decodedLikeGoRedis(&p, msgs); err != nil {
			t.Fatalf("%q: %v", reply, err)
		}
	})
}

// TestXRangeFallback: a reply the raw path does not take is read again through go-redis's
// XRANGE and decided as go-redis decodes it; an error reply is go-redis's error.
func TestXRangeFallback(t *testing.T) {
	// A null value: go-redis makes the entry's fields nil, so it has no data field.
	odd := []byte("*1\r\n*2\r\n$3\r\n5-1\r\n*2\r\n$4\r\ndata\r\n$-1\r\n")
	c, served := fakeClient(t, odd, odd)
	r := &run{c: c}
	var got []entry
	n, last, _, err := r.xrange(context.Background(), "k", "-", "+", 10, func(e *entry) error {
		got = append(got, *e)
		return nil
	})
	if err != nil || n != 1 || last != (id{5, 1}) || len(got) != 1 || got[0].fields != nil {
		t.Fatalf("xrange: %d entries up to %v, %v: %+v", n, last, err, got)
	}
	if served() != 2 {
		t.Errorf("%d commands, want the raw one and go-redis's", served())
	}
	if l, _, _ := entryLine(nil, &got[0], false); l.Kind != retention.NonRecord {
		t.Errorf("the entry is %+v, want a non-record", l)
	}

	c, _ = fakeClient(t, []byte("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
		[]byte("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"))
	r = &run{c: c}
	if _, _, _, err := r.xrange(context.Background(), "k", "-", "+", 10, func(*entry) error { return nil }); err == nil ||
		!errors.As(err, new(goredis.Error)) {
		t.Fatalf("error reply: %v, want go-redis's error", err)
	}
}

// TestXRangeRealServer: a real server's replies are taken by the raw path (no second command),
// entries exactly as go-redis's XRANGE gives them, and a run whose connections are killed
// while it reads still completes with the right result.
func TestXRangeRealServer(t *testing.T) {
	srv := redisserver.Start(t)
	c := client(t, srv)
	ctx := context.Background()
	data := append(records(3000, old), `{"a": "x\r\ny"}`, "", "not json", rec(1, float64(time.Now().Unix())))
	xadd(t, c, evKey, nil, data)
	if err := c.XAdd(ctx, &goredis.XAddArgs{Stream: evKey, Values: []any{"data", "1", "payload", "two", "data", "3"}}).Err(); err != nil {
		t.Fatal(err)
	}
	raw, err := c.DoRaw(ctx, "xrange", evKey, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var p page
	if err := p.decode(raw); err != nil {
		t.Fatalf("a real reply: %v", err)
	}
	msgs, err := c.XRange(ctx, evKey, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := decodedLikeGoRedis(&p, msgs); err != nil {
		t.Fatal(err)
	}

	before, err := c.InfoMap(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(t, srv, retention.Policy{MaxAge: time.Hour}, func(c *Config) { c.ReadCount = 100 })
	pages := 0
	s.hook = func(point, key string) {
		if point == "page" && key == evKey {
			if pages++; pages == 5 {
				// Every connection but the test's: papyrad's goes in the middle of reading.
				if err := c.ClientKillByFilter(ctx, "TYPE", "normal").Err(); err != nil {
					t.Error(err)
				}
			}
		}
	}
	rep, err := s.Compact(ctx, backends.Options{DryRun: true})
	if err != nil {
		t.Fatalf("run with its connection killed: %v", err)
	}
	if rep.RecordsBefore != 3002 || rep.RecordsDropped != 3001 || rep.RecordsQuarantined != 2 {
		t.Errorf("report: %d records, %d dropped, %d quarantined; want 3002, 3001, 2",
			rep.RecordsBefore, rep.RecordsDropped, rep.RecordsQuarantined)
	}
	after, err := c.InfoMap(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	if calls(after)-calls(before) > int64(pages)+1 {
		t.Errorf("%d XRANGE calls for %d pages: the raw path did not take the real replies", calls(after)-calls(before), pages)
	}
}

// calls returns how many XRANGE commands the server has run, from INFO commandstats.
func calls(info map[string]map[string]string) int64 {
	v := info["Commandstats"]["cmdstat_xrange"]
	var n int64
	fmt.Sscanf(v, "calls=%d", &n)
	return n
}
