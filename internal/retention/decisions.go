package retention

// decisions holds one Decision per line, in chunks that are never copied. A chunk whose lines
// all have the same decision holds that decision alone: a store's lines come in long runs of
// one decision (records are appended oldest first, so the age rule drops a prefix), and a
// whole set of expired or kept segments then takes a few bytes, not one per line. A slice
// grown line by line would allocate about five times its final size on the way, all of it
// memory the process has not touched before.
type decisions struct {
	chunks []decisionChunk
	n      int
}

// decisionChunk is decisionsPerChunk decisions: same for each, while all is nil.
type decisionChunk struct {
	same Decision
	all  []Decision
}

const (
	chunkBits         = 16
	decisionsPerChunk = 1 << chunkBits
)

func (s *decisions) len() int { return s.n }

func (s *decisions) add(d Decision) {
	i := s.n & (decisionsPerChunk - 1)
	if i == 0 {
		s.chunks = append(s.chunks, decisionChunk{same: d})
	}
	s.n++
	s.chunks[len(s.chunks)-1].set(i, d)
}

func (s *decisions) at(i int) Decision {
	c := &s.chunks[i>>chunkBits]
	if c.all == nil {
		return c.same
	}
	return c.all[i&(decisionsPerChunk-1)]
}

func (s *decisions) set(i int, d Decision) { s.chunks[i>>chunkBits].set(i&(decisionsPerChunk-1), d) }

// set sets the i-th decision of the chunk, giving it its array at the first that differs.
func (c *decisionChunk) set(i int, d Decision) {
	if c.all == nil {
		if d == c.same {
			return
		}
		c.all = make([]Decision, decisionsPerChunk)
		for k := range c.all {
			c.all[k] = c.same
		}
	}
	c.all[i] = d
}

// uniform reports whether the chunk holding line i has the same decision for every line, and
// which.
func (s *decisions) uniform(i int) (Decision, bool) {
	c := &s.chunks[i>>chunkBits]
	return c.same, c.all == nil
}
