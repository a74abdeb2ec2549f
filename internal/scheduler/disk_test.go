package scheduler

import (
	"errors"
	"testing"

	"github.com/papyrad/papyrad/internal/errs"
)

func TestDiskGuardReservesAcrossRuns(t *testing.T) {
	g := newDiskGuard()
	g.statfs = func(path string) (int64, uint64, error) {
		if path == "/other/x" {
			return 1000, 2, nil
		}
		return 1000, 1, nil
	}
	reserve := g.reserver(Disk{Reserve: 100, Factor: 1.5})
	r1, err := reserve("/data/a", 400) // needs 700
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reserve("/data/b", 200); !errors.Is(err, errs.ErrDiskRefused) {
		t.Errorf("a second run on the same filesystem must count the first's reservation: %v", err)
	}
	if r, err := reserve("/other/x", 200); err != nil {
		t.Errorf("another filesystem is independent: %v", err)
	} else {
		r()
	}
	r1()
	r1() // releasing twice gives back once
	if r, err := reserve("/data/b", 200); err != nil {
		t.Errorf("after the release there is room: %v", err)
	} else {
		r()
	}
	if g.reserved[1] != 0 {
		t.Errorf("reservations left: %d", g.reserved[1])
	}
}
