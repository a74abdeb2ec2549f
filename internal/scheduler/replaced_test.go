package scheduler

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/report"
)

// replacedStore fails every run as a backend that knows nothing of deferrals would: result
// error, wrapping errs.ErrReplaced.
type replacedStore struct{ runs int }

func (s *replacedStore) Compact(context.Context, backends.Options) (report.Report, error) {
	s.runs++
	err := fmt.Errorf("compact /srv/a/events.ndjson: %w", errs.ErrReplaced)
	return report.Report{Store: "a", Result: report.ResultError, Error: err.Error()}, err
}

// TestReplacedStoreIsDeferred: a run abandoned because another program replaced the store is
// a deferral, reason "replaced", reported as skipped, and the request stays pending for a retry;
// it is not a failed run.
func TestReplacedStoreIsDeferred(t *testing.T) {
	var mu sync.Mutex
	var got []report.Report
	var reasons []string
	ran := make(chan struct{}, 1)
	st := &replacedStore{}
	s := New(Config{
		Location: time.UTC,
		OnRun: func(_ string, rep report.Report, _ error) {
			mu.Lock()
			got = append(got, rep)
			mu.Unlock()
			select {
			case ran <- struct{}{}:
			default:
			}
		},
		OnDefer: func(_, reason string) {
			mu.Lock()
			reasons = append(reasons, reason)
			mu.Unlock()
		},
	}, []Job{{Name: "a", Plan: Plan{Schedule: cron.Every(24 * time.Hour), MaxDeferral: time.Hour}, Store: st}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	if err := s.Trigger([]string{"a"}, true); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("the triggered run did not happen")
	}
	// The run's end is recorded right after OnRun returns.
	var status Status
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		told := len(reasons) > 0
		mu.Unlock()
		if status = s.Status()[0]; status.State == "pending" && told {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].Result != report.ResultSkipped || got[0].Reason != ReasonReplaced {
		t.Fatalf("reports %+v, want one skipped, reason %q", got, ReasonReplaced)
	}
	if status.State != "pending" || status.DeferReason != ReasonReplaced || !status.LastRun.IsZero() || status.LastError != "" {
		t.Errorf("status %+v, want pending, deferred for %q, no run recorded", status, ReasonReplaced)
	}
	if len(reasons) == 0 || reasons[len(reasons)-1] != ReasonReplaced {
		t.Errorf("deferrals told %v, want %q", reasons, ReasonReplaced)
	}
}

// TestReplacedIsRetried: the core brings a request refused because the store was replaced
// back until a run serves it.
func TestReplacedIsRetried(t *testing.T) {
	p := mustSched(t, "0 0 * * *")
	start := time.Date(2026, 5, 1, 23, 59, 0, 0, time.UTC)
	s := newSim(t, time.UTC, start, map[string]Plan{"a": p})
	s.outcome = func(string) Outcome { return RefusedReplaced }
	s.until(start.Add(10 * time.Minute))
	j := s.c.jobs["a"]
	if j.pending == nil || j.reason != ReasonReplaced || !j.lastRun.IsZero() {
		t.Fatalf("a replaced store must leave the request pending (reason %q, last run %v)", j.reason, j.lastRun)
	}
	if n := len(s.runs["a"]); n < 5 {
		t.Errorf("only %d attempts in 9 minutes: the run must be retried", n)
	}
	s.outcome = func(string) Outcome { return Done }
	s.until(s.now.Add(2 * time.Minute))
	if j := s.c.jobs["a"]; j.pending != nil || j.lastRun.IsZero() {
		t.Errorf("once the store is left alone the run happens")
	}
}
