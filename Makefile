# papyrad — build, test and benchmark.
GO        ?= go
BIN       ?= bin/papyrad
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/papyrad/papyrad/internal/cli.Version=$(VERSION)
PREFIX    ?= /usr/local
STATICCHECK_VERSION ?= v0.8.2

.PHONY: all build run test test-short bench lint fuzz clean torture

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/papyrad

# run builds papyrad and compacts the shipped example store (a copy, so it can be run again).
run: build
	@rm -rf .example && mkdir -p .example/state && cp configs/example-store.ndjson .example/events.ndjson && \
	  $(BIN) compact --config configs/example.yaml --dry-run && \
	  $(BIN) compact --config configs/example.yaml

# test is what CI runs: vet, every test with the race detector, and a short run of each fuzz
# target's seed corpus (part of go test). The kill loops and the daemon soak run briefly here
# (see torture). vet runs beside the tests: the end-to-end package (cmd/papyrad, by far the
# longest, 4 tests at a time) spends much of its time waiting for the programs it starts.
test:
	$(GO) vet ./... & vet=$$!; \
	$(GO) test -race -count=1 -timeout 15m ./...; status=$$?; \
	wait $$vet || status=1; exit $$status

# torture runs at length what make test runs briefly: the kill loops (papyrad SIGKILLed at
# random moments of runs on json, rotating and redis stores with live writers, then checked
# record by record), the conformance suite's kill loops and crash points (every file operation
# of a run failed in turn) for each backend, and the daemon soak. PAPYRAD_TORTURE_ITERATIONS sets how many runs each
# kill loop starts and kills (TestCrash's case with a long-lived writer half as many; by
# default 400 for the rotating set, 40 for the S3 archive and 100 for the others: about 800 in
# all); PAPYRAD_SOAK how long
# the soak's writers run. -v prints each loop's figures: iterations, where the kills landed,
# records verified, and the soak's memory, goroutines and descriptors. One test at a time
# (-parallel 1): the soak judges the daemon's pace over minutes, and the kill loops aim at
# phases of runs timed on a machine they do not share with each other.
PAPYRAD_SOAK ?= 10m
torture:
	PAPYRAD_TORTURE=1 $(GO) test -race -count=1 -timeout 180m -v -run 'Conformance' ./internal/backends/...
	PAPYRAD_TORTURE=1 PAPYRAD_SOAK=$(PAPYRAD_SOAK) $(GO) test -race -count=1 -timeout 180m -parallel 1 -v -run 'Crash|Soak' ./cmd/papyrad/

test-short:
	$(GO) test -short -count=1 ./...

bench: build
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1x -timeout 60m ./bench/...

lint:
	gofmt -l . | (! grep .) || (echo "gofmt needed on the files above" && exit 1)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

# fuzz runs every fuzz target for FUZZTIME each.
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin .example

# install puts papyrad, its systemd units and an example config in place (DESTDIR for staging,
# PREFIX for the binary). The units go to /etc/systemd/system, where units installed by the
# administrator (not by a distribution package) belong and take precedence over packaged ones;
# a packager sets SYSTEMDUNITDIR=/usr/lib/systemd/system. The units' ExecStart is rewritten to
# $(PREFIX)/bin/papyrad. An existing /etc/papyrad/papyrad.yaml is never overwritten.
SYSCONFDIR     ?= /etc
SYSTEMDUNITDIR ?= $(SYSCONFDIR)/systemd/system
SYSUSERSDIR    ?= $(SYSCONFDIR)/sysusers.d
UNITS          := papyrad.service papyrad-compact.service papyrad-compact.timer

.PHONY: install
install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(SYSCONFDIR)/papyrad
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/papyrad
	for u in $(UNITS); do \
	  sed 's|/usr/local/bin/papyrad|$(PREFIX)/bin/papyrad|g; s|/etc/papyrad/|$(SYSCONFDIR)/papyrad/|g' deploy/systemd/$$u > $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp && \
	  chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp && \
	  mv -f $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp $(DESTDIR)$(SYSTEMDUNITDIR)/$$u || exit 1; \
	done
	install -m 0644 deploy/sysusers.d/papyrad.conf $(DESTDIR)$(SYSUSERSDIR)/papyrad.conf
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/papyrad/papyrad.yaml ]; then \
	  echo "kept $(DESTDIR)$(SYSCONFDIR)/papyrad/papyrad.yaml (not overwritten)"; \
	else \
	  install -m 0644 configs/papyrad.example.yaml $(DESTDIR)$(SYSCONFDIR)/papyrad/papyrad.yaml && \
	  echo "installed $(DESTDIR)$(SYSCONFDIR)/papyrad/papyrad.yaml: edit it, then see README 'Running the daemon'"; \
	fi
