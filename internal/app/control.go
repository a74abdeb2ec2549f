package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/scheduler"
)

// The control API: HTTP over a unix socket in the state directory, mode 0660. Nothing that
// changes anything ever listens on TCP.
const (
	// PathStatus answers GET with {"time_zone": ZONE, "stores": [scheduler.Status, ...]}: every
	// time in the daemon's time zone (daemon.timezone), which ZONE names (StatusZone).
	PathStatus = "/v1/status"
	// PathTrigger takes POST {"stores": [NAME, ...]} (none: every store) and answers 202
	// {"triggered": [...]}, or 404 {"error": ...} naming a store that is not configured.
	PathTrigger = "/v1/trigger"
	// PathMetrics answers GET with {"stores": [StoreTotals, ...]}.
	PathMetrics = "/v1/metrics"
)

type controlServer struct {
	srv  *http.Server
	path string
}

// listenControl listens on a unix socket at path. A socket left by a daemon that died is
// replaced; one a running daemon answers on is not.
func listenControl(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: %w (it answers there)", path, errs.ErrInUse)
	}
	_ = os.Remove(path)
	old := syscall.Umask(0o117)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return ln, nil
}

// StatusZone names the time zone loc for people at t: its IANA name ("Europe/Berlin"), or for
// the host's local zone without one, its abbreviation at t ("CET").
func StatusZone(loc *time.Location, t time.Time) string {
	if name := loc.String(); name != "Local" {
		return name
	}
	abbr, _ := t.In(loc).Zone()
	return abbr
}

// controlHandler serves the control API: status and metrics to read, trigger the one call
// that changes anything.
func controlHandler(sched *scheduler.Scheduler, obs *observer, loc *time.Location, log *zap.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathStatus, func(w http.ResponseWriter, r *http.Request) {
		sts := sched.Status()
		for i := range sts {
			st := &sts[i]
			for _, t := range []*time.Time{&st.LastRun, &st.LastSuccess, &st.NextRun, &st.DeferredSince} {
				if !t.IsZero() {
					*t = t.In(loc)
				}
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"time_zone": StatusZone(loc, time.Now()), "stores": sts})
	})
	mux.HandleFunc("GET "+PathMetrics, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"stores": obs.totals()})
	})
	mux.HandleFunc("POST "+PathTrigger, func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Stores []string `json:"stores"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if err := sched.Trigger(req.Stores, true); err != nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		log.Info("compaction triggered over the control socket", zap.Strings("stores", req.Stores))
		writeJSON(w, http.StatusAccepted, map[string]any{"triggered": req.Stores})
	})
	return mux
}

// Close stops serving, waiting up to 2s for requests in progress, and removes the socket.
func (c *controlServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := c.srv.Shutdown(ctx)
	_ = os.Remove(c.path)
	return err
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
