#!/usr/bin/env bash
# Builds the cached arm64 Debian root that the arm64 proof (test/e2e/arm64-device.test.ts) runs
# the device package in, when it is missing or was built from another recipe:
#   bash sim/arm64/build-root.sh [<tarball>]
# Default tarball: $EDGESHIP_ARM64_ROOT_CACHE, else /var/cache/edgeship-test/arm64-trixie-root.tar.zst
# (outside the checkout: every worktree and CI run reuses it). `.ci/run` calls this before
# `npm test` so the test only restores it; the test calls it too when the tarball is missing.
#
# trixie, not bookworm: the device package depends on nodejs (>= 20.19); bookworm has Node 18.
# The root holds only what a Raspberry Pi OS image has and the package needs: nodejs,
# openssh-server (the GPU server stages over SFTP), adduser/passwd (the package's postinst
# creates its user). Needs root, mmdebstrap, zstd and the qemu-aarch64 binfmt handler
# (sim/arm64/binfmt.sh) to run the arm64 maintainer scripts.
#
# A lock (flock on <tarball>.lock) keeps two runs from building at once: the second waits, then
# finds the tarball made. The tarball appears under its name only when complete (rename).
set -euo pipefail

out="${1:-${EDGESHIP_ARM64_ROOT_CACHE:-/var/cache/edgeship-test/arm64-trixie-root.tar.zst}}"
mirror="${EDGESHIP_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# The recipe is stored next to the tarball: a change to it (another package, suite) rebuilds.
recipe=(mmdebstrap --arch=arm64 --variant=apt --include=nodejs,openssh-server,ca-certificates,adduser,passwd trixie)

if [ "$(id -u)" -ne 0 ]; then
  echo "build-root.sh: building the arm64 root needs root (mmdebstrap in root mode, device nodes, ownership)" >&2
  exit 1
fi
for tool in mmdebstrap zstd; do
  command -v "$tool" >/dev/null || { echo "build-root.sh: $tool is not installed (bash scripts/install-system-packages.sh mmdebstrap zstd)" >&2; exit 1; }
done

mkdir -p "$(dirname "$out")"
exec 9>"$out.lock"
flock 9
if [ -f "$out" ] && [ "$(cat "$out.recipe" 2>/dev/null)" = "${recipe[*]}" ]; then
  exit 0
fi

bash "$(dirname "$0")/binfmt.sh"
tmp="$(dirname "$out")/.building-$$.tar.zst"
trap 'rm -f "$tmp"' EXIT
echo "build-root.sh: building the arm64 trixie root (${recipe[*]}) into $out, about 4 min" >&2
start=$(date +%s)
"${recipe[@]}" "$tmp" "$mirror"
mv -f "$tmp" "$out"
printf '%s\n' "${recipe[*]}" > "$out.recipe"
echo "build-root.sh: built $out ($(du -h "$out" | cut -f1)) in $(( $(date +%s) - start )) s" >&2
