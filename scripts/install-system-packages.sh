#!/usr/bin/env bash
# The Debian packages edgeship needs beside node_modules, the venv and the Temporal CLI, so that
# `npm ci && npm test` is the whole setup on a fresh machine. Installs only what is missing
# (nothing, and no output, on the next run). As root it installs quietly with apt-get; otherwise
# it stops at once and prints the one `sudo apt-get install` command to run, because a test run
# that dies three suites later with "sshd is not installed" tells a newcomer nothing.
#
# usage: install-system-packages.sh [--for <who>] [--optional <fallback>] [need…]
#   need       sshd | ssh-keygen | scp | chromium (default: these four, what `npm test` needs)
#              | qemu-x86_64 (Debian qemu-user: the INT8 cross-CPU test emulates an AVX2 CPU without VNNI)
#              | qemu-aarch64-static mmdebstrap zstd systemd-analyze (the arm64 proof: a Debian arm64
#                root built with mmdebstrap, cached as a zstd tarball, run through qemu-user-static's
#                binfmt handler; systemd-analyze checks the device units' sandboxing)
#   --for      who needs them, for the messages (default "npm test")
#   --optional the caller has a fallback, described for the message (the demo's embedded SSH
#              server): a missing package is installed when root, otherwise only reported, and a
#              failed install is a warning
#
# Environment (the script's own test sets these so it never installs anything for real):
#   EDGESHIP_APT_GET    the apt-get command (default apt-get)
#   EDGESHIP_AS_ROOT    1 or 0 instead of asking the effective uid
#   EDGESHIP_SBIN_DIRS  where sshd is looked for besides PATH (default /usr/sbin:/sbin:/usr/local/sbin;
#                       a non-root PATH often lacks them)
#   EDGESHIP_CHROMIUM   the browser the UI test launches (default /usr/bin/chromium, Debian's)
# Uses only bash built-ins besides apt-get, so it runs under any PATH.
set -uo pipefail

who="npm test"
optional=0
fallback=""
needs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --for) who="$2"; shift 2 ;;
    --optional) optional=1; fallback="$2"; shift 2 ;;
    sshd|ssh-keygen|scp|chromium|qemu-x86_64|qemu-aarch64-static|mmdebstrap|zstd|systemd-analyze) needs+=("$1"); shift ;;
    *) echo "install-system-packages.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ ${#needs[@]} -gt 0 ] || needs=(sshd ssh-keygen scp chromium)

apt_get="${EDGESHIP_APT_GET:-apt-get}"
sbin_dirs="${EDGESHIP_SBIN_DIRS-/usr/sbin:/sbin:/usr/local/sbin}"
chromium="${EDGESHIP_CHROMIUM:-/usr/bin/chromium}"
if [ -n "${EDGESHIP_AS_ROOT:-}" ]; then as_root="$EDGESHIP_AS_ROOT"; else as_root=$([ "$EUID" -eq 0 ] && echo 1 || echo 0); fi

has() { # need → 0 when present
  case "$1" in
    chromium) [ -x "$chromium" ] ;;
    *) PATH="$PATH${sbin_dirs:+:$sbin_dirs}" command -v "$1" >/dev/null 2>&1 ;;
  esac
}
package_of() {
  case "$1" in
    sshd) echo openssh-server ;;
    ssh-keygen|scp) echo openssh-client ;;
    chromium) echo chromium ;;
    qemu-x86_64) echo qemu-user ;;
    qemu-aarch64-static) echo qemu-user-static ;;
    mmdebstrap) echo mmdebstrap ;;
    zstd) echo zstd ;;
    systemd-analyze) echo systemd ;;
  esac
}
describe() {
  case "$1" in
    chromium) echo "chromium ($chromium)" ;;
    *) echo "$1" ;;
  esac
}

missing_needs() {
  local n
  for n in "${needs[@]}"; do has "$n" || echo "$n"; done
}

mapfile -t missing < <(missing_needs)
[ ${#missing[@]} -eq 0 ] && exit 0

packages=()
what=()
for n in "${missing[@]}"; do
  p=$(package_of "$n")
  what+=("$(describe "$n")")
  [[ " ${packages[*]} " == *" $p "* ]] || packages+=("$p")
done

joined() { local IFS=,; local s="$*"; echo "${s//,/, }"; }

# Stops (required) or reports and carries on (optional).
give_up() {
  echo "$1" >&2
  [ "$optional" -eq 1 ] && exit 0
  exit 1
}

if [ "$as_root" != "1" ]; then
  if [ "$optional" -eq 1 ]; then
    give_up "$who: $(joined "${what[@]}") not installed: $fallback (to use them instead: sudo apt-get install -y ${packages[*]})"
  fi
  give_up "$who needs $(joined "${what[@]}"), which this machine lacks. Install them once, then run $who again:

  sudo apt-get install -y ${packages[*]}
"
fi

if ! command -v "$apt_get" >/dev/null 2>&1; then
  give_up "$who needs $(joined "${what[@]}") (Debian packages: ${packages[*]}), and there is no apt-get here: install them with this system's package manager"
fi

echo "$who: installing ${packages[*]} (apt-get, once)"
# Quiet unless it fails: then apt-get's own output says why (offline, no such package, dpkg lock).
if ! out=$(export DEBIAN_FRONTEND=noninteractive; "$apt_get" update -qq 2>&1 && "$apt_get" install -y -qq --no-install-recommends "${packages[@]}" 2>&1); then
  give_up "$who: apt-get install ${packages[*]} failed${fallback:+ ($fallback)}:
$out"
fi

mapfile -t still < <(missing_needs)
if [ ${#still[@]} -gt 0 ]; then
  give_up "$who: after installing ${packages[*]}, still missing: ${still[*]}${EDGESHIP_CHROMIUM:+ (EDGESHIP_CHROMIUM=$EDGESHIP_CHROMIUM)}"
fi
exit 0
