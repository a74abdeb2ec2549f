package rotating_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/papyrad/papyrad/internal/backends/backendtest"
	"github.com/papyrad/papyrad/internal/backends/rotating"
	"github.com/papyrad/papyrad/internal/livefile"
	"github.com/papyrad/papyrad/internal/testutil"
)

// maxFiles leaves the rotating writer room for every rotation of a case, even a torture
// run's (about 2.5 a second): it never finds the oldest slot taken, so it never stops
// rotating. Each run and each read looks every slot up: more slots make every case slower.
const maxFiles = 1000

// firstSeq is the number of a sequence set's oldest file, with room below it for older ones.
const firstSeq = 5000

// harness describes rotating sets of the given naming to the conformance suite.
func harness(naming rotating.Naming) *backendtest.Harness {
	files := func(path string) ([]string, error) { return testutil.SetFiles(path, string(naming), maxFiles) }
	h := &backendtest.Harness{
		Name:  "rotating-" + string(naming),
		Files: files,
		Active: func(path string) (string, error) {
			fs, err := files(path)
			if err != nil || len(fs) == 0 {
				return path, err
			}
			return fs[len(fs)-1], nil
		},
		New: func(p backendtest.Params) backendtest.Store {
			return rotating.New(rotating.Config{
				Name: "edge", Path: p.Path, Naming: naming, MaxFiles: maxFiles, Policy: p.Policy,
				Quarantine: p.Quarantine, Drain: livefile.DrainOptions{Timeout: p.DrainTimeout, MinDrain: p.MinDrain},
				AllowHardLinks: p.AllowHardLinks, Summaries: summaries(p.StateDir),
			}, zap.NewNop(), time.Now)
		},
		Writers:    []backendtest.WriterStyle{backendtest.PerRecord, backendtest.LongLived},
		KeepsState: true,
	}
	switch naming {
	case rotating.Suffix:
		slot := func(path string, k int) string {
			if k == 0 {
				return path
			}
			return path + "." + strconv.Itoa(k)
		}
		h.Create = func(dir string, segs [][]byte) (string, error) {
			path := filepath.Join(dir, "events.ndjson")
			for i, b := range segs {
				if err := put(slot(path, len(segs)-1-i), b); err != nil {
					return "", err
				}
			}
			return path, nil
		}
		h.AddOldest = func(path string, b []byte) error {
			fs, err := files(path)
			if err != nil {
				return err
			}
			k := 1
			if len(fs) > 0 && fs[0] != path {
				n, err := strconv.Atoi(strings.TrimPrefix(fs[0], path+"."))
				if err != nil {
					return err
				}
				k = n + 1
			}
			if k >= maxFiles {
				return fmt.Errorf("the set is full: raise maxFiles")
			}
			return put(slot(path, k), b)
		}
		h.Writers = append(h.Writers, backendtest.Rotating(maxFiles, 16<<10, 200))
	case rotating.Sequence:
		slot := func(path string, k int) string {
			ext := filepath.Ext(path)
			return fmt.Sprintf("%s-%04d%s", strings.TrimSuffix(path, ext), k, ext)
		}
		h.Create = func(dir string, segs [][]byte) (string, error) {
			path := filepath.Join(dir, "events.ndjson")
			for i, b := range segs {
				if err := put(slot(path, firstSeq+i), b); err != nil {
					return "", err
				}
			}
			return path, nil
		}
		h.AddOldest = func(path string, b []byte) error {
			fs, err := files(path)
			if err != nil {
				return err
			}
			k := firstSeq
			if len(fs) > 0 {
				ext := filepath.Ext(path)
				num := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(fs[0]), strings.TrimSuffix(filepath.Base(path), ext)+"-"), ext)
				if k, err = strconv.Atoi(num); err != nil {
					return err
				}
			}
			if k <= 1 {
				return fmt.Errorf("no number left below %s", fs[0])
			}
			return put(slot(path, k-1), b)
		}
	}
	return h
}

// put writes a file of the set, dated an hour ago: no write in progress.
func put(name string, b []byte) error {
	if err := os.WriteFile(name, b, 0o644); err != nil {
		return err
	}
	hour := time.Now().Add(-time.Hour)
	return os.Chtimes(name, hour, hour)
}

func TestMain(m *testing.M) { backendtest.Main(m) }

func TestConformance(t *testing.T) {
	for _, n := range []rotating.Naming{rotating.Suffix, rotating.Sequence} {
		t.Run(string(n), func(t *testing.T) {
			t.Parallel()
			backendtest.Run(t, harness(n))
		})
	}
}

func TestHelperProcess(t *testing.T) {
	backendtest.HelperProcess(t, harness(rotating.Suffix), harness(rotating.Sequence))
}

// summaries is where the suite's stores keep their segment summaries: in papyrad's state
// directory, as the daemon keeps them, so that every case runs with them.
func summaries(stateDir string) string {
	if stateDir == "" {
		return ""
	}
	return filepath.Join(stateDir, "segments", "edge.json")
}
