package rotating

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOpenFollowsRotation: a rotation lands between the listing and the opening of the set.
// Every file listed is opened where the rotation moved it, in the listed order, and the
// active file keeps the store's name (its replacement at the end of the run notices the
// rotation); a file that left the set makes the set be listed again.
func TestOpenFollowsRotation(t *testing.T) {
	dir := t.TempDir()
	l := layout{path: filepath.Join(dir, "events.ndjson"), naming: Suffix, maxFiles: 8}
	for _, k := range []int{4, 2, 1, 0} {
		if err := os.WriteFile(l.slotName(k), []byte("{}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ms, _, err := l.members()
	if err != nil {
		t.Fatal(err)
	}
	// Papyra's rotation: .4 → .5, .2 → .3, .1 → .2, active → .1, then a new active file.
	for _, r := range [][2]int{{4, 5}, {2, 3}, {1, 2}, {0, 1}} {
		if err := os.Rename(l.slotName(r[0]), l.slotName(r[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(l.slotName(0), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	segs, ok, err := l.openAll(ms)
	if err != nil || !ok {
		t.Fatalf("openAll after a rotation: ok %v, %v", ok, err)
	}
	wantSlots := []int{5, 3, 2, 0}
	for i, sg := range segs {
		defer sg.f.Close()
		if sg.ino != ms[i].ino || sg.slot != wantSlots[i] || sg.name != l.slotName(wantSlots[i]) {
			t.Errorf("segment %d: inode %d at slot %d (%s), want inode %d at slot %d", i, sg.ino, sg.slot, sg.name, ms[i].ino, wantSlots[i])
		}
		if got, _ := inodeOf(sg.name); !sg.active && got != sg.ino {
			t.Errorf("segment %d: %s holds another file", i, sg.name)
		}
	}
	if !segs[len(segs)-1].active {
		t.Error("the file listed as active is no longer marked active")
	}

	// A file deleted since the listing (a logging-style writer removes its oldest): list again.
	if err := os.Remove(l.slotName(5)); err != nil {
		t.Fatal(err)
	}
	if segs, ok, err := l.openAll(ms); err != nil || ok {
		for _, sg := range segs {
			sg.f.Close()
		}
		t.Fatalf("openAll with a listed file gone: ok %v, %v; want a new listing", ok, err)
	}
}
