// Package report defines what a compaction run and a scan tell their callers: the JSON
// documents that `papyrad compact --json` and `papyrad scan --json` print (a stable interface
// scripts rely on), and the figures the daemon turns into metrics and log lines.
package report

import "time"

// Results of a run.
const (
	ResultOK = "ok"
	// ResultPending is a run that did its work but could not let go of a replaced file
	// (PendingFiles): its late lines keep being forwarded, and ok would claim more than is
	// known.
	ResultPending = "pending"
	ResultError   = "error"
	ResultSkipped = "skipped"
)

// Report is the outcome of one compaction run of one store.
type Report struct {
	Store   string `json:"store"`
	Backend string `json:"backend"`
	RunID   string `json:"run_id,omitempty"`
	DryRun  bool   `json:"dry_run"`
	Result  string `json:"result"`
	// Reason says why a run was skipped (for example "locked", "papyra_active").
	Reason string `json:"reason,omitempty"`

	RecordsBefore      int64 `json:"records_before"`
	RecordsAfter       int64 `json:"records_after"`
	RecordsDropped     int64 `json:"records_dropped"`
	RecordsQuarantined int64 `json:"records_quarantined"`
	RecordsArchived    int64 `json:"records_archived"`
	RecordsUnreclaimed int64 `json:"records_unreclaimed"`
	// RecordsTrimmedPastGroups counts the Redis entries the run trimmed that a consumer group
	// had not been delivered or had not acknowledged (each entry once, however many groups):
	// past consumer_group_max_age, or with consumer_groups ignore or delivered. A warning names
	// the stream, the group and the count.
	RecordsTrimmedPastGroups int64 `json:"records_trimmed_past_groups"`

	// OldestRecordTimestamp is the timestamp (unix seconds, as Papyra writes it) of the oldest
	// record the store holds after the run, the records retention kept; absent when none of
	// them has a finite numeric timestamp, for memory stores, and for a Redis store whose run
	// left records retention drops (held by a consumer group, or after a kept entry), which
	// could be older.
	OldestRecordTimestamp *float64 `json:"oldest_record_timestamp,omitempty"`

	// Why records were dropped, by retention rule.
	DroppedByAge   int64 `json:"dropped_by_age"`
	DroppedByCount int64 `json:"dropped_by_count"`
	DroppedByBytes int64 `json:"dropped_by_bytes"`
	// BlankLines were removed: they carry nothing to keep.
	BlankLines int64 `json:"blank_lines_removed"`
	// LinesAppended were appended by the application during the run and carried over as they
	// were (caught up before the commit or forwarded from the replaced inode after it).
	LinesAppended int64 `json:"lines_appended_during_run"`
	// LinesOvertaken counts lines forwarded from a replaced file after newer lines, where
	// no file lease guarded the commit: their writer's order may not be kept.
	LinesOvertaken int64 `json:"lines_overtaken,omitempty"`

	BytesBefore    int64 `json:"bytes_before"`
	BytesAfter     int64 `json:"bytes_after"`
	FilesRewritten int   `json:"files_rewritten"`
	// LargestWrite is the size of the largest file the run writes (0 when it only deletes):
	// what the disk guard must find free.
	LargestWrite int64   `json:"largest_write_bytes"`
	FilesDeleted int     `json:"files_deleted"`
	Duration     float64 `json:"duration_seconds"`

	// ArchiveFile is where this run archived the records it dropped.
	ArchiveFile string `json:"archive_file,omitempty"`
	// ArchivesPruned is the number of archive files older than the archive's max_age that
	// the run removed.
	ArchivesPruned int `json:"archive_files_pruned,omitempty"`
	// QuarantineFile is where this run put the lines that were not records.
	QuarantineFile string `json:"quarantine_file,omitempty"`
	// PendingFiles counts the replaced files the run could not let go: a writer still holds
	// one open, or nothing could prove that none does. Their late lines keep being forwarded
	// to the store; the store is whole, and the run's result is pending rather than ok.
	PendingFiles int `json:"pending_files,omitempty"`
	// Warnings are things an operator should know that did not fail the run.
	Warnings []string `json:"warnings,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// Finish records a run's duration and, when it ended with err, the error: the result becomes
// error unless the run was skipped (a lock or a busy store), which stays skipped. A run that
// ended well with replaced files pending becomes pending.
func (r *Report) Finish(d time.Duration, err error) {
	r.Duration = d.Seconds()
	if err == nil {
		if r.Result == ResultOK && r.PendingFiles > 0 {
			r.Result = ResultPending
		}
		return
	}
	r.Error = err.Error()
	if r.Result != ResultSkipped {
		r.Result = ResultError
	}
}

// BytesReclaimed is how much smaller the store got.
func (r *Report) BytesReclaimed() int64 {
	if r.BytesBefore > r.BytesAfter {
		return r.BytesBefore - r.BytesAfter
	}
	return 0
}

// Compaction is what `papyrad compact --json` prints.
type Compaction struct {
	Stores []Report `json:"stores"`
}

// Papyra's anomaly type names, as `papyra persistence scan` prints them.
const (
	TruncatedLine       = "TRUNCATED_LINE"
	PartialWrite        = "PARTIAL_WRITE"
	CorruptedLine       = "CORRUPTED_LINE"
	OrphanedRotatedFile = "ORPHANED_ROTATED_FILE"
	UnexpectedFile      = "UNEXPECTED_FILE"
)

// Anomaly is one finding of a scan.
type Anomaly struct {
	Type   string `json:"type"`
	Path   string `json:"path"`
	Detail string `json:"detail"`
}

// StoreScan is the scan result of one store.
type StoreScan struct {
	Store     string    `json:"store"`
	Backend   string    `json:"backend"`
	Anomalies []Anomaly `json:"anomalies"`
	// Missing says the store has no file and its configuration allows that (missing_ok):
	// there was nothing to scan. A missing store without missing_ok is an Error.
	Missing bool   `json:"missing,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Scan is what `papyrad scan --json` prints.
type Scan struct {
	Stores []StoreScan `json:"stores"`
}
