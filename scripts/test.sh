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
# The arm64 proof (docs/arm64-proof.md) runs the device package in an emulated arm64 root: it needs
# qemu-user-static, mmdebstrap, zstd, systemd-analyze and root; without them it fails saying so.
bash scripts/install-system-packages.sh --for "the arm64 proof" qemu-aarch64-static mmdebstrap zstd systemd-analyze || exit 1
bash scripts/setup.sh || exit 1

echo "== typecheck"; npx tsc --noEmit -p . || exit 1
echo "== lint"; npx eslint . || exit 1

# Two suites are long single-threaded Python work with no servers or ports (INT8 under qemu, the
# demo recipe over three training seeds), and the fleet suites (the six-device e2e, the fleet
# workflow tests) have their own dev servers, fleet directory and checkpoints: they run in a
# second lane beside the main suite, whose time is mostly spent waiting on Temporal, SSH and
# runtimes. Their output follows the main one.
# The arm64 proof (its emulated root, then the package on it) is mostly qemu CPU time: second lane.
lane_files=(test/integration/int8-haswell.test.ts test/integration/gates-over-seeds.test.ts test/e2e/fleet-rollout.test.ts test/workflow/fleetRollout.test.ts test/integration/arm64-root.test.ts test/e2e/arm64-device.test.ts)
# The device packages are built (or found current) once, before the lanes start: the package's own
# tests (amd64, main lane) and the arm64 proof (both arches, second lane) take them from
# test-artifacts/device-package (packaging/build/cachedDeb.ts), and two lanes building the same
# .deb at once would race on its files.
echo "== device packages"
npx tsx -e "const { ensureDevicePackage } = require('./packaging/build/cachedDeb'); for (const arch of ['amd64', 'arm64']) console.log(ensureDevicePackage(arch, (l) => console.log('  ' + l)));" || exit 1
lane=test-artifacts/mocha-lane-output.txt
npx mocha "${lane_files[@]}" > "$lane" 2>&1 &
lane_pid=$!

out=test-artifacts/mocha-output.txt
ignore=()
for f in "${lane_files[@]}"; do ignore+=(--ignore "$f"); done
npx mocha "${ignore[@]}" 'test/unit/**/*.test.ts' 'test/integration/**/*.test.ts' 'test/workflow/**/*.test.ts' 'test/e2e/**/*.test.ts' 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
wait "$lane_pid"
lane_status=$?
echo; echo "== second lane: ${lane_files[*]}"; cat "$lane"

count() { local n; n=$(grep -Eo "^ +[0-9]+ $1" "$2" | grep -Eo '[0-9]+' | tail -n1); echo "${n:-0}"; }
passed=$(( $(count passing "$out") + $(count passing "$lane") ))
failed=$(( $(count failing "$out") + $(count failing "$lane") ))
pending=$(( $(count pending "$out") + $(count pending "$lane") ))
echo "tests: ${passed} passed, ${failed} failed, ${pending} skipped"
if [ "${passed}" = "0" ]; then echo "no test ran" >&2; exit 1; fi
if [ "$status" -ne 0 ]; then exit "$status"; fi
exit "$lane_status"
