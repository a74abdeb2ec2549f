package rotating

import (
	"github.com/papyrad/papyrad/internal/archive"
	"github.com/papyrad/papyrad/internal/errs"
)

// A rotating set's archive has one part per segment the run changes, keyed by the segment's
// file (archive.FileKey), in the set's order, oldest first. A segment removed whole is
// archived as it is, compressed (whether it is deleted or emptied); a segment rewritten has its
// dropped records archived line by line. A part is published when its file is no longer in the
// set: deleted, or exchanged for its rewritten copy or an empty file, or the active file
// replaced. A segment the run left alone because it
// had to give up (a concurrent rotation, an error) is still in the set, and its records are
// archived by the run that removes them.

// beginArchive starts the part of segment p.
func (r *run) beginArchive(p *segPlan) error {
	if r.arch == nil || p.counts.Records == p.counts.Kept {
		return nil
	}
	key, err := archive.FileKey(p.seg.f)
	if err != nil {
		return errs.Wrap("compact", p.seg.name, err)
	}
	if err := r.arch.Begin(key); err != nil {
		return errs.Wrap("compact", p.seg.name, err)
	}
	return nil
}

// inSet returns the keys of the files in the set now.
func (s *Store) inSet() (map[string]bool, error) {
	ms, _, err := s.l.members()
	if err != nil {
		return nil, err
	}
	keys := make(map[string]bool, len(ms))
	for _, m := range ms {
		k, ok, err := archive.PathKey(m.name)
		if err != nil {
			return nil, err
		}
		if ok {
			keys[k] = true
		}
	}
	return keys, nil
}

// setLost says what the set has lost of archive parts: a part whose file is no longer in the
// set. The set is listed once, when the first part is asked about.
func (s *Store) setLost() func(archive.Part) (archive.Keep, error) {
	var keys map[string]bool
	return func(p archive.Part) (archive.Keep, error) {
		if keys == nil {
			var err error
			if keys, err = s.inSet(); err != nil {
				return archive.Keep{}, err
			}
		}
		return archive.Keep{Whole: !keys[p.Key]}, nil
	}
}
