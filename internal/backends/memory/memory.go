// Package memory is Papyra's in-memory backend as papyrad sees it: its records live inside the
// application's process, so there is nothing to compact or scan from outside. The backend is
// accepted in configs for symmetry and every run is a reported no-op.
package memory

import (
	"context"

	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/report"
)

// Backend is the name of this store kind in configs and reports.
const Backend = "memory"

// Store is an in-memory store.
type Store struct{ name string }

// New returns the store called name.
func New(name string) *Store { return &Store{name: name} }

// Compact reports that there is nothing to do.
func (s *Store) Compact(ctx context.Context, opts backends.Options) (report.Report, error) {
	return report.Report{
		Store: s.name, Backend: Backend, DryRun: opts.DryRun, Result: report.ResultOK,
		Warnings: []string{"in-memory store: its records live in the application's process; nothing to compact from outside"},
	}, nil
}

// Scan finds nothing: there is nothing outside the process to look at.
func (s *Store) Scan(ctx context.Context) ([]report.Anomaly, error) { return nil, nil }
