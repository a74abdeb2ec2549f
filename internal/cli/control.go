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
	"github.com/papyrad/papyrad/internal/units"
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
		Long: `Show each store's state in the running daemon: idle, pending (and why), sampling traffic
or running; its last run (and error) and its next run, in the daemon's time zone, with how long
ago or how soon. --json prints the exact times, in the daemon's time zone, and names it.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			sock, err := socketFor(e, socket, configPath)
			if err != nil {
				return err
			}
			var out struct {
				TimeZone string             `json:"time_zone"`
				Stores   []scheduler.Status `json:"stores"`
			}
			if err := call(c.Context(), sock, http.MethodGet, app.PathStatus, nil, &out); err != nil {
				return err
			}
			if asJSON {
				return printJSON(e.stdout, out)
			}
			printStatus(e.stdout, out.TimeZone, out.Stores, time.Now())
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
scanned, dropped and quarantined, files rewritten and deleted, bytes reclaimed (for people: 1.2 GiB),
and OLDEST, the age the store's oldest record had when its last successful run ended (29d 3h; "-"
when no run has told it:
no successful run yet, no record with a timestamp, or a redis or memory store). --json has the
exact figures, named like the fields of a compaction report (records_dropped,
bytes_reclaimed, oldest_record_timestamp, ...).
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
			fmt.Fprintf(e.stdout, "%-20s %6s %7s %6s %6s %10s %10s %10s %8s %8s %10s  %s\n",
				"STORE", "OK", "PENDING", "ERROR", "SKIP", "SCANNED", "DROPPED", "QUARANT.", "REWRITE", "DELETE", "RECLAIMED", "OLDEST")
			for _, t := range out.Stores {
				oldest := "-"
				if age, ok := t.OldestAge(); ok {
					oldest = units.FormatAge(age)
				}
				fmt.Fprintf(e.stdout, "%-20s %6d %7d %6d %6d %10d %10d %10d %8d %8d %10s  %s\n",
					t.Store, t.Runs[report.ResultOK], t.Runs[report.ResultPending], t.Runs[report.ResultError], t.Runs[report.ResultSkipped],
					t.RecordsScanned, t.RecordsDropped, t.RecordsQuarantined, t.FilesRewritten, t.FilesDeleted, humanSize(t.BytesReclaimed), oldest)
			}
			return nil
		},
	}
	daemonFlags(c, &socket, &configPath)
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// printStatus writes each store's state for a person: times in the daemon's time zone zone
// (as the daemon sent them when the name does not load), each with how long ago or how soon
// it is from now.
func printStatus(w io.Writer, zone string, sts []scheduler.Status, now time.Time) {
	loc, err := time.LoadLocation(zone)
	if zone == "" || err != nil {
		loc = nil
	}
	when := func(t time.Time) string {
		layout := "2006-01-02 15:04:05 MST"
		if loc != nil {
			t = t.In(loc)
		} else {
			layout = "2006-01-02 15:04:05 -07:00"
		}
		rel := units.FormatAge(now.Sub(t)) + " ago"
		if t.After(now) {
			rel = "in " + units.FormatAge(t.Sub(now))
		}
		return t.Format(layout) + " (" + rel + ")"
	}
	for _, st := range sts {
		fmt.Fprintf(w, "%s: %s", st.Store, st.State)
		if st.DeferReason != "" {
			fmt.Fprintf(w, " (%s; deferred since %s)", st.DeferReason, when(st.DeferredSince))
		}
		fmt.Fprintln(w)
		if !st.LastRun.IsZero() {
			fmt.Fprintf(w, "  last run  %s", when(st.LastRun))
			if st.LastError != "" {
				fmt.Fprintf(w, " FAILED: %s", st.LastError)
			}
			fmt.Fprintln(w)
		}
		if !st.NextRun.IsZero() {
			fmt.Fprintf(w, "  next run  %s\n", when(st.NextRun))
		}
	}
	if len(sts) > 0 && zone != "" {
		fmt.Fprintf(w, "times in %s, the daemon's time zone\n", zone)
	}
}
