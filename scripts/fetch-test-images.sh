#!/usr/bin/env bash
# Fetches real Debian kernel images that the image-decoder tests compare with
# ../shared/data (optional: tests skip with a reason when an image is absent).
# Images land in target/test-images/ (ignored by git: kernel images are large).
#   bash scripts/fetch-test-images.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/test-images
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# linux-image-6.1.0-56-amd64 (6.1.192-2) is the kernel of ../shared/data/debian-6.1.0-56.
for pkg in linux-image-6.1.0-56-amd64-unsigned; do
  if ls "$out"/vmlinuz-6.1.0-56-amd64 >/dev/null 2>&1; then
    echo "have $out/vmlinuz-6.1.0-56-amd64"
    continue
  fi
  if ! apt-cache show "$pkg" >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] && apt-get update -qq || true
  fi
  (cd "$tmp" && apt-get download "$pkg")
  dpkg-deb -x "$tmp"/"$pkg"_*.deb "$tmp/x"
  cp "$tmp"/x/boot/vmlinuz-* "$out"/
  rm -rf "$tmp/x" "$tmp"/*.deb
done
ls -l "$out"
