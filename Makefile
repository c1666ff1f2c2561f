# bpfman for Python. Run as root on Debian 12:
#   make demo   - install what is needed, run the tutorial flow on a veth pair in a netns
#   make test   - install what is needed, run lint, type checks and every test (host + VM lane)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

DEBIAN_PACKAGES := clang llvm libbpf-dev libbpf1 bpftool iproute2 iputils-ping make \
	python3-venv qemu-system-x86 linux-image-amd64 busybox-static kmod file docker-registry \
	apache2-utils podman xdp-tools
# The VM lane's kernels beyond Debian 12's own (see tests/vm/runner.py).
KERNEL_612 := build/kernels/6.12

.PHONY: all deps kernels venv bpf dispatchers demo test test-host test-vm lint bench clean

all: venv bpf

deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

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

bpf: deps
	$(MAKE) -s -C bpf

# Rebuild the dispatcher objects shipped in the package (commit the result).
dispatchers: deps
	$(MAKE) -C bpf/dispatchers

demo: venv
	./scripts/demo.sh

lint: venv
	$(VENV)/bin/ruff check bpfman tests bench
	$(VENV)/bin/ruff format --check bpfman tests bench
	$(VENV)/bin/mypy --strict bpfman

test-host: venv bpf
	$(PY) -m pytest -q -p no:cacheprovider --deselect tests/test_vm_lane.py tests

test-vm: venv bpf kernels
	$(PY) -m tests.vm.runner

test: venv bpf kernels lint
	$(PY) -m pytest -q -p no:cacheprovider tests

bench: venv bpf
	$(PY) -m bench.cli_latency
	$(PY) -m bench.image
	$(PY) -m bench.dispatcher

clean:
	$(MAKE) -s -C bpf clean
	rm -rf build
