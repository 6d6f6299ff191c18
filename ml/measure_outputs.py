"""Run an ONNX encoder over a set of windows and save its outputs, on whatever CPU runs this.

stdin:  {"modelPath": str, "windowsPath": str (z-scored float32 [N,100,9] .npy), "outPath": str (.npy)}
stdout: {"outPath", "windows", "cpu": {...} (quantize.cpu_features), "secondsPerWindow"}

Made to be run under `qemu-x86_64 -cpu Haswell` (an AVX2 CPU without VNNI) so that an INT8
model's agreement can be measured on a CPU other than the GPU server's: onnxruntime picks its
INT8 kernels from CPUID, which qemu emulates.
"""
from __future__ import annotations

import sys
import time

import numpy as np

from common import ToolError, require, run, save_npy
from quantize import _run_all, _session, cpu_features


def handle(req: dict) -> dict:
    model_path = require(req, "modelPath", str)
    windows_path = require(req, "windowsPath", str)
    out_path = require(req, "outPath", str)
    try:
        x = np.load(windows_path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise ToolError("InvalidRequest", f"{windows_path} cannot be read: {e}") from e
    sess = _session(model_path)
    t0 = time.perf_counter()
    out = _run_all(sess, x.astype(np.float32))
    seconds = time.perf_counter() - t0
    save_npy(out_path, out)
    return {"outPath": out_path, "windows": int(len(x)), "cpu": cpu_features(), "secondsPerWindow": seconds / max(len(x), 1)}


if __name__ == "__main__":
    sys.exit(run(handle))
