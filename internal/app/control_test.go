package app

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	zapobserver "go.uber.org/zap/zaptest/observer"

	"github.com/papyrad/papyrad/internal/scheduler"
)

// FuzzControlRequest sends any request to the control API. Only a POST to /v1/trigger naming
// configured stores (or none: every store) changes anything, and it answers 202 with the
// stores it triggered; everything else leaves every store as it was and is answered with a
// client error or a redirect, never a server error; the API's own answers are JSON objects.
func FuzzControlRequest(f *testing.F) {
	f.Add("POST", uint8(2), "", []byte(`{"stores": ["a"]}`))
	f.Add("POST", uint8(2), "", []byte(`{"stores": null}`))
	f.Add("POST", uint8(2), "", []byte(``))
	f.Add("POST", uint8(2), "", []byte(`{"stores": ["a", "nope"]}`))
	f.Add("POST", uint8(2), "", []byte(`{"stores": "a"}`))
	f.Add("POST", uint8(2), "", []byte(`{"stores": ["a"]} trailing`))
	f.Add("POST", uint8(2), "/../status", []byte(`{}`))
	f.Add("GET", uint8(2), "", []byte(``))
	f.Add("PUT", uint8(2), "", []byte(`{"stores": ["a"]}`))
	f.Add("GET", uint8(0), "", []byte(``))
	f.Add("HEAD", uint8(1), "", []byte(``))
	f.Add("DELETE", uint8(0), "", []byte(``))
	f.Add("POST", uint8(0), "", []byte(`{"stores": ["a"]}`))
	f.Add("GET", uint8(3), "/v1/trigger?stores=a", []byte(``))
	f.Add("POST", uint8(2), "//", []byte(`[`))
	f.Fuzz(func(t *testing.T, method string, route uint8, suffix string, body []byte) {
		paths := []string{PathStatus, PathMetrics, PathTrigger, ""}
		target := "http://papyrad" + paths[int(route)%len(paths)] + suffix
		req, err := http.NewRequest(method, target, bytes.NewReader(body))
		if err != nil {
			return // not a request a client can send
		}
		sched := scheduler.New(scheduler.Config{Location: time.UTC}, []scheduler.Job{
			{Name: "a", Plan: scheduler.Plan{Schedule: cron.Every(time.Hour)}},
			{Name: "b", Plan: scheduler.Plan{Schedule: cron.Every(time.Hour)}},
		})
		obs := newObserver(prometheus.NewRegistry())
		before := sched.Status()
		rec := httptest.NewRecorder()
		controlHandler(sched, obs, time.UTC, zap.NewNop()).ServeHTTP(rec, req)
		after := sched.Status()
		code := rec.Code
		if code >= 500 {
			t.Fatalf("%s %s: %d %s", method, target, code, rec.Body)
		}
		isTrigger := req.Method == http.MethodPost && req.URL.Path == PathTrigger
		if code == http.StatusAccepted {
			if !isTrigger {
				t.Fatalf("%s %s accepted", method, target)
			}
			var out struct{ Triggered []string }
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Fatalf("trigger answer %q: %v", rec.Body, err)
			}
			for _, st := range after {
				want := len(out.Triggered) == 0 || slices.Contains(out.Triggered, st.Store)
				if (st.State == "pending") != want {
					t.Fatalf("triggered %v: store %s is %q", out.Triggered, st.Store, st.State)
				}
			}
			return
		}
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("%s %s (answered %d) changed the stores:\n%+v\n%+v", method, target, code, before, after)
		}
		if code/100 != 2 && code/100 != 3 && code/100 != 4 {
			t.Fatalf("%s %s: %d", method, target, code)
		}
		if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") && req.Method != http.MethodHead {
			var v map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
				t.Fatalf("%s %s: answer %q is not a JSON object: %v", method, target, rec.Body, err)
			}
			if code/100 == 4 {
				if msg, _ := v["error"].(string); msg == "" {
					t.Fatalf("%s %s: %d without an error message: %s", method, target, code, rec.Body)
				}
			}
		}
	})
}

// TestMetricsListenerOnlyReads: the TCP listener answers GET /metrics and /healthz and nothing
// else: no other method, no other path, and none of the control API, which only the unix
// socket serves. A refused trigger leaves the stores as they were.
func TestMetricsListenerOnlyReads(t *testing.T) {
	core, logs := zapobserver.New(zapcore.InfoLevel)
	cfg := testConfig(t, `{name: a, backend: memory, retention: none, schedule: "@every 1h"}`)
	cfg.Daemon.MetricsListen = "127.0.0.1:0"
	a, err := New(cfg, WithLogger(zap.New(core)), WithRegistry(prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	sched := a.sched
	listening := logs.FilterMessage("metrics listening").All()
	if len(listening) != 1 {
		t.Fatalf("no log line with the listener's address: %v", logs.All())
	}
	base := "http://" + listening[0].ContextMap()["addr"].(string)
	before := sched.Status()
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/metrics", http.StatusOK},
		{"GET", "/healthz", http.StatusOK},
		{"HEAD", "/healthz", http.StatusOK},
		{"POST", "/metrics", http.StatusMethodNotAllowed},
		{"PUT", "/metrics", http.StatusMethodNotAllowed},
		{"DELETE", "/healthz", http.StatusMethodNotAllowed},
		{"POST", "/healthz", http.StatusMethodNotAllowed},
		{"POST", PathTrigger, http.StatusNotFound},
		{"GET", PathStatus, http.StatusNotFound},
		{"GET", PathMetrics, http.StatusNotFound},
		{"POST", "/", http.StatusNotFound},
		{"GET", "/debug/pprof/", http.StatusNotFound},
	} {
		req, err := http.NewRequest(tc.method, base+tc.path, strings.NewReader(`{"stores": ["a"]}`))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
	if after := sched.Status(); !reflect.DeepEqual(before, after) {
		t.Errorf("requests over TCP changed the stores:\n%+v\n%+v", before, after)
	}
}

// TestStatusInDaemonZone: status names the daemon's time zone and gives every time in it,
// whatever zone the scheduler kept it in.
func TestStatusInDaemonZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	sched := scheduler.New(scheduler.Config{Location: time.UTC}, []scheduler.Job{{Name: "a", Plan: scheduler.Plan{Schedule: cron.Every(time.Hour)}}})
	rec := httptest.NewRecorder()
	controlHandler(sched, newObserver(prometheus.NewRegistry()), berlin, zap.NewNop()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, PathStatus, nil))
	var out struct {
		TimeZone string `json:"time_zone"`
		Stores   []struct {
			NextRun string `json:"next_run"`
		} `json:"stores"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || len(out.Stores) != 1 {
		t.Fatalf("status %s: %v", rec.Body, err)
	}
	next, err := time.Parse(time.RFC3339Nano, out.Stores[0].NextRun)
	if err != nil {
		t.Fatal(err)
	}
	_, want := next.In(berlin).Zone()
	if _, got := next.Zone(); out.TimeZone != "Europe/Berlin" || got != want {
		t.Errorf("status: time zone %q, next run %s (offset %d), want Europe/Berlin and its offset %d", out.TimeZone, out.Stores[0].NextRun, got, want)
	}
	if got := StatusZone(time.FixedZone("CET", 3600), time.Now()); got != "CET" {
		t.Errorf("StatusZone of an unnamed zone = %q", got)
	}
}
