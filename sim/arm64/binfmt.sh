#!/usr/bin/env bash
# Makes this (x86-64) kernel run arm64 ELF binaries through Debian's qemu-aarch64-static, also
# inside a chroot: idempotent, prints nothing when it was already so.
#   1. binfmt_misc mounted on /proc/sys/fs/binfmt_misc (mounted here if not);
#   2. the qemu-aarch64 handler registered and enabled, from the line Debian's qemu-user-static
#      ships in /usr/lib/binfmt.d/qemu-aarch64.conf (no binfmt-support or systemd needed);
#   3. with the F (fix-binary) flag: the kernel opens the interpreter at registration, so an
#      arm64 binary runs in a root that has no /usr/bin/qemu-aarch64-static of its own.
# A handler registered without F (e.g. by another tool) is replaced by Debian's. Needs root.
# Exits non-zero with the reason when this machine cannot (no root, no qemu-user-static, a
# kernel without binfmt_misc): the arm64 proof must then fail, not pass silently.
set -euo pipefail

dir=/proc/sys/fs/binfmt_misc
entry="$dir/qemu-aarch64"
conf="${EDGESHIP_QEMU_BINFMT_CONF:-/usr/lib/binfmt.d/qemu-aarch64.conf}"

fail() { echo "binfmt.sh: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "registering the arm64 binfmt handler needs root"
[ -f "$conf" ] || fail "$conf is missing: install Debian's qemu-user-static (bash scripts/install-system-packages.sh qemu-aarch64-static)"

if [ ! -f "$dir/register" ]; then
  mount -t binfmt_misc binfmt_misc "$dir" 2>/dev/null || fail "cannot mount binfmt_misc on $dir (a kernel or container without binfmt_misc cannot run arm64 binaries)"
fi
[ "$(cat "$dir/status")" = enabled ] || echo 1 > "$dir/status"

flags() { sed -n 's/^flags: //p' "$entry"; }
if [ -f "$entry" ] && [[ "$(flags)" != *F* ]]; then
  echo "binfmt.sh: the qemu-aarch64 handler lacks the F flag (flags: $(flags)); registering Debian's instead" >&2
  echo -1 > "$entry"
fi
if [ ! -f "$entry" ]; then
  # The .conf line is exactly the register format (:name:type:offset:magic:mask:interpreter:flags).
  grep -v '^#' "$conf" | head -n1 > "$dir/register" || fail "the kernel refused the register line of $conf"
fi
[ "$(head -n1 "$entry")" = enabled ] || echo 1 > "$entry"
[[ "$(flags)" == *F* ]] || fail "qemu-aarch64 is registered without the F flag: $(flags)"
interpreter=$(sed -n 's/^interpreter //p' "$entry")
[ -x "$interpreter" ] || fail "the registered interpreter $interpreter does not exist"
