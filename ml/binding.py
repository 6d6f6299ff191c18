"""The binding set of a compiled artifact: fixed raw windows with the FP32 ONNX's outputs on them.

The device runs these windows on its own runtime and CPU/NPU (validateDeployment) and compares
its outputs with the references, so a quantized model's agreement is measured again where it
serves. Shipped in the metadata of cpu-int8 and hailo artifacts.

stdin:  {"fp32Path": str, "normalization": {"mean", "std"}, "windows": int = 64, "outPath": str}
stdout: {"bindingPath": str, "windows": int, "seed": int}
"""
from __future__ import annotations

import numpy as np

from common import normalization_arrays, onnx_session, require, run, run_windows, save_json

BINDING_SEED = 777


def write_binding(sess, mean: np.ndarray, std: np.ndarray, n: int, path: str) -> None:
    """n windows from the synthetic activity generator (its own seed), rounded as they travel in JSON."""
    from synthetic import generate

    raw, _ = generate(n, BINDING_SEED)
    raw = np.round(raw.astype(np.float64), 4)
    z = ((raw - mean) / std).astype(np.float32)
    reference = run_windows(sess, z, "binding", "the FP32 model", every=0)
    save_json(path, {"seed": BINDING_SEED, "windows": raw.tolist(), "reference": reference.tolist()})


def handle(req: dict) -> dict:
    fp32_path = require(req, "fp32Path", str)
    out_path = require(req, "outPath", str)
    n = int(req.get("windows", 64))
    mean, std = (a.astype(np.float64) for a in normalization_arrays(req.get("normalization")))
    write_binding(onnx_session(fp32_path), mean, std, n, out_path)
    return {"bindingPath": out_path, "windows": n, "seed": BINDING_SEED}


if __name__ == "__main__":
    run(handle)
