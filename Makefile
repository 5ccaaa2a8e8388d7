# kan — see README.md. `make` builds ./kan; `make test` installs what the
# tests need and runs them all; `make demo` runs a busybox container.

GO       ?= go
COMMIT   := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
VERSION  := 0.1.0
# cgo only for the nsenter constructor (see docs/design.md); the binary is
# still static, linked against musl: a static glibc's start-up (CPU feature
# and cache probing with CPUID, which a virtual machine traps) costs about
# 1.2 ms of every process, kan's and its init's (docs/performance.md).
# Without musl-gcc, the system's C compiler and libc.
KAN_CC   ?= $(shell command -v musl-gcc 2>/dev/null || echo cc)
LDFLAGS  := -s -w -linkmode external -extldflags -static -X main.version=$(VERSION) -X main.commit=$(COMMIT)
GOFLAGS_BUILD := -trimpath -tags "netgo osusergo" -ldflags "$(LDFLAGS)"
SOURCES  := $(shell find . -name '*.go' -o -name '*.c' -o -name '*.h' | grep -v '^./tests/') go.mod go.sum

.PHONY: FORCE all test unit fuzz integration stress validation vmtest sysvmtest sysvm-integration sysvm-latency engines enginedeps demo deps vmdeps sysvmdeps clean lint bench

all: kan

kan: $(SOURCES) .kan-cc
	$(if $(findstring musl,$(KAN_CC)),,$(warning kan: no musl-gcc (tests/deps.sh installs it); building with $(KAN_CC) and its libc, slower to start))
	CC=$(KAN_CC) CGO_ENABLED=1 $(GO) build $(GOFLAGS_BUILD) -o $@ .

# Which C compiler built ./kan: a kan built before musl-gcc was installed
# is rebuilt once it is.
.kan-cc: FORCE
	@echo '$(KAN_CC)' | cmp -s - $@ || echo '$(KAN_CC)' > $@
FORCE:

deps:
	tests/deps.sh

vmdeps:
	tests/deps.sh vm

sysvmdeps:
	tests/deps.sh sysvm

enginedeps:
	tests/engines/deps.sh

