// Command papyrawriter appends Papyra-style records to a store the way an application using
// Papyra's JsonFilePersistence does, for papyrad's concurrency and crash tests.
//
//	papyrawriter -path events.ndjson -writer A -mode append [-interval 1ms] [-expired-every 0]
//	papyrawriter -path events.ndjson -writer A -mode papyra|logging -max-bytes 8192 -max-files 5 [-rate 2000] [-rename-pause 0]
//
// With -mode append each record is one open(O_APPEND)–write–close, as Papyra does; with
// -mode append -open-wait D each record waits D between its open and its write (a stop
// request ends the wait, and that record is not written); with
// -mode hold one O_APPEND descriptor is opened at start and used for every record, like a
// long-lived logger. The two rotating modes write a size-rotated set (path, path.1 newest …
// path.{max-files-1} oldest): -mode papyra is Papyra's RotatingFilePersistence (open–append–
// close per record; rotation waits while the oldest slot is taken, and the active file grows
// past -max-bytes meanwhile), -mode logging is Python logging's RotatingFileHandler (one
// long-lived handle, closed and reopened at each rollover; a rollover with every slot taken
// removes the oldest segment).
//
// Each record carries the writer's name and a sequence number from 0. After its first record
// it prints "ready"; on SIGTERM or SIGINT (or, with -stdin, when its standard input is closed)
// it finishes the record it is writing, prints, in the rotating modes, "rotations R deleted D
// blocked B vanished V" (rollovers done, segments it removed itself, records written while the
// oldest slot blocked a due rotation, renames or removals that failed because the name it had
// just seen was gone: each is a FileNotFoundError Python would have raised into the
// application), then "written N" (records 0..N-1 were written, each with one write(2)) and
// exits 0. -rename-pause sleeps between a rotation's look at a name and its rename, as an
// interpreter descheduled there would, to widen that window for a test.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/papyrad/papyrad/internal/testutil"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		path         = flag.String("path", "", "store file")
		writer       = flag.String("writer", "w", "writer name recorded in each record")
		mode         = flag.String("mode", "append", "append: open-write-close per record; hold: one long-lived handle; papyra, logging: a rotating set")
		interval     = flag.Duration("interval", time.Millisecond, "pause between records")
		rate         = flag.Float64("rate", 0, "records per second, paced on the clock (for rates a sleep per record cannot reach); overrides -interval")
		expiredEvery = flag.Int64("expired-every", 0, "stamp every Nth record (seq%N == N-1) in 2001 instead of now; 0: never")
		maxBytes     = flag.Int64("max-bytes", 4096, "papyra, logging: rotate before the active file would grow past this")
		maxFiles     = flag.Int("max-files", 5, "papyra, logging: the active file plus this many minus one rotated segments")
		watchStdin   = flag.Bool("stdin", false, "also stop when standard input is closed")
		rotLock      = flag.String("rotation-lock", "", "papyra, logging: hold an flock on this file while rotating, so that a test that stops the writer can tell it is not halfway through a rotation")
		renamePause  = flag.Duration("rename-pause", 0, "papyra, logging: pause between looking a name up and renaming or removing it")
		openWait     = flag.Duration("open-wait", 0, "append: pause between opening the file and writing each record")
	)
	flag.Parse()
	rotating := *mode == "papyra" || *mode == "logging"
	if *path == "" || (*mode != "append" && *mode != "hold" && !rotating) ||
		(rotating && (*maxBytes <= 0 || *maxFiles < 2)) {
		flag.Usage()
		return 64
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	if *watchStdin {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			select {
			case stop <- syscall.SIGTERM:
			default: // a signal is already waiting
			}
		}()
	}

	open := func() (*os.File, error) {
		f, err := os.OpenFile(*path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666) // as Python's open(path, "a"): the umask decides
		if err == nil && *openWait > 0 {
			// A writer that opens, then takes its time to write; asked to stop meanwhile,
			// it stops without writing.
			select {
			case <-time.After(*openWait):
			case sig := <-stop:
				f.Close()
				select {
				case stop <- sig: // for the loop, which stops before the next record
				default:
				}
				return nil, errStopped
			}
		}
		return f, err
	}
	var rot rotator
	switch *mode {
	case "papyra":
		rot = &papyraRotator{set: set{path: *path, maxFiles: *maxFiles, lock: *rotLock, pause: *renamePause}, maxBytes: *maxBytes}
	case "logging":
		l, err := newLoggingRotator(set{path: *path, maxFiles: *maxFiles, lock: *rotLock, pause: *renamePause}, *maxBytes)
		if err != nil {
			fmt.Fprintln(os.Stderr, "papyrawriter:", err)
			return 1
		}
		rot = l
	}
	if rot != nil {
		defer rot.close()
	}
	var held *os.File
	if *mode == "hold" {
		f, err := open()
		if err != nil {
			fmt.Fprintln(os.Stderr, "papyrawriter:", err)
			return 1
		}
		defer f.Close()
		held = f
	}
	buf := make([]byte, 0, 512)
	var seq int64
	start := time.Now()
	for {
		select {
		case <-stop:
			if rot != nil {
				st := rot.stats()
				fmt.Printf("rotations %d deleted %d blocked %d vanished %d\n", st.rotations, st.deleted, st.blocked, st.vanished)
			}
			fmt.Printf("written %d\n", seq)
			return 0
		default:
		}
		ts := testutil.Now()
		if n := *expiredEvery; n > 0 && seq%n == n-1 {
			ts = testutil.Old(seq)
		}
		buf = testutil.AppendRecord(buf[:0], testutil.Key{Writer: *writer, Seq: seq}, ts)
		var err error
		if rot != nil {
			err = rot.append(buf)
		} else {
			err = write(held, open, buf)
		}
		if errors.Is(err, errStopped) {
			continue
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "papyrawriter: record %d: %v\n", seq, err)
			return 1
		}
		if seq == 0 {
			fmt.Println("ready")
		}
		seq++
		switch {
		case *rate > 0:
			if ahead := time.Until(start.Add(time.Duration(float64(seq) / *rate * float64(time.Second)))); ahead > 0 {
				time.Sleep(ahead)
			}
		case *interval > 0:
			time.Sleep(*interval)
		}
	}
}

// errStopped says the writer was asked to stop while it waited to write a record.
var errStopped = errors.New("stopped")

// write appends one record with a single write(2): through held if set, else through a
// descriptor opened and closed for this record only.
func write(held *os.File, open func() (*os.File, error), rec []byte) error {
	f := held
	if f == nil {
		var err error
		if f, err = open(); err != nil {
			return err
		}
	}
	n, err := f.Write(rec)
	if err == nil && n != len(rec) {
		err = fmt.Errorf("short write: %d of %d bytes", n, len(rec))
	}
	if held == nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
