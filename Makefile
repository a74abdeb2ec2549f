# papyrad — build, test and benchmark.
GO        ?= go
BIN       ?= bin/papyrad
PREFIX    ?= /usr/local
STATICCHECK_VERSION ?= v0.8.2

# What `papyrad version` and papyrad_build_info say: the release (git describe), the commit and
# when it was built (SOURCE_DATE_EPOCH when set, for reproducible builds), set at link time in
# github.com/prometheus/common/version. Outside a git checkout they say dev and unknown.
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BUILD_DATE ?= $(shell date -u $${SOURCE_DATE_EPOCH:+-d @$$SOURCE_DATE_EPOCH} +%Y-%m-%dT%H:%M:%SZ)
VERSION_PKG := github.com/prometheus/common/version
LDFLAGS    = -s -w -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Revision=$(REVISION) -X $(VERSION_PKG).BuildDate=$(BUILD_DATE)

.PHONY: all build run test test-short bench lint fuzz clean torture man completions

all: build

# build makes a static binary (no cgo): the same file goes into the Debian package and the image.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/papyrad

# DISTDIR holds what man, completions, deb and image make.
DISTDIR ?= dist

# man writes a man page per command (cobra's doc generator) to $(DISTDIR)/man.
man:
	rm -rf $(DISTDIR)/man
	$(GO) run -trimpath -ldflags '$(LDFLAGS)' ./internal/tools/manpages $(DISTDIR)/man

# completions writes the bash, zsh and fish completion scripts to $(DISTDIR)/completions.
completions: build
	mkdir -p $(DISTDIR)/completions
	$(BIN) completion bash > $(DISTDIR)/completions/papyrad.bash
	$(BIN) completion zsh > $(DISTDIR)/completions/_papyrad
	$(BIN) completion fish > $(DISTDIR)/completions/papyrad.fish

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
# random moments of runs on json, rotating and redis stores with live writers (the suite's in
# each of the three deployment modes: root, a dedicated user, its own PID namespace), then checked
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
	rm -rf bin .example $(DISTDIR)

# install puts papyrad, its man pages, shell completions, systemd units and an example config in
# place (DESTDIR for staging, PREFIX for the binary, the man pages and the completions). The units
# go to /etc/systemd/system, where units installed by the administrator (not by a distribution
# package) belong and take precedence over packaged ones; a packager sets
# SYSTEMDUNITDIR=/usr/lib/systemd/system. The units' ExecStart is rewritten to
# $(PREFIX)/bin/papyrad. An existing /etc/papyrad/papyrad.yaml is never overwritten.
SYSCONFDIR     ?= /etc
SYSTEMDUNITDIR ?= $(SYSCONFDIR)/systemd/system
SYSUSERSDIR    ?= $(SYSCONFDIR)/sysusers.d
MANDIR         ?= $(PREFIX)/share/man
BASHCOMPDIR    ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR     ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR    ?= $(PREFIX)/share/fish/vendor_completions.d
UNITS          := papyrad.service papyrad-compact.service papyrad-compact.timer

.PHONY: install
install: build man completions
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(SYSCONFDIR)/papyrad \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/papyrad
	install -m 0644 $(DISTDIR)/man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(DISTDIR)/completions/papyrad.bash $(DESTDIR)$(BASHCOMPDIR)/papyrad
	install -m 0644 $(DISTDIR)/completions/_papyrad $(DESTDIR)$(ZSHCOMPDIR)/_papyrad
	install -m 0644 $(DISTDIR)/completions/papyrad.fish $(DESTDIR)$(FISHCOMPDIR)/papyrad.fish
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

# deb builds $(DISTDIR)/papyrad_$(DEB_VERSION)_$(DEB_ARCH).deb with nfpm (run with go run: nothing
# to install) from what `make install` stages for PREFIX=/usr: packaging/nfpm.yaml lists the
# files, packaging/deb/ holds the maintainer scripts. The Debian version is VERSION without its
# leading v, git describe's -N-gHASH as +N.gHASH (after the release it follows).
NFPM_VERSION ?= v2.48.0
NFPM         ?= $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)
DEB_VERSION  ?= $(shell echo '$(VERSION)' | sed -E 's/^v//; s/-/+/; s/-/./g; /^[0-9]/!s/^/0~/')
DEB_ARCH     ?= $(shell $(GO) env GOARCH)
DEB          := $(DISTDIR)/papyrad_$(DEB_VERSION)_$(DEB_ARCH).deb

