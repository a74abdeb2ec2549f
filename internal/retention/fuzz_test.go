package retention

import (
	"math"
	"slices"
	"testing"
	"time"
)

// FuzzPlanner compares the streaming planner with the reference on stores
// and policies decoded from the fuzzer's bytes.
func FuzzPlanner(f *testing.F) {
	f.Add(uint32(60000), uint8(3), uint16(500), false, []byte("\x00\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0\xb0"))
	f.Add(uint32(0), uint8(0), uint16(40), true, []byte("abcdefghijklmnopqrstuvwxyz"))
	f.Add(uint32(0), uint8(5), uint16(0), false, []byte("\xff\xfe\xfd\x00\x01\x02\x03"))
	f.Add(uint32(1500), uint8(0), uint16(0), false, []byte("\x05\x05\x05\x09\x09\x09"))
	f.Fuzz(func(t *testing.T, maxAgeMs uint32, maxRecords uint8, maxBytes uint16, stored bool, data []byte) {
		p := Policy{
			MaxAge:        time.Duration(maxAgeMs) * time.Millisecond,
			MaxRecords:    int64(maxRecords),
			MaxTotalBytes: int64(maxBytes),
		}
		if stored {
			p.SizeBasis = SizeBasisStored
		}
		cutoff := float64(plannerNow.UnixNano())/1e9 - p.MaxAge.Seconds()
		var lines []refLine
		for i := 0; i+2 < len(data); i += 3 {
			kind, ts, size := data[i], data[i+1], data[i+2]
			var l Class
			switch kind % 16 {
			case 0:
				l.Kind = Blank
			case 1:
				l.Kind = NonRecord
			case 2:
				l.Kind = Record
				l.Timestamp = Timestamp{Kind: TimestampKind(ts % 9)}
				if l.Timestamp.Kind == TimestampFloat {
					l.Timestamp = FloatTimestamp(math.NaN())
				}
			case 3:
				l.Kind = Record
				l.Timestamp = Timestamp{Kind: TimestampInt, bits: uint64(int64(cutoff) + int64(ts%8) - 4)}
			default:
				l.Kind = Record
				l.Timestamp = FloatTimestamp(cutoff + float64(int(ts)-128)/16)
			}
			if l.Kind == Record {
				l.ReprSize = int64(size)
			}
			lines = append(lines, refLine{l, int64(kind>>4) * int64(size) / 4})
		}
		plan := planLines(lines, p, plannerNow)
		wantD, wantC := referencePlan(lines, p, plannerNow)
		if got := decisionsOf(plan); !slices.Equal(got, wantD) {
			t.Fatalf("decisions %v, reference %v", got, wantD)
		}
		if got := plan.Counts(); got != wantC {
			t.Fatalf("counts %+v, reference %+v", got, wantC)
		}
	})
}
