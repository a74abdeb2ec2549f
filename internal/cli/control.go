package cli

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
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/papyrad/papyrad/internal/config"
	"github.com/papyrad/papyrad/internal/scheduler"
)

// The control API: HTTP over a unix socket in the state directory, mode 0660. Nothing that
// changes anything ever listens on TCP.
const (
	pathStatus  = "/v1/status"
	pathTrigger = "/v1/trigger"
	pathMetrics = "/v1/metrics"
)

type controlServer struct {
	ln   net.Listener
	srv  *http.Server
	path string
}

// listenControl serves the control API on a unix socket at path. A socket left by a daemon that
// died is replaced; one a running daemon answers on is not.
func listenControl(path string, sched *scheduler.Scheduler, obs *observer, log *zap.Logger) (*controlServer, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: another papyrad daemon is running", path)
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
	srv := &http.Server{Handler: controlHandler(sched, obs, log), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("control socket stopped", zap.Error(err))
		}
	}()
	return &controlServer{ln: ln, srv: srv, path: path}, nil
}

// controlHandler serves the control API: status and metrics to read, trigger the one call
// that changes anything.
func controlHandler(sched *scheduler.Scheduler, obs *observer, log *zap.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathStatus, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"stores": sched.Status()})
	})
	mux.HandleFunc("GET "+pathMetrics, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"stores": obs.totals()})
	})
	mux.HandleFunc("POST "+pathTrigger, func(w http.ResponseWriter, r *http.Request) {
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

// controlClient talks to a running daemon.
func controlClient(socket string) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}},
	}
}

// socketFor finds the control socket from --socket or --config.
func socketFor(e *env, socket, configPath string) (string, error) {
	if socket != "" {
		return socket, nil
	}
	if configPath == "" {
		return "", usageErrorf("give --socket, or --config to find the daemon's socket")
	}
	cfg, err := config.Load(configPath, e.environ)
	if err != nil {
		return "", withCode(ExitConfig, err)
	}
	return cfg.Daemon.ControlSocket, nil
}

// daemonFlags registers how a client command finds the running daemon.
func daemonFlags(c *cobra.Command, socket, configPath *string) {
	c.Flags().StringVar(socket, "socket", "", "the daemon's control socket")
	c.Flags().StringVar(configPath, "config", "", "config file (to find the control socket)")
}

// call sends one request to the daemon; no daemon is a clear error, exit 75.
func call(ctx context.Context, socket, method, path string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://papyrad"+path, body)
	if err != nil {
		return err
	}
	resp, err := controlClient(socket).Do(req)
	if err != nil {
		return withCode(ExitTempFail, fmt.Errorf("no papyrad daemon answers on %s: %w", socket, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&e)
		code := ExitFailed
		if resp.StatusCode == http.StatusNotFound {
			code = ExitUsage
		}
		return withCode(code, errors.New(e.Error))
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func newStatusCmd(e *env) *cobra.Command {
	var socket, configPath string
	var asJSON bool
	c := &cobra.Command{
		Use:   "status [--config FILE | --socket PATH] [--json]",
		Short: "Show each store's state in the running daemon",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			sock, err := socketFor(e, socket, configPath)
			if err != nil {
				return err
			}
			var out struct {
				Stores []scheduler.Status `json:"stores"`
			}
			if err := call(c.Context(), sock, http.MethodGet, pathStatus, nil, &out); err != nil {
				return err
			}
			if asJSON {
				return printJSON(e.stdout, out)
			}
			for _, st := range out.Stores {
				fmt.Fprintf(e.stdout, "%s: %s", st.Store, st.State)
				if st.DeferReason != "" {
					fmt.Fprintf(e.stdout, " (deferred since %s: %s)", st.DeferredSince.Format(time.RFC3339), st.DeferReason)
				}
				fmt.Fprintln(e.stdout)
				if !st.LastRun.IsZero() {
					fmt.Fprintf(e.stdout, "  last run  %s", st.LastRun.Format(time.RFC3339))
					if st.LastError != "" {
						fmt.Fprintf(e.stdout, " FAILED: %s", st.LastError)
					}
					fmt.Fprintln(e.stdout)
				}
				if !st.NextRun.IsZero() {
					fmt.Fprintf(e.stdout, "  next run  %s\n", st.NextRun.Format(time.RFC3339))
				}
			}
			return nil
		},
	}
	daemonFlags(c, &socket, &configPath)
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func newTriggerCmd(e *env) *cobra.Command {
	var socket, configPath string
	c := &cobra.Command{
		Use:   "trigger [--config FILE | --socket PATH] [STORE...]",
		Short: "Ask the running daemon to compact stores now (all when none is named)",
		Long: `Ask the running daemon to compact the named stores now, bypassing windows and the traffic
check as SIGUSR1 does; the disk guard still applies.`,
		RunE: func(c *cobra.Command, args []string) error {
			sock, err := socketFor(e, socket, configPath)
			if err != nil {
				return err
			}
			body, _ := json.Marshal(map[string][]string{"stores": args})
			var out map[string]any
			if err := call(c.Context(), sock, http.MethodPost, pathTrigger, strings.NewReader(string(body)), &out); err != nil {
				return err
			}
			what := "every store"
			if len(args) > 0 {
				what = strings.Join(args, ", ")
			}
			fmt.Fprintf(e.stdout, "triggered: %s\n", what)
			return nil
		},
	}
	daemonFlags(c, &socket, &configPath)
	return c
}
