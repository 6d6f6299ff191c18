#!/usr/bin/env bash
# Installs what edgeship needs beside node_modules: the Python venv with the ML tooling and the
# Temporal CLI. Idempotent and offline-safe (package registries only).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bash "$here/setup-python.sh"
bash "$here/install-temporal-cli.sh"
