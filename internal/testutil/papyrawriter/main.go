// Command papyrawriter appends Papyra-style records to a store the way an application using
// Papyra's JsonFilePersistence does, for papyrad's concurrency and crash tests.
//
//	papyrawriter -path events.ndjson -writer A -mode append [-interval 1ms] [-expired-every 0]
//
// With -mode append each record is one open(O_APPEND)–write–close, as Papyra does; with
// -mode hold one O_APPEND descriptor is opened at start and used for every record, like a
// long-lived logger. Each record carries the writer's name and a sequence number from 0.
// After its first record it prints "ready"; on SIGTERM or SIGINT it finishes the record it is
// writing, prints "written N" (records 0..N-1 were written, each with one write(2)) and exits 0.
package main

import (
	"flag"
	"fmt"
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
		mode         = flag.String("mode", "append", "append: open-write-close per record; hold: one long-lived handle")
		interval     = flag.Duration("interval", time.Millisecond, "pause between records")
		expiredEvery = flag.Int64("expired-every", 0, "stamp every Nth record (seq%N == N-1) in 2001 instead of now; 0: never")
	)
	flag.Parse()
	if *path == "" || (*mode != "append" && *mode != "hold") {
		flag.Usage()
		return 64
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)

	open := func() (*os.File, error) {
		return os.OpenFile(*path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
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
	for {
		select {
		case <-stop:
			fmt.Printf("written %d\n", seq)
			return 0
		default:
		}
		ts := testutil.Now()
		if n := *expiredEvery; n > 0 && seq%n == n-1 {
			ts = testutil.Old(seq)
		}
		buf = testutil.AppendRecord(buf[:0], testutil.Key{Writer: *writer, Seq: seq}, ts)
		if err := write(held, open, buf); err != nil {
			fmt.Fprintf(os.Stderr, "papyrawriter: record %d: %v\n", seq, err)
			return 1
		}
		if seq == 0 {
			fmt.Println("ready")
		}
		seq++
		if *interval > 0 {
			time.Sleep(*interval)
		}
	}
}

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
