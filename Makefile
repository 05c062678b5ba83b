# lvslab — everything a fresh Debian/Ubuntu machine needs, as make targets.
# The cgo libvirt bindings need libvirt-dev, gcc and pkg-config; real VMs
# need libvirt's daemons, QEMU, debootstrap and dnsmasq (see deps).

GO      ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
BIN     := bin/lvslab
PKGS    := ./...
# Debian packages: build (cgo), test (the completion scripts run in their own
# shells; the multi-host sandbox runs an sshd per simulated hypervisor; the
# class report page is read in headless chromium) and run (VMs in the sandbox).
DEB_BUILD := libvirt-dev gcc pkg-config make
DEB_TEST  := bash zsh fish openssh-server chromium chromium-driver
DEB_RUN   := libvirt-daemon libvirt-daemon-driver-qemu libvirt-daemon-system libvirt-clients \
             qemu-system-x86 qemu-utils debootstrap dnsmasq-base iproute2 iptables nftables \
             e2fsprogs openssh-client util-linux
E2E_TIMEOUT ?= 80m
# The end-to-end tests of cmd/lvslab against the built binary; a target adds -run.
E2E_TEST = LVSLAB_E2E=1 LVSLAB_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout $(E2E_TIMEOUT) -v ./cmd/lvslab
# The version "lvslab --version" prints: the git tag or commit of this tree.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION)
# make install [PREFIX=/usr/local] [DESTDIR=...]: the binary, its manual page
# and the bash, zsh and fish completions.
PREFIX  ?= /usr/local
MANDIR  := $(DESTDIR)$(PREFIX)/share/man/man1

.PHONY: all build assets deps unit fuzz test vet fmt-check e2e e2e-sandbox e2e-features e2e-student e2e-class e2e-hosts e2e-serve e2e-keepalived e2e-cutoff e2e-images lab bench bench-up bench-copies bench-class clean install man completion

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/lvslab

# The manual page and completion scripts, made by the binary from its own commands.
man: build
	mkdir -p bin/share
	$(BIN) man > bin/share/lvslab.1

completion: build
	mkdir -p bin/share
	for sh in bash zsh fish; do $(BIN) completion $$sh > bin/share/lvslab.$$sh || exit 1; done

install: build man completion
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/lvslab
	install -D -m 0644 bin/share/lvslab.1 $(MANDIR)/lvslab.1
	install -D -m 0644 bin/share/lvslab.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/lvslab
	install -D -m 0644 bin/share/lvslab.zsh $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_lvslab
	install -D -m 0644 bin/share/lvslab.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/lvslab.fish

# The class server's xterm.js, embedded in the binary: reinstalled from the
# pinned package-lock.json in a scratch folder (npm ci, no install scripts),
# its dist files and licences copied into the assets. To move to a newer
# version, change the pins in package.json and run npm install there first.
SERVE_VENDOR := provision/class/serve/assets/vendor

assets:
	rm -rf bin/assets-npm && mkdir -p bin/assets-npm
	cp $(SERVE_VENDOR)/package.json $(SERVE_VENDOR)/package-lock.json bin/assets-npm/
	cd bin/assets-npm && npm ci --ignore-scripts --no-audit --no-fund
	cp bin/assets-npm/node_modules/@xterm/xterm/lib/xterm.js bin/assets-npm/node_modules/@xterm/xterm/css/xterm.css \
	   bin/assets-npm/node_modules/@xterm/addon-fit/lib/addon-fit.js $(SERVE_VENDOR)/
	cp bin/assets-npm/node_modules/@xterm/xterm/LICENSE $(SERVE_VENDOR)/LICENSE.xterm
	cp bin/assets-npm/node_modules/@xterm/addon-fit/LICENSE $(SERVE_VENDOR)/LICENSE.addon-fit
	rm -rf bin/assets-npm

# Install the Debian packages lvslab needs to build and to run real VMs.
deps:
	@if [ "$$(id -u)" -ne 0 ]; then echo "make deps installs Debian packages: run it as root (sudo make deps)"; exit 1; fi
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEB_BUILD) $(DEB_TEST) $(DEB_RUN)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# Fast, hermetic tests: fake executor, test:///default libvirt.
unit:
	$(GO) test -count=1 $(PKGS)

