#!/usr/bin/env bash
# The image's base: Debian's packages, not a registry's image (none is reachable from
# the machines this is built on). debootstrap --variant=minbase installs Debian's
# essential set plus python3 and libbpf1 into a directory, which is trimmed as
# debian:bookworm-slim is (no apt lists, docs, man pages, locales) and written as a
# tar archive that `podman import` turns into an image.
#
#   scripts/image/base.sh OUT.tar [SUITE] [MIRROR]
#
# OUT.tar is replaced only when complete, so an interrupted run leaves no base behind.
set -euo pipefail

out=$1
suite=${2:-bookworm}
mirror=${3:-http://deb.debian.org/debian}
# What bpfman needs at run time beyond the essential set (see pyproject.toml: the
# kernel binding dlopens libbpf.so.1; everything else is Python wheels).
packages=python3,libbpf1

work=$(mktemp -d "$(dirname "$out")/base.XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs

debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$work/log" 2>&1 ||
	{ tail -20 "$work/log" >&2; exit 1; }

# Later apt-get installs in derived images stay as slim (debian:*-slim's rules).
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/90-bpfman-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CFG
cat >"$rootfs/etc/apt/apt.conf.d/90-bpfman-slim" <<'CFG'
APT::Install-Recommends "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
CFG

# What a container does not need: package lists and caches, documentation (the
# copyright files stay), translations, logs, and the build host's resolver and name.
find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$rootfs"/usr/share/{man,info,locale,lintian}/* \
	"$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/debconf/*-old \
	"$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/etc/resolv.conf "$rootfs"/etc/hostname

# podman provides /dev, /proc and /sys; their contents stay out of the archive.
tar -C "$rootfs" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
	-cf "$work/base.tar" .
mv "$work/base.tar" "$out"
