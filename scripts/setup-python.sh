#!/usr/bin/env bash
# Creates the project-local Python venv (.venv) with the pinned ML tooling from ml/requirements.txt.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --disable-pip-version-check -q -r "$root/ml/requirements.txt"
"$venv/bin/python" -c 'import torch, onnx, onnxruntime, numpy; print("python venv ready: torch", torch.__version__, "onnx", onnx.__version__, "onnxruntime", onnxruntime.__version__, "numpy", numpy.__version__)'