lint:
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || { echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags vmtest ./tests/vm/
	$(GO) vet -tags sysvm ./tests/sysvm/
	cd tests/engines/cri && $(GO) vet .
	cd tests/seccompprofiles && $(GO) vet .

unit:
	$(GO) test -count=1 ./spec/... ./libcontainer/... .

# Short fuzz runs of the config parser and validator, and of the JSON kan
# reads and writes without encoding/json (spec's fast decoder, jsonfast,
# state.json) against encoding/json; the seed corpora are the packages'
# testdata/fuzz. make stress runs them longer. Counted in executions,
# not seconds: with a wall-clock -fuzztime, Go 1.26's fuzz coordinator can
# fail a target with "context deadline exceeded" at the deadline, having
# found nothing (go.dev/issue/75804, fixed in Go 1.27). 200,000 executions
# take about 6 s here.
FUZZTIME ?= 200000x
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=$(FUZZTIME) ./spec/
	$(GO) test -run='^$$' -fuzz=FuzzValidate -fuzztime=$(FUZZTIME) ./spec/
	$(GO) test -run='^$$' -fuzz=FuzzDecodeFast -fuzztime=$(FUZZTIME) ./spec/
	$(GO) test -run='^$$' -fuzz=FuzzSkip -fuzztime=$(FUZZTIME) ./libcontainer/jsonfast/
	$(GO) test -run='^$$' -fuzz=FuzzAppendString -fuzztime=$(FUZZTIME) ./libcontainer/jsonfast/
	$(GO) test -run='^$$' -fuzz=FuzzDecodeState -fuzztime=$(FUZZTIME) ./libcontainer/state/
	$(GO) test -run='^$$' -fuzz=FuzzEncode -fuzztime=$(FUZZTIME) ./libcontainer/state/

# The console-socket test helper (tests/recvtty): receives a container's pty.
tests/recvtty/recvtty: tests/recvtty/main.go $(SOURCES)
	$(GO) build -o $@ ./tests/recvtty

# The seccomp agent of the SCMP_ACT_NOTIFY tests (tests/seccompagent).
tests/seccompagent/seccompagent: tests/seccompagent/main.go
	$(GO) build -o $@ ./tests/seccompagent

# Integration tests drive the real binary as root on busybox bundles.
integration: kan tests/recvtty/recvtty tests/seccompagent/seccompagent
	SECCOMPAGENT_BINARY=$(CURDIR)/tests/seccompagent/seccompagent KAN_BINARY=$(CURDIR)/kan RECVTTY_BINARY=$(CURDIR)/tests/recvtty/recvtty $(GO) test -count=1 -timeout 20m ./tests/integration/ $(TESTFLAGS)

# The long variants of the robustness tests (docs/security.md): 1,000
# run/delete cycles and 1,000 execs, 300 containers at once, 25 rounds of 20
# commands on one id, every crash point 5 times, then two million fuzzed inputs
# each. make test runs the quick variants.
STRESS_TESTS := TestSoak|TestParallelContainers|TestConcurrentCommandsOneID|TestCrashSafety
stress: kan tests/recvtty/recvtty
	KAN_STRESS=1 KAN_BINARY=$(CURDIR)/kan RECVTTY_BINARY=$(CURDIR)/tests/recvtty/recvtty $(GO) test -count=1 -timeout 120m -v -run '$(STRESS_TESTS)' ./tests/integration/ $(TESTFLAGS)
	$(MAKE) fuzz FUZZTIME=2000000x

validation: kan
	tests/validation/run.sh -r $(CURDIR)/kan -e tests/validation/expected.txt

# The cgroup v2 tests run in a QEMU VM with a pure v2 hierarchy, which this
# kind of host (hybrid cgroups) cannot give (tests/vm/README.md). Flags for
# the test binary: make vmtest TESTFLAGS=-test.run=TestPureV2
vmtest: kan vmdeps
	GO=$(GO) tests/vm/run.sh $(CURDIR)/kan $(TESTFLAGS)

# The tests that need systemd as PID 1 (a real root filesystem, pure cgroup
# v2 under systemd, D-Bus, the engines, criu) run in a Debian VM whose
# image is built once from the Debian archive and cached (tests/sysvm).
# Flags for the test binary: make sysvmtest TESTFLAGS=-test.run=TestHost
sysvmtest: kan sysvmdeps
	GO=$(GO) tests/sysvm/test.sh $(CURDIR)/kan $(TESTFLAGS)

# The time a user waits for podman run, docker run and a CRI pod with one
# container, with kan, runc and crun behind each engine at its defaults
# (systemd cgroup driver), in the systemd VM: a Markdown table for
# docs/performance.md. LATENCY_N runs of each (default 10).
LATENCY_N ?= 10
sysvm-latency: kan sysvmdeps
	GO=$(GO) tests/sysvm/test.sh $(CURDIR)/kan -test.run=TestLatency -latency.n=$(LATENCY_N)

# The whole integration suite on the systemd VM, another kind of host
# (kernel 6.1, pure cgroup v2): about 5 minutes; not part of make test.
sysvm-integration: kan sysvmdeps
	GO=$(GO) tests/sysvm/integration.sh $(CURDIR)/kan $(TESTFLAGS)

# kan behind Podman, containerd (ctr) and Docker from Debian, each step
# also with runc for comparison; the daemons run with all their state in a
# temporary directory (tests/engines). Prints the engine × step matrix.
engines: kan enginedeps tests/engines/cri/cri
	cd tests/engines && KAN_BINARY=$(CURDIR)/kan CRI_BINARY=$(CURDIR)/tests/engines/cri/cri $(GO) test -count=1 -timeout 20m $(TESTFLAGS)

# A small CRI client (crictl is not in Debian 12), its own module: kan's
# go.mod does not carry gRPC.
tests/engines/cri/cri: tests/engines/cri/main.go tests/engines/cri/go.mod
	cd tests/engines/cri && $(GO) build -o cri .

test: deps lint unit fuzz integration validation vmtest sysvmtest engines

# kan against runc and crun, side by side: writes docs/performance.md.
bench: deps kan vmdeps sysvmdeps
	tests/bench/run.sh $(CURDIR)/kan

demo: deps kan
	tests/demo.sh $(CURDIR)/kan

clean:
	rm -f kan .kan-cc
