package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/papyrad/papyrad/internal/testutil/redisserver"
)

const (
	redisEntries = 2_000_000
	redisExpired = 1_500_000
	redisKey     = "papyra:local:events"
)

// BenchmarkRedisTrim compacts an events stream of 2M entries (about 250 bytes of data each)
// whose oldest 1.5M are expired, on a redis-server on a unix socket, while a client sends PING
// every millisecond and records each round trip. The same trim done as one exact XTRIM, on the
// same stream loaded again, is the reference, measured in the same run. The server's slow log
// gives the longest command as the server saw it, apart from the clients' scheduling.
// Target: the worst round trip during papyrad's run at most 2 ms and at most 1/20 of the one
// seen during the single XTRIM (x-single at most 0.05).
//
// A machine whose CPUs are all busy delays a waking client by itself, whatever keeps them busy
// and at whatever priority. So the pinger also runs, for as long as papyrad ran, beside one
// busy loop per CPU started with papyrad's prefix and no Redis work at all: x-cpu-load is
// papyrad's worst round trip over that one, the part a client would notice of papyrad's
// commands rather than of a busy machine. And it runs as long again with nothing else running:
// idle-worst-rtt-ms is the machine's own worst, below which no run can bring a client's.
//
// papyrad runs twice: at the default priority, and as the systemd units run it (nice 10,
// SCHED_BATCH). On a small machine where papyrad and redis-server share the CPUs, the first
// also measures how much papyrad's own CPU use (parsing every entry; papyrad-cpu-s, its user
// and system time) takes from the server.
func BenchmarkRedisTrim(b *testing.B) {
	for _, prio := range []struct {
		name   string
		prefix []string
	}{
		{"priority=default", nil},
		{"priority=deployed", []string{"chrt", "--batch", "0", "nice", "-n", "10"}},
	} {
		b.Run(prio.name, func(b *testing.B) {
			if len(prio.prefix) > 0 {
				if _, err := exec.LookPath(prio.prefix[0]); err != nil {
					b.Skipf("%s: %v", prio.prefix[0], err)
				}
			}
			benchRedisTrim(b, prio.prefix)
		})
	}
}

func benchRedisTrim(b *testing.B, prefix []string) {
	srv := redisserver.Start(b)
	opt, err := goredis.ParseURL(srv.URL(0))
	if err != nil {
		b.Fatal(err)
	}
	c := goredis.NewClient(opt)
	defer c.Close()
	ctx := context.Background()
	state := filepath.Join(workDir, "redis-state")

	// The slow log records every command that ran longer than 100µs on the server: the
	// server's own view of the stalls, without the clients' scheduling noise.
	if err := c.ConfigSet(ctx, "slowlog-log-slower-than", "100").Err(); err != nil {
		b.Fatal(err)
	}
	c.ConfigSet(ctx, "slowlog-max-len", "100000")
	var wall, cpu, single time.Duration
	var worst, p99, singleWorst, worstCmd, worstTrim, singleCmd, loadWorst, idleWorst time.Duration
	var slowestCmd string
	var commands int64
	for i := 0; i < b.N; i++ {
		firstKept := loadRedis(b, c)
		if err := c.ConfigResetStat(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		c.SlowLogReset(ctx)
		p := startPinger(b, srv.Socket())
		r := runPrefixed(b, prefix, "compact", "--backend", "redis", "--redis-url", srv.URL(0), "--max-age", "1d", "--json", "--state-dir", state)
		rtts := p.stop()
		commands += papyradCommands(b, c)
		d, name, trim := slowest(b, c)
		if d > worstCmd {
			worstCmd, slowestCmd = d, name
		}
		worstTrim = max(worstTrim, trim)
		wall += r.wall
		cpu += r.cpu
		worst = max(worst, slices.Max(rtts))
		p99 = max(p99, percentile(rtts, 0.99))
		var out struct {
			Stores []struct {
				RecordsDropped int64 `json:"records_dropped"`
			} `json:"stores"`
		}
		if err := json.Unmarshal(r.out, &out); err != nil || len(out.Stores) != 1 || out.Stores[0].RecordsDropped != redisExpired {
			b.Fatalf("papyrad did not drop %d records: %v\n%s", redisExpired, err, r.out)
		}
		if head, _ := c.XRangeN(ctx, redisKey, "-", "+", 1).Result(); len(head) != 1 || head[0].ID != firstKept {
			b.Fatalf("head after papyrad: %v, want %s", head, firstKept)
		}

		// The machine's own delay under CPU load, for as long as papyrad ran.
		p = startPinger(b, srv.Socket())
		busy(b, prefix, r.wall)
		loadWorst = max(loadWorst, slices.Max(p.stop()))
		// And with nothing running.
		p = startPinger(b, srv.Socket())
		time.Sleep(r.wall)
		idleWorst = max(idleWorst, slices.Max(p.stop()))

		// The reference: the same trim as one exact XTRIM.
		firstKept = loadRedis(b, c)
		c.SlowLogReset(ctx)
		p = startPinger(b, srv.Socket())
		start := time.Now()
		n, err := c.XTrimMinID(ctx, redisKey, firstKept).Result()
		single += time.Since(start)
		rtts = p.stop()
		if err != nil || n != redisExpired {
			b.Fatalf("XTRIM: %d, %v", n, err)
		}
		singleWorst = max(singleWorst, slices.Max(rtts))
		d, _, _ = slowest(b, c)
		singleCmd = max(singleCmd, d)
	}
	b.Logf("slowest command during papyrad's runs: %s", slowestCmd)
	b.ReportMetric(wall.Seconds()/float64(b.N), "papyrad-s")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "papyrad-cpu-s")
	b.ReportMetric(float64(commands)/float64(b.N), "commands")
	b.ReportMetric(ms(worst), "worst-rtt-ms")
	b.ReportMetric(ms(p99), "p99-rtt-ms")
	b.ReportMetric(single.Seconds()*1000/float64(b.N), "single-xtrim-ms")
	b.ReportMetric(ms(singleWorst), "single-xtrim-worst-rtt-ms")
	b.ReportMetric(float64(worst)/float64(singleWorst), "x-single")
	b.ReportMetric(ms(loadWorst), "cpu-load-worst-rtt-ms")
	b.ReportMetric(float64(worst)/float64(loadWorst), "x-cpu-load")
	b.ReportMetric(ms(idleWorst), "idle-worst-rtt-ms")
	b.ReportMetric(ms(worstCmd), "worst-cmd-ms")
	b.ReportMetric(ms(worstTrim), "worst-trim-step-ms")
	b.ReportMetric(ms(singleCmd), "single-xtrim-cmd-ms")
}

