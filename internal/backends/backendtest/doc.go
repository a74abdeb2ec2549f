// Package backendtest is the conformance suite every file backend runs: the safety contract
// (no kept record lost or duplicated, a store whole at every instant, nothing of a run left
// behind) checked the same way for each kind of file store, on real files, with real writer
// processes appending as Papyra does.
//
// A backend's test supplies a Harness (how to lay out a store, build the backend's store
// object through its public constructor, list its files, which writer styles apply) and calls
// Run; it also defines
//
//	func TestHelperProcess(t *testing.T) { backendtest.HelperProcess(t, harnesses...) }
//
// because the kill loops and the runs under another user compact in a child process: the test
// binary started again with -test.run=^TestHelperProcess$.
//
// The cases, each a subtest: compaction under every live writer style, every record checked;
// disk full on a real small tmpfs and on ext4 (direct I/O); mode, owner and group kept, and a
// read-only directory refused; recovery of a run killed after its commit; every file operation
// of a run failed in turn through atomicfile's fault seam; kill loops that SIGKILL a run at
// random instants while a writer appends. The kill loops are short by default; PAPYRAD_TORTURE=1 lengthens them to
// PAPYRAD_TORTURE_ITERATIONS (100 unless set) each.
//
// The cases that apply to a redis store (appends during runs, kill loops) run through
// RunRedis with a RedisHarness.
//
// The store is read back with internal/testutil, which shares no code with the backends.
package backendtest
