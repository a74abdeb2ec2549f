// Package scheduler decides when each store is compacted and runs the compactions.
//
// A Job is one store: its Store (the one interface the scheduler needs from a backend,
// Compact), an optional Meter for the traffic guard, its Plan (cron schedule, windows,
// max_deferral, jitter, min_interval, traffic limits) and its Disk guard.
//
// Ticks and triggers become a pending request per store, coalesced until it runs. Each
// request then passes the guards in order:
//
//   - windows: outside every window the request waits for the next one, unless it was forced
//     (SIGUSR1, trigger) or has waited max_deferral;
//   - traffic: a store above its rates over a sample waits, with the same exceptions;
//   - max_concurrent: at most that many runs at once, free slots going to the request that
//     has waited longest;
//   - disk: each run reserves what it writes (× factor + reserve) on its filesystem, against
//     the reservations of concurrent runs; a refusal is never bypassed: the request comes
//     back a minute later, as does one a lock held by another process refused.
//
// The decisions are made by a pure state machine (core.go) fed the time and events, so every
// rule is tested with a fake clock; Scheduler (scheduler.go) carries them out with goroutines
// and a real clock, keeps each store's last run in a state file to catch up a tick missed
// while the daemon was down, and on Reload applies a new set of jobs, keeping the state of the
// stores that remain. ticks.go evaluates cron specs on the wall clock so that DST days neither
// skip nor double a run.
package scheduler
