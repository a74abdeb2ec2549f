// Command papyrad compacts the stores that Papyra's persistence layer writes: single NDJSON
// files, size-rotated segment sets and Redis Streams. See the README for operation.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/papyrad/papyrad/internal/cli"
	// Time zones named in configs must work on hosts without a zone database.
	_ "time/tzdata"
)

func main() {
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
}