# Go's native fuzzing, bounded: the lab decoder (seeded with the embedded
# labs) and the here-documents of the handouts. Unit runs only the seeds.
# Counts, not durations: a duration races Go's fuzzing coordinator at its
# end and fails with "context deadline exceeded" (go.dev/issue/75804).
# 200000 runs of the decoder: about 10 s on two quiet cores (here, under
# the load of other builds, 30 to 70 s).
FUZZTIME ?= 200000x

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./topology
	$(GO) test -run '^$$' -fuzz '^FuzzHeredoc$$' -fuzztime 100000x ./roles/shell

# All tests: format, vet, unit tests, fuzzing and the end-to-end run in real VMs.
test: fmt-check vet unit fuzz e2e

# The whole documented setup in real QEMU guests, inside a private network
# namespace with its own libvirtd (lvslab sandbox). Needs root. One after the
# other: two copies side by side, the student's session, remote hosts
# (e2e-hosts), the class over two hosts (e2e-class), the class server
# (e2e-serve), a node the student cut off (e2e-cutoff) and keepalived
# (e2e-keepalived).
e2e: build
	$(E2E_TEST) -run '^(TestE2E|TestStudentE2E|TestHostsE2E|TestClassE2E|TestServeE2E|TestCutOffE2E|TestKeepalivedE2E)$$'

# The sandbox that stays (root, 4 VMs), as "make lab" and the README's next
# commands use it, in an lvslab home of its own: sandbox start (a second one
# refused), sandbox -- CMD and sandbox shell inside it; the default lab up,
# the client's requests over lvslab ssh and verify, all from the root
# namespace, with no lab bridge there; sandbox stop leaves no namespace,
# daemon or record; daemons killed: status says gone, the next start clears
# what was left.
e2e-sandbox: build
	$(E2E_TEST) -run '^TestSandboxStartE2E$$'

# The references' features beyond NAT and DR with apache, in real VMs:
# dr-nginx (nginx real servers) up, verified, drilled, down; dr-fwmark (a
# firewall-mark service over ports 80+443 and a UDP service) up, verified,
# checked, rebooted, verified, down.
e2e-features: build
	$(E2E_TEST) -run 'TestFeaturesE2E'

# The student's scenario alone (make e2e runs it after the documented setup),
# in real guests (root): a bare tedu-nat, the handout's text typed line by
# line over "lvslab ssh" with two mistakes and two things forgotten, "check"
# naming each, the fixes, "check" passing, the handout's expected results;
# then the NAT->DR stage's handout, check and verify tedu-dr, a reboot, check.
e2e-student: build
	$(E2E_TEST) -run '^TestStudentE2E$$'

# A class of two students over two simulated hypervisors (lvslab sandbox
# --hypervisors 2, reached only over qemu+ssh), in real guests (root, 8 VMs):
# class up puts one copy on each host, class check and verify pass both, the
# HTML report shows two green rows in headless chromium, class down leaves
# nothing on either host.
e2e-class: build
	$(E2E_TEST) -run '^TestClassE2E$$'

# The class server (root, 8 VMs): a class of two bare copies, class
# credentials, class serve; alice in headless chromium opens web1's terminal,
# checks (FAILs), her copy is configured, checks (all pass) while the
# teacher's grid turns red then green without a reload; alice through the SSH
# door with OpenSSH (ssh -J into her web1 works, into bob's and a command on
# the door are refused); the teacher resets alice's copy to bare and bob's VMs
# are untouched; SIGTERM stops the server.
e2e-serve: build
	$(E2E_TEST) -run '^TestServeE2E$$'

# High availability (root, 5 VMs): tedu-dr, then tedu-keepalived-dr on the
# same VMs plus lvs2, verified and checked; the master failed three ways
# (stop, kill, nic-down) and restored with the gap measured; a download
# across the failover with connection sync and without; web1 out by its
# health check and back; back to tedu-dr; tedu-keepalived-web drilled.
e2e-keepalived: build
	$(E2E_TEST) -run '^TestKeepalivedE2E$$'

