#!/usr/bin/env bash
# `npm test`: the system packages and project-local toolchain (when missing), type check, lint,
# then every mocha suite in one run (unit, integration, workflow, e2e, browser). Ends with a
# plain "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p test-artifacts

# A fresh machine after `npm ci` has no sshd, scp or chromium (Debian packages: installed when
# root, otherwise the run stops here with the one command to run), no Python venv and no
# Temporal CLI yet (both install offline-safe).
echo "== toolchain"
bash scripts/install-system-packages.sh --for "npm test" || exit 1
# qemu-user lets the INT8 test measure on an emulated AVX2 CPU without VNNI; without it that test skips.
bash scripts/install-system-packages.sh --for "the INT8 cross-CPU test" --optional "that test is skipped" qemu-x86_64
bash scripts/setup.sh || exit 1

echo "== typecheck"; npx tsc --noEmit -p . || exit 1
echo "== lint"; npx eslint . || exit 1

out=test-artifacts/mocha-output.txt
npx mocha 'test/unit/**/*.test.ts' 'test/integration/**/*.test.ts' 'test/workflow/**/*.test.ts' 'test/e2e/**/*.test.ts' 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
passed=$(grep -Eo '^ +[0-9]+ passing' "$out" | grep -Eo '[0-9]+' | tail -n1)
failed=$(grep -Eo '^ +[0-9]+ failing' "$out" | grep -Eo '[0-9]+' | tail -n1)
pending=$(grep -Eo '^ +[0-9]+ pending' "$out" | grep -Eo '[0-9]+' | tail -n1)
echo "tests: ${passed:-0} passed, ${failed:-0} failed, ${pending:-0} skipped"
if [ "${passed:-0}" = "0" ]; then echo "no test ran" >&2; exit 1; fi
exit "$status"
