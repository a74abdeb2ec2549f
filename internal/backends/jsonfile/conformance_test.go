package jsonfile_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/papyrad/papyrad/internal/backends/backendtest"
	"github.com/papyrad/papyrad/internal/backends/jsonfile"
	"github.com/papyrad/papyrad/internal/livefile"
)

// harness describes json stores to the conformance suite: one file, the segments end to end.
func harness() *backendtest.Harness {
	return &backendtest.Harness{
		Name: "json",
		Create: func(dir string, segs [][]byte) (string, error) {
			path := filepath.Join(dir, "events.ndjson")
			if err := os.WriteFile(path, slices.Concat(segs...), 0o644); err != nil {
				return "", err
			}
			hour := time.Now().Add(-time.Hour)
			return path, os.Chtimes(path, hour, hour)
		},
		Files:  func(path string) ([]string, error) { return []string{path}, nil },
		Active: func(path string) (string, error) { return path, nil },
		New: func(p backendtest.Params) backendtest.Store {
			return jsonfile.New(jsonfile.Config{
				Name: "events", Path: p.Path, Policy: p.Policy, Quarantine: p.Quarantine,
				Drain:          livefile.DrainOptions{Timeout: p.DrainTimeout, MinDrain: p.MinDrain},
				AllowHardLinks: p.AllowHardLinks,
			}, zap.NewNop(), time.Now)
		},
		Writers: []backendtest.WriterStyle{backendtest.PerRecord, backendtest.LongLived},
	}
}

func TestMain(m *testing.M) { backendtest.Main(m) }

func TestConformance(t *testing.T) { backendtest.Run(t, harness()) }

func TestHelperProcess(t *testing.T) { backendtest.HelperProcess(t, harness()) }