// busy keeps every CPU busy for d with one shell busy loop each, started through prefix.
func busy(b *testing.B, prefix []string, d time.Duration) {
	b.Helper()
	var cmds []*exec.Cmd
	for range runtime.NumCPU() {
		argv := append(append([]string{}, prefix...), "sh", "-c", "while :; do :; done")
		cmd := exec.Command(argv[0], argv[1:]...)
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	time.Sleep(d)
	for _, cmd := range cmds {
		cmd.Process.Kill()
		cmd.Wait()
	}
}

// runPrefixed runs papyrad through a command prefix such as nice.
func runPrefixed(b *testing.B, prefix []string, args ...string) result {
	b.Helper()
	argv := append(append(append([]string{}, prefix...), papyrad), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		b.Fatalf("%v: %v\n%s", argv, err, out)
	}
	// The prefix's commands exec papyrad in their own process: its usage is papyrad's.
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return result{wall: wall, cpu: cpu, out: out}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func percentile(d []time.Duration, q float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

// loadRedis replaces the stream with redisEntries Papyra event records, the first redisExpired
// two days old and the rest from the last hour, and returns the ID of the first fresh one.
func loadRedis(b *testing.B, c *goredis.Client) string {
	b.Helper()
	ctx := context.Background()
	if err := c.FlushAll(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	now := float64(time.Now().Unix())
	var firstKept string
	const batch = 2000
	for start := 0; start < redisEntries; start += batch {
		cmds := make([]*goredis.StringCmd, 0, batch)
		_, err := c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i := start; i < start+batch; i++ {
				ts := now - 2*86400 + float64(i)/1000
				if i >= redisExpired {
					ts = now - 3600 + float64(i-redisExpired)/1000
				}
				cmds = append(cmds, p.XAdd(ctx, &goredis.XAddArgs{Stream: redisKey, Values: []any{"data", redisRecord(i, ts)}}))
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if start <= redisExpired && redisExpired < start+batch {
			firstKept = cmds[redisExpired-start].Val()
		}
	}
	return firstKept
}

func redisRecord(i int, ts float64) string {
	return fmt.Sprintf(`{"kind": "event", "system_id": "prod-eu-1", "actor_address": "actor://orders/worker-%d", "event_type": "%s", "payload": {"reason": "supervisor restart", "attempt": %d, "ratio": 123456789.125, "order_id": "ord-%08d"}, "timestamp": %s}`,
		i%64, eventTypes[i%4], i%5, i, strconv.FormatFloat(ts, 'f', 3, 64))
}

// slowest returns the longest command in the server's slow log, and what it was, and the
// longest XTRIM.
func slowest(b *testing.B, c *goredis.Client) (time.Duration, string, time.Duration) {
	b.Helper()
	logs, err := c.SlowLogGet(context.Background(), -1).Result()
	if err != nil {
		b.Fatal(err)
	}
	var d, trim time.Duration
	var name string
	for _, l := range logs {
		if l.Duration > d {
			d, name = l.Duration, strings.Join(l.Args, " ")
		}
		if strings.EqualFold(l.Args[0], "xtrim") {
			trim = max(trim, l.Duration)
		}
	}
	return d, name, trim
}

// papyradCommands counts the commands the server ran since CONFIG RESETSTAT, apart from the
// pinger's PINGs and this INFO.
func papyradCommands(b *testing.B, c *goredis.Client) int64 {
	b.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") || name == "cmdstat_ping" {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				k, _ := strconv.ParseInt(v, 10, 64)
				n += k
			}
		}
	}
	return n
}

// pinger sends PING every millisecond on its own connection and records each round trip.
type pinger struct {
	done chan struct{}
	wg   sync.WaitGroup
	rtts []time.Duration
	err  error
}

func startPinger(b *testing.B, sock string) *pinger {
	b.Helper()
	conn, err := net.Dial("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	p := &pinger{done: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer conn.Close()
		r := bufio.NewReader(conn)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-tick.C:
			}
			start := time.Now()
			if _, err := conn.Write([]byte("PING\r\n")); err != nil {
				p.err = err
				return
			}
			if _, err := r.ReadString('\n'); err != nil {
				p.err = err
				return
			}
			p.rtts = append(p.rtts, time.Since(start))
		}
	}()
	// Let it settle before the measured work starts.
	time.Sleep(50 * time.Millisecond)
	return p
}

func (p *pinger) stop() []time.Duration {
	close(p.done)
	p.wg.Wait()
	if p.err != nil || len(p.rtts) == 0 {
		panic(fmt.Sprintf("pinger: %v (%d samples)", p.err, len(p.rtts)))
	}
	return p.rtts
}
