#!/usr/bin/env bash
# fetch-arm64-debug.sh -- fetch Debian's arm64 vmlinux and modules WITH
# DWARF matching ../shared/data/debian-6.1.0-57-cloud-arm64/ (kernel
# 6.1.0-57-cloud-arm64, package version 6.1.192-3), for the arm64
# source-line tests (crates/ksym/tests/lines_arm64.rs).
#
# Usage: scripts/fetch-arm64-debug.sh [DEST_DIR]
#   DEST_DIR defaults to $HOME/.cache/ksym-test-data. Results:
#   DEST_DIR/vmlinux-6.1.0-57-cloud-arm64 (273 MB, ET_DYN, GNU build-id
#   38403c625d8576740f2f4a1ef86619b88164437f) and
#   DEST_DIR/arm64-6.1-ko/{fat,vfat,bridge,xfs}.ko (unstripped).
#
# How: linux-image-6.1.0-57-cloud-arm64-dbg:arm64=6.1.192-3 (262 MB) through
# an APT configuration of its own for arm64 (scripts/lib/apt-arch.sh: the
# signed archive index checks it), then against the sha256 pinned below;
# only the members needed are taken out, the vmlinux checked against its
# own sha256, and the .deb deleted. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

KVER=6.1.0-57-cloud-arm64
PKG=linux-image-$KVER-dbg
VER=6.1.192-3
DEB_SHA=e7e8bb35f17ce5b8719e93401aa55a8bee7a64815a651ac3b18e40f105c7cd13
VMLINUX_SHA=658858b7e97c2581202e6a2e2fd952785843900de51e09ea948d6d555d8bd166
MODULES=(fs/fat/fat.ko fs/fat/vfat.ko net/bridge/bridge.ko fs/xfs/xfs.ko)
DEST=${1:-$HOME/.cache/ksym-test-data}

say() { printf 'fetch-arm64-debug: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
# shellcheck source=scripts/lib/apt-arch.sh
. scripts/lib/apt-arch.sh

VMLINUX=$DEST/vmlinux-$KVER
KO=$DEST/arm64-6.1-ko
have_all() {
    [ -f "$VMLINUX" ] && [ "$(sha256_of "$VMLINUX")" = "$VMLINUX_SHA" ] || return 1
    local m
    for m in "${MODULES[@]}"; do [ -s "$KO/$(basename "$m")" ] || return 1; done
}
if have_all; then
    say "have $VMLINUX and $KO"
    echo "$VMLINUX"
    exit 0
fi
mkdir -p "$DEST" "$KO"
tmp=$(mktemp -d "$DEST/.fetch-arm64.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
say "downloading $PKG=$VER (arm64, about 262 MB)"
(cd "$tmp" && apt_get arm64 bookworm download "$PKG:arm64=$VER" >&2) || {
    apt_arch_refresh arm64 bookworm
    (cd "$tmp" && apt_get arm64 bookworm download "$PKG:arm64=$VER" >&2) ||
        die "$PKG=$VER is not in Debian's archive any more (snapshot.debian.org has it)"
}
deb=$(ls "$tmp"/*.deb)
[ "$(sha256_of "$deb")" = "$DEB_SHA" ] || die "$deb has sha256 $(sha256_of "$deb"), expected $DEB_SHA"
members=("./usr/lib/debug/boot/vmlinux-$KVER")
for m in "${MODULES[@]}"; do members+=("./usr/lib/debug/lib/modules/$KVER/kernel/$m"); done
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" "${members[@]}"
[ "$(sha256_of "$tmp/usr/lib/debug/boot/vmlinux-$KVER")" = "$VMLINUX_SHA" ] || die "the vmlinux in $deb is not the one pinned"
for m in "${MODULES[@]}"; do
    mv "$tmp/usr/lib/debug/lib/modules/$KVER/kernel/$m" "$KO/"
done
mv "$tmp/usr/lib/debug/boot/vmlinux-$KVER" "$VMLINUX"
say "fetched $VMLINUX and ${#MODULES[@]} modules in $KO"
echo "$VMLINUX"
