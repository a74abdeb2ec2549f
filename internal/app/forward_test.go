package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/atomicfile"
)

// TestForwarderFinishesAPendingFileBetweenRuns: a run leaves the replaced file pending
// because a writer holds it; the writer goes on writing there, then closes it. Without
// another run, its records reach the store within seconds, and the replaced file and the
// journal are gone: the daemon's forwarder does not wait for the next scheduled run.
func TestForwarderFinishesAPendingFileBetweenRuns(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.ndjson")
	now := float64(time.Now().Unix())
	var b strings.Builder
	for i := range 10 {
		fmt.Fprintf(&b, `{"kind": "event", "id": "old%d", "timestamp": %.1f}`+"\n", i, now-7200)
	}
	for i := range 10 {
		fmt.Fprintf(&b, `{"kind": "event", "id": "keep%d", "timestamp": %.1f}`+"\n", i, now)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o640); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	cfg := testConfig(t, fmt.Sprintf(`{name: ev, backend: json, path: %s, schedule: "@yearly", retention: {max_age: 1h}, drain_timeout: 100ms}`, path))
	a, logs := newTestApp(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx) }()
	defer func() {
		cancel()
		<-ran
	}()
	waitLog := func(msg string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for logs.FilterMessage(msg).Len() == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("no %q logged: %v", msg, logs.All())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitLog("papyrad started")
	if err := a.sched.Trigger(nil, true); err != nil {
		t.Fatal(err)
	}
	waitLog("compaction done")
	if !pendingJournal(t, dir) {
		t.Fatalf("the run did not leave the held file pending: %v", logs.All())
	}
	for i := range 5 {
		fmt.Fprintf(w, `{"kind": "event", "id": "late%d", "timestamp": %.1f}`+"\n", i, now)
		time.Sleep(100 * time.Millisecond)
	}
	w.Close()
	deadline := time.Now().Add(3*forwardEvery + 2*time.Second)
	for pendingJournal(t, dir) {
		if time.Now().After(deadline) {
			t.Fatalf("the replaced file is still pending %s after its writer closed it", 3*forwardEvery+2*time.Second)
		}
		time.Sleep(20 * time.Millisecond)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"keep0", "keep9", "late0", "late4"} {
		if n := strings.Count(string(got), `"`+id+`"`); n != 1 {
			t.Errorf("record %s is in the store %d times, want once", id, n)
		}
	}
	if strings.Contains(string(got), `"old0"`) {
		t.Errorf("an expired record is still in the store")
	}
}

// pendingJournal reports whether a run's journal is left beside the store.
func pendingJournal(t *testing.T, dir string) bool {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if atomicfile.IsOwn(e.Name()) && strings.HasSuffix(e.Name(), ".journal") {
			return true
		}
	}
	return false
}