# A node the student cut off (root, 4 VMs): tedu-nat up; on web1 mgmt0 taken
# down and sshd stopped; status names both causes, read through the QEMU
# guest agent, within 5 s; check reports web1 in seconds; up restores
# lvslab's access within 20 s and goes on; verify passes.
e2e-cutoff: build
	$(E2E_TEST) -run '^TestCutOffE2E$$'

# Your own images (root, 4 VMs at a time): lvslab's image and two disks
# made from Debian's packages the way distributions make theirs, "cloud"
# (GRUB on the disk, cloud-init) and "base" (root's password, a serial
# getty, no cloud-init: set up over the console), built outside the sandbox
# and the latter two imported (what lvslab detected on them checked); then
# on each in turn tedu-nat up, verified, switched to tedu-dr, verified,
# status's OS, network owner and seeding per node, the base password looked
# for in tags, console logs, state files and --debug output, down leaves
# nothing. Prints first boot to SSH per image. Not in "make e2e": three
# image builds and three labs, about 35-45 min under TCG on two cores.
e2e-images: build
	$(E2E_TEST) -run '^TestImagesE2E$$'

# Remote hosts end to end (root, 8 VMs): in lvslab sandbox --hypervisors 2,
# one tedu-nat copy up on each host over qemu+ssh (the image uploaded to each
# pool), verify and status through the jump, a second up uploads nothing,
# ssh-config and plain ssh through ProxyJump, down leaves no domain, network
# or lab volume on either host. Prints phase times.
e2e-hosts: build
	$(E2E_TEST) -run '^TestHostsE2E$$'

# The main job: bring up the default lab and verify it, in a sandbox that
# stays (started unless one runs), so that "bin/lvslab ssh", "verify", "down"
# and "sandbox stop" find it afterwards: as root, lvslab's libvirt commands
# run inside the started sandbox. The image is built first, outside: the
# sandbox's network has no way out.
lab: build
	$(BIN) image build
	$(BIN) sandbox status >/dev/null 2>&1 || $(BIN) sandbox start
	$(BIN) up
	$(BIN) verify

# Benchmarks in real QEMU guests, inside the sandbox (root). bench-up: the
# floor (the same four domains defined and started with plain virsh, until
# each sends an SSH banner) against "lvslab up --vms-only", and "down".
# bench: the floor, up, first configure, re-run, NAT -> DR, verify with both
# probers, down. Figures are printed, not asserted.
BENCH_TIMEOUT ?= 60m
BENCH_TEST = LVSLAB_BENCH=1 LVSLAB_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout $(BENCH_TIMEOUT) -v ./cmd/lvslab

bench: build
	$(BIN) image build
	$(BENCH_TEST) -run '^TestBench$$'

# bench-copies: 1, 2 and 3 copies of tedu-nat up at once and verified,
# against the plain-virsh floor of as many VMs; then the smallest guest
# memory (128, 192, 256 MiB) with which a copy verifies, and its QEMU RSS.
# LVSLAB_BENCH_COPIES=1,2 and LVSLAB_BENCH_MEMORY=192 run a part of it.
bench-copies: build
	$(BIN) image build
	$(BENCH_TEST) -run '^TestBenchCopies$$'

# bench-class: in lvslab sandbox --hypervisors 2, a class of 3 tedu-nat
# copies over the 2 hosts: time to all verified (class up + class verify)
# against the plain-virsh floor of the same 12 VMs over the same qemu+ssh
# URIs, per-copy phases (upload, boot, configure, verify, down) and the
# peak QEMU RSS per copy. LVSLAB_BENCH_BATCH=1 brings the copies up one at
# a time.
bench-class: build
	$(BIN) image build
	$(BENCH_TEST) -run '^TestBenchClass$$'

bench-up: build
	$(BIN) image build
	$(BENCH_TEST) -run '^TestBenchUp$$'

clean:
	rm -rf bin
