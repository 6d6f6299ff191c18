"""Static INT8 quantization (QDQ) of the FP32 encoder with onnxruntime, and its measured cost.

stdin:  {"fp32Path": str, "calibrationPath": str (z-scored float32 [N,100,9] .npy), "outPath": str,
         "normalization": {"mean", "std"}, "heldOutWindows": int = 256, "heldOutSeed": int = 99173,
         "latencyRuns": int = 200, "perChannel": bool = true}
stdout: {"int8Path", "similarity": {"minCosine", "meanCosine", "windows"}, "sizes": {"fp32Bytes",
         "int8Bytes"}, "latencyMs": {"fp32", "int8", "runs", "threads"}, "settings": {...}}

Similarity is measured on held-out synthetic windows drawn with their own seed, never on the
calibration windows (those would flatter the quantizer). Latency is the median of single
window inferences with one intra-op thread, the fair comparison on a shared CPU.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

from common import CHANNELS, SEQ_LEN, ToolError, normalization_arrays, progress, require, run


def _load_calibration(path: str) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ToolError("CalibrationDataInvalid", f"calibration set {path} cannot be read: {e}") from e
    if arr.dtype != np.float32 or arr.ndim != 3 or arr.shape[1:] != (SEQ_LEN, CHANNELS) or arr.shape[0] < 1:
        raise ToolError("CalibrationDataInvalid", f"calibration set {path}: {arr.dtype} {list(arr.shape)}, "
                        f"expected float32 [N,{SEQ_LEN},{CHANNELS}]")
    return arr


def _session(path: str):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def _median_latency_ms(sess, x: np.ndarray, runs: int) -> float:
    name = sess.get_inputs()[0].name
    for i in range(min(20, runs)):
        sess.run(None, {name: x[i % len(x)][None]})
    times = []
    for i in range(runs):
        t0 = time.perf_counter()
        sess.run(None, {name: x[i % len(x)][None]})
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times))


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    return np.sum(a * b, axis=1) / np.maximum(na * nb, 1e-12)


def handle(req: dict) -> dict:
    fp32_path = require(req, "fp32Path", str)
    calib_path = require(req, "calibrationPath", str)
    out_path = require(req, "outPath", str)
    mean, std = normalization_arrays(req.get("normalization"))
    held_n = int(req.get("heldOutWindows", 256))
    held_seed = int(req.get("heldOutSeed", 99173))
    runs = int(req.get("latencyRuns", 200))
    per_channel = bool(req.get("perChannel", True))

    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

    from synthetic import generate

    calib = _load_calibration(calib_path)
    fp32 = _session(fp32_path)
    input_name = fp32.get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.i = 0

        def get_next(self):
            if self.i >= len(calib):
                return None
            if self.i % 250 == 0:
                progress("quantize", f"calibrating {self.i}/{len(calib)}")
            self.i += 1
            return {input_name: calib[self.i - 1][None]}

        def rewind(self) -> None:
            self.i = 0

    settings = {"format": "QDQ", "activations": "QUInt8", "weights": "QInt8", "perChannel": per_channel,
                "calibrateMethod": "MinMax", "calibrationWindows": int(len(calib))}
    progress("quantize", f"quantize_static {settings}")
    tmp = os.path.join(os.path.dirname(os.path.abspath(out_path)), ".int8.onnx.tmp")
    quantize_static(fp32_path, tmp, Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8, per_channel=per_channel, calibrate_method=CalibrationMethod.MinMax)
    os.replace(tmp, out_path)
    int8 = _session(out_path)

    progress("quantize", f"comparing INT8 with FP32 on {held_n} held-out windows")
    raw, _labels = generate(held_n, held_seed)
    held = ((raw - mean) / std).astype(np.float32)
    out32 = np.concatenate([fp32.run(None, {input_name: w[None]})[0] for w in held])
    out8 = np.concatenate([int8.run(None, {input_name: w[None]})[0] for w in held])
    if not np.all(np.isfinite(out8)):
        raise ToolError("ModelOutputNotFinite", "the INT8 model outputs non-finite values on held-out windows")
    cos = _cosines(out32.astype(np.float64), out8.astype(np.float64))

    progress("quantize", f"latency: {runs} single-window runs each")
    lat32 = _median_latency_ms(fp32, held, runs)
    lat8 = _median_latency_ms(int8, held, runs)
    return {
        "int8Path": out_path,
        "similarity": {"minCosine": float(cos.min()), "meanCosine": float(cos.mean()), "windows": held_n},
        "sizes": {"fp32Bytes": os.path.getsize(fp32_path), "int8Bytes": os.path.getsize(out_path)},
        "latencyMs": {"fp32": round(lat32, 4), "int8": round(lat8, 4), "runs": runs, "threads": 1},
        "settings": settings,
    }


if __name__ == "__main__":
    sys.exit(run(handle))
