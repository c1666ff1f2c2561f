#!/usr/bin/env bash
# make image: bpfman's OCI image, tagged IMAGE:latest and IMAGE:<version>.
#
#   scripts/image/build.sh PYTHON IMAGE
#
# PYTHON builds the wheels (it must be the base's Python version, bookworm's 3.11).
# The base is Debian's packages through debootstrap (no registry needed), or IMAGE_BASE
# where a registry is reachable (debian:bookworm-slim: the Containerfile's default).
# Cached in build/image: the debootstrapped base (base.tar, rebuilt only when missing;
# remove it to take Debian's updates), its podman import (named after its checksum),
# the wheels (bpfman's until its sources change, the others' until pyproject.toml
# does). The image is labelled with a digest of its inputs and built again only when
# they change, so a second run with nothing changed takes seconds and keeps the image.
set -euo pipefail
cd "$(dirname "$0")/../.."

python=$1
image=$2
out=build/image
context=$out/context
suite=bookworm
# This machine's podman: hybrid cgroups make crun refuse to run anything ("cgroups in
# hybrid mode not supported"), and without CAP_SYS_RESOURCE podman's default rlimits
# cannot be set; runc and limits at or below the current ones work. A normal host
# (systemd, cgroup v2) needs none of it: PODMAN_FLAGS= PODMAN_BUILD_FLAGS= make image.
read -ra podman_flags <<<"${PODMAN_FLAGS---runtime runc}"
read -ra build_flags <<<"${PODMAN_BUILD_FLAGS---ulimit nofile=1024:1024 --ulimit nproc=1000:1000}"
podman() { command podman "${podman_flags[@]}" "$@"; }

version=$("$python" -c 'import bpfman; print(bpfman.__version__)')
mkdir -p "$out"

if [ -n "${IMAGE_BASE:-}" ]; then
	base=$IMAGE_BASE # a registry's image, e.g. docker.io/library/debian:bookworm-slim
else
	if [ ! -s "$out/base.tar" ]; then
		echo "debootstrap: Debian $suite (minbase, python3, libbpf1) into $out/base.tar"
		scripts/image/base.sh "$out/base.tar" "$suite" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
	fi
	[ "$out/base.sha256" -nt "$out/base.tar" ] || sha256sum "$out/base.tar" >"$out/base.sha256"
	base=localhost/bpfman-base:$suite-$(cut -c1-12 "$out/base.sha256")
	if ! podman image exists "$base"; then
		podman import --quiet "$out/base.tar" "$base" >/dev/null
		# earlier imports of a base since rebuilt (kept while an image still uses them)
		podman images --format '{{.Repository}}:{{.Tag}}' localhost/bpfman-base | grep -vxF "$base" |
			xargs -r podman rmi >/dev/null 2>&1 || true
	fi
fi

# bpfman's wheel, built again only when its sources changed, from a copy of them
# (setuptools would build in the project's own build/), then every dependency's and
# pip's (again when pyproject.toml changes). SOURCE_DATE_EPOCH makes the wheel's bytes
# depend on the sources alone, so unchanged sources give an unchanged image.
mkdir -p "$context/wheels"
sources=$(find pyproject.toml README.md bpfman -name __pycache__ -prune -o -type f -print |
	LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-64)
if [ "$(cat "$context/wheels/.sources" 2>/dev/null)" != "$sources" ] ||
	! compgen -G "$context/wheels/bpfman-*.whl" >/dev/null; then
	rm -rf "$out/src" "$context/wheels/bpfman-"*.whl
	mkdir -p "$out/src"
	cp -r pyproject.toml README.md bpfman "$out/src/"
	find "$out/src" -name __pycache__ -prune -exec rm -rf {} +
	export SOURCE_DATE_EPOCH=315532800
	wheel=("$python" -m pip wheel -qq --no-build-isolation --wheel-dir "$context/wheels")
	if [ ! -e "$context/wheels/.deps" ] || [ pyproject.toml -nt "$context/wheels/.deps" ]; then
		rm -f "$context/wheels/"*.whl
		"${wheel[@]}" "$out/src" pip
		touch "$context/wheels/.deps"
	else
		"${wheel[@]}" --no-deps "$out/src"
	fi
	echo "$sources" >"$context/wheels/.sources"
fi

# The image records what it was built from; the same inputs again build nothing.
inputs=$( (cat scripts/image/Containerfile; echo "$base $version"; cd "$context" && sha256sum wheels/*.whl) |
	sha256sum | cut -c1-64)
old=$(podman image inspect --format '{{.Id}} {{index .Labels "io.bpfman.image.inputs"}}' "$image:latest" 2>/dev/null || true)
if [ "${old#* }" != "$inputs" ]; then
	# No layer cache: what a rebuild would reuse is the base, and stale intermediate
	# images would pile up in the machine's store with every change of the sources.
	podman build "${build_flags[@]}" --layers=false --quiet --label io.bpfman.image.inputs="$inputs" \
		--build-arg BASE="$base" --build-arg VERSION="$version" \
		-f scripts/image/Containerfile -t "$image:latest" -t "$image:$version" "$context" >/dev/null
	# The image this one replaces, unless another tag (an older version) still names it
	# or a container still uses it.
	if [ -n "$old" ] && [ "$(podman image inspect --format '{{len .RepoTags}}' "${old%% *}")" = 0 ]; then
		podman rmi "${old%% *}" >/dev/null 2>&1 || true
	fi
fi
size=$(podman image inspect --format '{{.Size}}' "$image:latest")
echo "$image:latest ($image:$version): $((size / 1000000)) MB"
