package rotating

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestOpenUnderRotation: a Papyra-style writer rolls a set of many segments over again and
// again (path.i → path.i+1 from the oldest down, path → path.1, a new active file) while the
// set is opened. Rotations only move files, so every segment there when a round begins is
// still in the set, under some name, at every instant of it: each opening of the set must find
// them all. Listing the directory and then looking each name up misses a segment renamed in
// between (listed as path.k, looked up once it is path.k+1).
func TestOpenUnderRotation(t *testing.T) {
	const (
		maxFiles  = 200
		segments  = 40
		rotations = maxFiles - segments - 1 // one round, up to a full set
	)
	deadline := time.Now().Add(time.Second)
	opens := 0
	for round := 0; time.Now().Before(deadline); round++ {
		dir := t.TempDir()
		l := layout{path: filepath.Join(dir, "events.ndjson"), naming: Suffix, maxFiles: maxFiles}
		want := map[uint64]bool{}
		for k := 0; k <= segments; k++ {
			if err := os.WriteFile(l.slotName(k), []byte("{}\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			var st syscall.Stat_t
			if err := syscall.Stat(l.slotName(k), &st); err != nil {
				t.Fatal(err)
			}
			want[st.Ino] = true
		}
		done := make(chan error, 1)
		go func() { done <- papyraRotations(l.path, maxFiles, rotations) }()
		var missed string
		for rotating := true; rotating && missed == ""; {
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
				rotating = false
			default:
			}
			segs, _, err := l.open()
			if err != nil {
				<-done
				t.Fatalf("round %d: %v", round, err)
			}
			opens++
			found := map[uint64]bool{}
			for _, s := range segs {
				found[s.ino] = true
				s.f.Close()
			}
			for ino := range want {
				if !found[ino] {
					missed = fmt.Sprintf("round %d, opening %d: segment inode %d is in the set but was not opened (%d files opened)", round, opens, ino, len(segs))
					break
				}
			}
			if missed != "" && rotating {
				<-done
			}
		}
		if missed != "" {
			t.Fatal(missed)
		}
	}
	t.Logf("%d openings of the set under rotation", opens)
}

// papyraRotations rolls the suffix set at path over n times as Papyra's
// RotatingFilePersistence does, creating a new active file after each, a millisecond apart.
func papyraRotations(path string, maxFiles, n int) error {
	for range n {
		for i := maxFiles - 2; i >= 1; i-- {
			src := path + "." + strconv.Itoa(i)
			if _, err := os.Stat(src); err != nil {
				continue
			}
			if err := os.Rename(src, path+"."+strconv.Itoa(i+1)); err != nil {
				return err
			}
		}
		if err := os.Rename(path, path+".1"); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte("{}\n"), 0o644); err != nil {
			return err
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}