.PHONY: deb
deb:
	rm -rf $(DISTDIR)/deb-root
	$(MAKE) install DESTDIR=$(abspath $(DISTDIR))/deb-root PREFIX=/usr SYSCONFDIR=/etc \
	  SYSTEMDUNITDIR=/usr/lib/systemd/system SYSUSERSDIR=/usr/lib/sysusers.d ZSHCOMPDIR=/usr/share/zsh/vendor-completions
	gzip -9n $(DISTDIR)/deb-root/usr/share/man/man1/*.1
	STAGE=$(abspath $(DISTDIR))/deb-root DEB_VERSION='$(DEB_VERSION)' DEB_ARCH='$(DEB_ARCH)' \
	  $(NFPM) package --config packaging/nfpm.yaml --packager deb --target $(DEB)
	@echo "built $(DEB)"

# image builds papyrad's OCI image, FROM scratch: the static binary as entrypoint, run as
# IMAGE_UID (no passwd file needed), OCI labels. podman or buildah builds it offline (nothing is
# pulled); it is tagged $(IMAGE) in their local storage and written to $(IMAGE_ARCHIVE), an OCI
# archive for `podman load` or `skopeo copy`. CONTAINER_FLAGS passes options such as --root.
CONTAINER_TOOL  ?= $(shell command -v podman 2>/dev/null || command -v buildah 2>/dev/null)
CONTAINER_FLAGS ?=
IMAGE           ?= localhost/papyrad:$(shell echo '$(VERSION)' | sed 's/[^A-Za-z0-9_.-]/_/g')
IMAGE_ARCHIVE   ?= $(DISTDIR)/papyrad-image.oci.tar
IMAGE_UID       ?= 65532
IMAGE_SOURCE    ?= https://github.com/papyrad/papyrad
# No license file ships with papyrad yet: SPDX's NOASSERTION says so until one does.
IMAGE_LICENSES  ?= NOASSERTION

.PHONY: image
image: build
	@test -n "$(CONTAINER_TOOL)" || { echo "make image needs podman or buildah (apt-get install podman)"; exit 1; }
	rm -rf $(DISTDIR)/image && mkdir -p $(DISTDIR)/image/rootfs/usr/bin $(DISTDIR)/image/rootfs/var/lib/papyrad
	install -m 0755 $(BIN) $(DISTDIR)/image/rootfs/usr/bin/papyrad
	chmod 0750 $(DISTDIR)/image/rootfs/var/lib/papyrad
	tar -C $(DISTDIR)/image/rootfs --numeric-owner --owner=0 --group=0 --no-recursion \
	  -cf $(DISTDIR)/image/rootfs.tar usr usr/bin usr/bin/papyrad var var/lib
	tar -C $(DISTDIR)/image/rootfs --numeric-owner --owner=$(IMAGE_UID) --group=$(IMAGE_UID) \
	  -rf $(DISTDIR)/image/rootfs.tar var/lib/papyrad
	$(CONTAINER_TOOL) $(CONTAINER_FLAGS) build --pull=never -t $(IMAGE) \
	  --build-arg UID=$(IMAGE_UID) --build-arg VERSION='$(VERSION)' --build-arg REVISION='$(REVISION)' \
	  --build-arg CREATED='$(BUILD_DATE)' --build-arg SOURCE='$(IMAGE_SOURCE)' --build-arg LICENSES='$(IMAGE_LICENSES)' \
	  -f packaging/Containerfile $(DISTDIR)/image
	rm -f $(IMAGE_ARCHIVE)
	$(CONTAINER_TOOL) $(CONTAINER_FLAGS) push $(IMAGE) oci-archive:$(IMAGE_ARCHIVE)
	@echo "built $(IMAGE), written to $(IMAGE_ARCHIVE)"
