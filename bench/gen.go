// Package bench holds papyrad's end-to-end benchmarks (make bench): they generate stores in
// Papyra's format, run the real binary on them and report wall time and peak RSS against a
// baseline measured in the same run.
package bench

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
)

var (
	eventTypes = []string{"ActorStarted", "ActorStopped", "ActorCrashed", "ActorRestarted"}
	reasons    = []string{`"supervisor restart"`, `"it's \"quoted\""`, `"naïve café ☕"`, `null`}
	ratios     = []string{"0.1", "2.0", "1e-05", "123456789.125", "1e+16"}
)

// WriteStore writes n records in Papyra's JsonFilePersistence format (json.dumps with
// ensure_ascii=False, one per line, about 255 bytes each): events, audits and dead letters, in
// time order from start, step seconds apart.
func WriteStore(path string, n int, start, step float64, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	buf := make([]byte, 0, 512)
	for i := 0; i < n; i++ {
		ts := strconv.FormatFloat(start+float64(i)*step+rng.Float64()*step/2, 'f', -1, 64)
		buf = buf[:0]
		switch k := rng.IntN(10); {
		case k < 7:
			buf = fmt.Appendf(buf, `{"kind": "event", "system_id": "prod-eu-1", "actor_address": "actor://orders/worker-%d", "event_type": "%s", "payload": {"reason": %s, "attempt": %d, "ratio": %s, "order_id": "ord-%08d"}, "timestamp": %s}`,
				rng.IntN(64), eventTypes[rng.IntN(4)], reasons[rng.IntN(4)], rng.IntN(5), ratios[rng.IntN(5)], i, ts)
		case k < 9:
			buf = fmt.Appendf(buf, `{"kind": "audit", "system_id": "prod-eu-1", "timestamp": %s, "total_actors": 512, "alive_actors": %d, "stopping_actors": 1, "restarting_actors": 1, "registry_size": 40, "registry_orphans": [], "registry_dead": ["x"], "dead_letters_count": %d}`,
				ts, 500+rng.IntN(12), rng.IntN(100))
		default:
			buf = fmt.Appendf(buf, `{"kind": "dead_letter", "system_id": "prod-eu-1", "target": "actor://payments/worker-%d", "message_type": "PaymentRequest", "payload": {"amount": %d.25, "currency": "EUR", "ok": false, "request": "req-%08d"}, "timestamp": %s}`,
				rng.IntN(64), rng.IntN(1000), i, ts)
		}
		buf = append(buf, '\n')
		if _, err := w.Write(buf); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
