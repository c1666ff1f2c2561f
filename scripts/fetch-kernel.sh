#!/usr/bin/env bash
# Fetch Debian's newest bookworm-backports kernel (6.12) for the VM lane and unpack it
# into DEST (default build/kernels/6.12): DEST/boot/vmlinuz-<release>,
# DEST/boot/config-<release> and DEST/lib/modules/<release>/, where virtme-ng finds the
# modules of a kernel that is not installed (it looks for lib/modules beside boot/).
#
# The machine's apt sources are never changed: apt gets a sources list of its own that
# names only bookworm-backports on the mirror the machine already uses for bookworm,
# with its lists and caches in a temporary directory.
#
# Idempotent: a complete DEST (its .complete stamp) is kept and nothing is fetched;
# DEST appears only once complete, so an interrupted run leaves none behind.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-build/kernels/6.12}
suite=bookworm-backports
series=6.12

parent=$(dirname "$dest")
mkdir -p "$parent"
# One fetch at a time; a run killed before its trap leaves a .fetch-* directory behind.
exec 9>"$parent/.fetch.lock"
flock 9
if [ -f "$dest/.complete" ]; then
    exit 0
fi
rm -rf "$parent"/.fetch-*

mirror=$(apt-get indextargets --no-release-info --format '$(REPO_URI)' \
    'Release: bookworm' 'Identifier: Packages' | head -n 1)
if [ -z "$mirror" ]; then
    echo "fetch-kernel: apt's sources name no bookworm mirror" >&2
    exit 1
fi

work=$(realpath "$(mktemp -d "$parent/.fetch-XXXXXX")")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/parts" "$work/root"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" \
    > "$work/sources.list"
apt_opts=(
    -o "Dir::Etc::sourcelist=$work/sources.list" -o "Dir::Etc::sourceparts=$work/parts"
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
    -o "APT::Sandbox::User=root"
)

echo "fetch-kernel: $suite from $mirror"
apt-get "${apt_opts[@]}" -qq update
# linux-image-amd64 in backports depends on exactly one linux-image-<release>.
package=$(apt-cache "${apt_opts[@]}" show --no-all-versions linux-image-amd64 \
    | sed -n 's/^Depends: \(linux-image-[^ ,]*\).*/\1/p' | head -n 1)
case $package in
    linux-image-"$series".*) ;;
    *) echo "fetch-kernel: $suite offers '$package', not a $series kernel" >&2; exit 1 ;;
esac
(cd "$work" && apt-get "${apt_opts[@]}" -qq download "$package")
dpkg-deb -x "$work"/"$package"_*.deb "$work/root"

release=${package#linux-image-}
for f in "boot/vmlinuz-$release" "boot/config-$release" "lib/modules/$release/modules.order"; do
    [ -e "$work/root/$f" ] || { echo "fetch-kernel: $package has no $f" >&2; exit 1; }
done
# Debian ships no modules.dep in the package (its postinst runs depmod).
depmod -b "$work/root" "$release"
echo "$package $(dpkg-deb -f "$work"/"$package"_*.deb Version)" > "$work/root/.complete"

rm -rf "$dest"
mv "$work/root" "$dest"
echo "fetch-kernel: $package in $dest"
