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
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/papyrad/papyrad/internal/app"
	"github.com/papyrad/papyrad/internal/config"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/scheduler"
)

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
	if configPath = configFile(e, configPath); configPath == "" {
		return "", noConfig(" to find the daemon's socket, or give --socket PATH")
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
	c.Flags().StringVar(configPath, "config", "", configFlagUsage+", read to find the control socket")
}

// call sends one request to the daemon; no daemon is a clear error, exit 75.
func call(ctx context.Context, socket, method, path string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://papyrad"+path, body)
	if err != nil {
		return err
	}
	resp, err := controlClient(socket).Do(req)
	if err != nil {
		// The dial's own error repeats the socket: say only why (connect: no such file ...).
		var se *os.SyscallError
		if errors.As(err, &se) {
			err = se
		}
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
			if err := call(c.Context(), sock, http.MethodGet, app.PathStatus, nil, &out); err != nil {
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
			if err := call(c.Context(), sock, http.MethodPost, app.PathTrigger, strings.NewReader(string(body)), &out); err != nil {
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

func newMetricsCmd(e *env) *cobra.Command {
	var socket, configPath string
	var asJSON bool
	c := &cobra.Command{
		Use:   "metrics [--config FILE | --socket PATH] [--json]",
		Short: "Show the running daemon's counters per store",
		Long: `Show the running daemon's counters per store since it started: runs by result, records
scanned, dropped and quarantined, files rewritten and deleted, bytes reclaimed, and OLDEST, the age
the store's oldest record had when its last successful run ended ("-" when no run has told it:
no successful run yet, no record with a timestamp, or a redis or memory store). --json names the
counters like the fields of a compaction report (records_dropped, oldest_record_timestamp, ...).
With no daemon answering on the control socket it says so and exits 75.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			sock, err := socketFor(e, socket, configPath)
			if err != nil {
				return err
			}
			var out struct {
				Stores []app.StoreTotals `json:"stores"`
			}
			if err := call(c.Context(), sock, http.MethodGet, app.PathMetrics, nil, &out); err != nil {
				return err
			}
			if asJSON {
				return printJSON(e.stdout, out)
			}
			fmt.Fprintf(e.stdout, "%-20s %6s %7s %6s %6s %10s %10s %10s %8s %8s %12s %12s\n",
				"STORE", "OK", "PENDING", "ERROR", "SKIP", "SCANNED", "DROPPED", "QUARANT.", "REWRITE", "DELETE", "RECLAIMED", "OLDEST")
			for _, t := range out.Stores {
				fmt.Fprintf(e.stdout, "%-20s %6d %7d %6d %6d %10d %10d %10d %8d %8d %12d %12s\n",
					t.Store, t.Runs[report.ResultOK], t.Runs[report.ResultPending], t.Runs[report.ResultError], t.Runs[report.ResultSkipped],
					t.RecordsScanned, t.RecordsDropped, t.RecordsQuarantined, t.FilesRewritten, t.FilesDeleted, t.BytesReclaimed, t.OldestAge())
			}
			return nil
		},
	}
	daemonFlags(c, &socket, &configPath)
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}
