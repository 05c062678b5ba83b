# lvslab — everything a fresh Debian/Ubuntu machine needs, as make targets.
# The cgo libvirt bindings need libvirt-dev, gcc and pkg-config; real VMs
# need libvirt's daemons, QEMU, debootstrap and dnsmasq (see deps).

GO      ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
BIN     := bin/lvslab
PKGS    := ./...
# Debian packages: build (cgo) and run (VMs in the sandbox).
DEB_BUILD := libvirt-dev gcc pkg-config make
DEB_RUN   := libvirt-daemon libvirt-daemon-driver-qemu libvirt-daemon-system libvirt-clients \
             qemu-system-x86 qemu-utils debootstrap dnsmasq-base iproute2 iptables nftables \
             e2fsprogs openssh-client util-linux
E2E_TIMEOUT ?= 80m

.PHONY: all build deps unit test vet fmt-check e2e lab bench bench-up clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/lvslab

# Install the Debian packages lvslab needs to build and to run real VMs.
deps:
	@if [ "$$(id -u)" -ne 0 ]; then echo "make deps installs Debian packages: run it as root (sudo make deps)"; exit 1; fi
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEB_BUILD) $(DEB_RUN)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# Fast, hermetic tests: fake executor, test:///default libvirt.
unit:
	$(GO) test -count=1 $(PKGS)

# All tests: format, vet, unit tests and the end-to-end run in real VMs.
test: fmt-check vet unit e2e

# The whole documented setup in real QEMU guests, inside a private network
# namespace with its own libvirtd (lvslab sandbox). Needs root.
e2e: build
	LVSLAB_E2E=1 LVSLAB_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout $(E2E_TIMEOUT) -run 'TestE2E' -v ./cmd/lvslab

# The main job: bring up the default lab and verify it, in a sandbox. The
# image is built first, outside: the sandbox's network has no way out.
lab: build
	$(BIN) image build
	$(BIN) sandbox -- sh -c '$(BIN) up && $(BIN) verify'

# Benchmarks in real QEMU guests, inside the sandbox (root). bench-up: the
# floor (the same four domains defined and started with plain virsh, until
# each sends an SSH banner) against "lvslab up --vms-only", and "down".
# bench: the floor, up, first configure, re-run, NAT -> DR, verify with both
# probers, down. Figures are printed, not asserted.
BENCH_TIMEOUT ?= 60m

bench: build
	$(BIN) image build
	LVSLAB_BENCH=1 LVSLAB_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout $(BENCH_TIMEOUT) -run '^TestBench$$' -v ./cmd/lvslab

bench-up: build
	$(BIN) image build
	LVSLAB_BENCH=1 LVSLAB_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout $(BENCH_TIMEOUT) -run '^TestBenchUp$$' -v ./cmd/lvslab

clean:
	rm -rf bin
