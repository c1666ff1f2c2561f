# bpfman for Python. Run as root on Debian 12:
#   make demo   - install what is needed, run the tutorial flow on a veth pair in a netns
#   make test   - install what is needed, run lint, type checks and every test (host + VM lane)
#   make test-unit - the pure-logic tests alone: no root, no kernel, no network (seconds)
#   make install - bpfman, bpfctl and bpfman-rpc in /usr/local/bin, its units, man pages, completions
#   make bpf    - the example and test programs, into build/bpf (installs only the compiler's packages)
#   make image  - bpfman's container image for bpfman-operator (localhost/bpfman), see deploy/
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Debian packages, by who needs them: bpfman itself and `make install` (libbpf.so.1 is
# its one native dependency at run time), `make bpf` (the example and test programs),
# and only the tests and the demo (the VM lane's QEMU and kernel, podman, a registry...).
# make install and make bpf install what they need when it is missing; make venv, test
# and demo install all three lists.
RUN_PACKAGES := libbpf1 python3-venv
BUILD_PACKAGES := clang llvm libbpf-dev bpftool make
TEST_PACKAGES := iproute2 iputils-ping qemu-system-x86 linux-image-amd64 busybox-static kmod \
	file docker-registry apache2-utils podman xdp-tools systemd strace debootstrap runc tmux
# the man page tests render every page with groff and man
TEST_PACKAGES += groff-base man-db
# The VM lane's kernels beyond Debian 12's own (see tests/vm/runner.py).
KERNEL_612 := build/kernels/6.12

.PHONY: all deps deps-run deps-build kernels venv bpf ffi dispatchers profiler proto demo image test test-unit test-host test-vm lint bench clean install uninstall

all: venv bpf

# apt-get runs only when a package is missing (and then updates its lists first).
apt_install = missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

deps:
	@$(call apt_install,$(RUN_PACKAGES) $(BUILD_PACKAGES) $(TEST_PACKAGES))

deps-run:
	@$(call apt_install,$(RUN_PACKAGES))

deps-build:
	@$(call apt_install,$(BUILD_PACKAGES))

# Debian's bookworm-backports 6.12 kernel, unpacked for the VM lane; the machine's apt
# sources stay as they are. Fetched once: a complete copy is kept (make clean drops it).
kernels: deps
	./scripts/fetch-kernel.sh $(KERNEL_612)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e '.[test]' --config-settings editable_mode=compat
	touch $(STAMP)

venv: deps $(STAMP)

bpf: deps-build
	$(MAKE) -s -C bpf

# Regenerate the pre-parsed C declarations of the kernel binding (commit the result).
ffi: venv
	$(PY) -m bpfman.kernel.build_ffi

# Rebuild the dispatcher objects shipped in the package (commit the result).
dispatchers: deps-build
	$(MAKE) -C bpf/dispatchers

# Regenerate the committed gRPC modules from their .proto files (commit the result).
PROTOS := bpfman/service/bpfman.proto bpfman/csi/csi.proto
proto: venv
	$(PY) -m grpc_tools.protoc -I. --python_out=. --pyi_out=. --grpc_python_out=. $(PROTOS)
# Rebuild the profiler object shipped in the package (commit the result).
profiler: deps-build
	$(MAKE) -C bpf/profiler

demo: venv
	./scripts/demo.sh

# bpfman's OCI image, localhost/bpfman:latest and :<version>, on a Debian base built with
# debootstrap (no registry is needed); cached in build/image, so a second run with
# nothing changed takes seconds. IMAGE_BASE, DEBIAN_MIRROR, PODMAN_FLAGS,
# PODMAN_BUILD_FLAGS: see scripts/image/build.sh.
IMAGE := localhost/bpfman
image: venv
	./scripts/image/build.sh $(PY) $(IMAGE)

lint: venv
	$(VENV)/bin/ruff check bpfman tests bench
	$(VENV)/bin/ruff format --check bpfman tests bench
	$(VENV)/bin/mypy --strict bpfman
	$(VENV)/bin/mypy --strict tests

test-unit: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests/unit

test-host: venv bpf
	$(PY) -m pytest -q -p no:cacheprovider --deselect tests/test_vm_lane.py tests

test-vm: venv bpf kernels
	$(PY) -m tests.vm.runner

test: venv bpf kernels lint
	$(PY) -m pytest -q -p no:cacheprovider tests

bench: venv bpf image
	$(PY) -m bench.cli_latency
	$(PY) -m bench.journal
	$(PY) -m bench.image
	$(PY) -m bench.dispatcher
	$(PY) -m bench.service
	$(PY) -m bench.metrics
	$(PY) -m bench.declared

# make install [PREFIX=/usr/local] [DESTDIR=] [INSTALL_PYTHON=/usr/bin/python3]: bpfman in its own virtualenv under
# $(LIBDIR)/bpfman, `bpfman`, `bpfman-rpc` and `bpfctl` linked into $(BINDIR), the systemd
# units in $(UNITDIR), the socket's group in $(SYSUSERSDIR), bpfman's and bpfctl's man pages
# (generated from the CLI, dated by CHANGELOG.md or the last commit, or SOURCE_DATE_EPOCH)
# in $(MANDIR)/man1.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
UNITDIR ?= $(PREFIX)/lib/systemd/system
MANDIR ?= $(PREFIX)/share/man
# The shells' completion scripts, where bash-completion, zsh and fish look for them.
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
# The installed virtualenv runs on the system's interpreter, not whatever python3 comes
# first on PATH (a pyenv or a developer's build that may vanish): INSTALL_PYTHON=... to change.
INSTALL_PYTHON ?= /usr/bin/python3
APPDIR := $(LIBDIR)/bpfman

# On this machine (no DESTDIR) it first installs what it needs to run; a staged install
# for a package leaves the machine's packages alone.
install: $(if $(DESTDIR),,deps-run)
	rm -rf "$(DESTDIR)$(APPDIR)"
	$(INSTALL_PYTHON) -m venv "$(DESTDIR)$(APPDIR)"
	"$(DESTDIR)$(APPDIR)/bin/python" -m pip install -q --upgrade pip
	"$(DESTDIR)$(APPDIR)/bin/python" -m pip install -q .
	@# the virtualenv is used from $(APPDIR): drop DESTDIR from its scripts
	if [ -n "$(DESTDIR)" ]; then \
		grep -rlI -- "$(DESTDIR)$(APPDIR)" "$(DESTDIR)$(APPDIR)/bin" | \
			xargs -r sed -i "s|$(DESTDIR)$(APPDIR)|$(APPDIR)|g"; \
	fi
	install -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(UNITDIR)"
	ln -sf "$(APPDIR)/bin/bpfman" "$(DESTDIR)$(BINDIR)/bpfman"
	ln -sf "$(APPDIR)/bin/bpfman-rpc" "$(DESTDIR)$(BINDIR)/bpfman-rpc"
	ln -sf "$(APPDIR)/bin/bpfctl" "$(DESTDIR)$(BINDIR)/bpfctl"
	for unit in bpfman bpfman-metrics bpfman-restore; do \
		sed "s|@BINDIR@|$(BINDIR)|g" systemd/$$unit.service.in > "$(DESTDIR)$(UNITDIR)/$$unit.service"; \
		chmod 0644 "$(DESTDIR)$(UNITDIR)/$$unit.service"; \
	done
	install -m 0644 systemd/bpfman.socket "$(DESTDIR)$(UNITDIR)/bpfman.socket"
	@# the socket's group (SocketGroup=bpfman), created now on this system, at boot elsewhere
	install -D -m 0644 systemd/bpfman.sysusers "$(DESTDIR)$(SYSUSERSDIR)/bpfman.conf"
	if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers > /dev/null; then \
		systemd-sysusers "$(SYSUSERSDIR)/bpfman.conf"; \
	fi
	"$(DESTDIR)$(APPDIR)/bin/python" -I -m bpfman man --source-tree "$(CURDIR)" "$(DESTDIR)$(MANDIR)/man1" > /dev/null
	"$(DESTDIR)$(APPDIR)/bin/python" -I -m bpfman completions "$(DESTDIR)$(APPDIR)/completions" > /dev/null
	install -D -m 0644 "$(DESTDIR)$(APPDIR)/completions/bpfman.bash" "$(DESTDIR)$(BASHCOMPDIR)/bpfman"
	install -D -m 0644 "$(DESTDIR)$(APPDIR)/completions/_bpfman" "$(DESTDIR)$(ZSHCOMPDIR)/_bpfman"
	install -D -m 0644 "$(DESTDIR)$(APPDIR)/completions/bpfman.fish" "$(DESTDIR)$(FISHCOMPDIR)/bpfman.fish"

uninstall:
	rm -f "$(DESTDIR)$(BINDIR)/bpfman" "$(DESTDIR)$(BINDIR)/bpfman-rpc" "$(DESTDIR)$(BINDIR)/bpfctl"
	@# the bpfman group stays: files may still carry its gid (as package removals leave groups)
	rm -f "$(DESTDIR)$(SYSUSERSDIR)/bpfman.conf"
	rm -f "$(DESTDIR)$(UNITDIR)/bpfman.service" "$(DESTDIR)$(UNITDIR)/bpfman.socket" \
		"$(DESTDIR)$(UNITDIR)/bpfman-metrics.service" "$(DESTDIR)$(UNITDIR)/bpfman-restore.service"
	rm -f "$(DESTDIR)$(MANDIR)/man1/"bpfman.1.gz "$(DESTDIR)$(MANDIR)/man1/"bpfman-*.1.gz
	rm -f "$(DESTDIR)$(MANDIR)/man1/"bpfctl.1.gz "$(DESTDIR)$(MANDIR)/man1/"bpfctl-*.1.gz
	rm -f "$(DESTDIR)$(BASHCOMPDIR)/bpfman" "$(DESTDIR)$(ZSHCOMPDIR)/_bpfman" "$(DESTDIR)$(FISHCOMPDIR)/bpfman.fish"
	rm -rf "$(DESTDIR)$(APPDIR)"

clean:
	$(MAKE) -s -C bpf clean
	rm -rf build
