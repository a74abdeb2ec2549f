package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/report"
)

// quickStore is a store whose runs do nothing and return at once.
type quickStore struct{}

func (quickStore) Compact(context.Context, backends.Options) (report.Report, error) {
	return report.Report{Result: report.ResultOK}, nil
}

// TestStateWrittenOncePerBurst: a burst of runs, as SIGUSR1 over many stores makes, writes the
// state file a few times (at most once a second), not once a run, and once the scheduler stops
// the file holds every store's last run.
func TestStateWrittenOncePerBurst(t *testing.T) {
	const stores = 300
	file := filepath.Join(t.TempDir(), "state", "runs.json")
	var writes atomic.Int64
	atomicfile.InjectFaults(t, func(op atomicfile.Op, name string) error {
		if op == atomicfile.OpRename && name == file {
			writes.Add(1)
		}
		return nil
	})
	var ran atomic.Int64
	all := make(chan struct{})
	var jobs []Job
	for i := range stores {
		jobs = append(jobs, Job{Name: fmt.Sprintf("s%03d", i), Plan: Plan{Schedule: cron.Every(24 * time.Hour)}, Store: quickStore{}})
	}
	s := New(Config{Location: time.UTC, MaxConcurrent: 4, StateFile: file, OnRun: func(string, report.Report, error) {
		if ran.Add(1) == stores {
			close(all)
		}
	}}, jobs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- s.Run(ctx) }()
	if err := s.Trigger(nil, true); err != nil {
		t.Fatal(err)
	}
	select {
	case <-all:
	case <-time.After(time.Minute):
		t.Fatalf("%d of %d runs after a minute", ran.Load(), stores)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if n, most := writes.Load(), int64(took/stateEvery)+2; n < 1 || n > most {
		t.Errorf("%d runs in %v wrote the state file %d times, want 1 to %d", stores, took, n, most)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		LastRun map[string]time.Time `json:"last_run"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if st.LastRun[j.Name].Before(start) {
			t.Errorf("state file: %s last ran %v, want after %v", j.Name, st.LastRun[j.Name], start)
		}
	}
}
