"""Static INT8 quantization (QDQ) of the FP32 encoder with onnxruntime, and its measured cost.

stdin:  {"fp32Path": str, "calibrationPath": str (z-scored float32 [N,100,9] .npy), "outPath": str,
         "normalization": {"mean", "std"}, "heldOutWindows": int = 256, "heldOutSeed": int = 99173,
         "latencyRuns": int = 200, "perChannel": bool = true,
         "format": "S8S8" | "U8S8" | "U8U8" = "S8S8"   (activations, weights),
         "calibrationMethod": "MinMax" | "Entropy" | "Percentile" = "MinMax",
         "reduceRange": bool = false, "minCosine": float = 0.99, "maxExcludedNodes": int = 4,
         "bindingWindows": int = 64}
stdout: {"int8Path", "similarity": {"minCosine", "meanCosine", "windows"}, "sizes": {"fp32Bytes",
         "int8Bytes"}, "latencyMs": {"fp32", "int8", "runs", "threads"}, "speedup", "settings": {...},
         "cpu": {...}, "excludedNodes": [...], "attempts": [...], "sensitivity": [...],
         "bindingPath": str | null (JSON {windows: raw [N][100][9], reference: FP32 [N][64]}), "warnings": [...]}

Why S8S8 by default: onnxruntime recommends S8S8 QDQ for CPU. U8S8 (unsigned activations) runs
on x86-64 without VNNI through VPMADDUBSW, whose 16-bit intermediate sums saturate: on an AVX2
EPYC the demo model fell to min cosine 0.983 with U8S8 and held at 0.998 with S8S8. The figure is
therefore only meaningful next to the CPU features it was measured on, which this tool records.

Mixed precision: when the quantized model misses the gate, each weighted node (Conv, Gemm,
MatMul) is tried alone in FP32 on a *selection* set of windows; the most sensitive are excluded
one by one (calibration ranges are reused from a cache) until the gate holds on the held-out
windows or maxExcludedNodes is reached. Selection and gate use different windows, so the
choice cannot flatter the gate.

Similarity is measured on held-out synthetic windows drawn with their own seed, never on the
calibration windows. Latency is the median of single window inferences with one intra-op
thread, the fair comparison on a shared CPU.
"""
from __future__ import annotations

import os
import platform
import sys
import time

import numpy as np

from binding import write_binding
from common import CHANNELS, SEQ_LEN, ToolError, normalization_arrays, progress, require, run

FORMATS = {"S8S8": ("QInt8", "QInt8"), "U8S8": ("QUInt8", "QInt8"), "U8U8": ("QUInt8", "QUInt8")}
CALIBRATION_METHODS = ("MinMax", "Entropy", "Percentile")
SELECTION_SEED, SELECTION_WINDOWS = 424242, 128
WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
# /proc/cpuinfo flags that decide which INT8 kernels onnxruntime's MLAS picks.
CPU_FLAGS = ("sse4_1", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni",
             "amx_int8", "asimd", "asimddp", "i8mm")


def _load_calibration(path: str) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ToolError("CalibrationDataInvalid", f"calibration set {path} cannot be read: {e}") from e
    if arr.dtype != np.float32 or arr.ndim != 3 or arr.shape[1:] != (SEQ_LEN, CHANNELS) or arr.shape[0] < 1:
        raise ToolError("CalibrationDataInvalid", f"calibration set {path}: {arr.dtype} {list(arr.shape)}, "
                        f"expected float32 [N,{SEQ_LEN},{CHANNELS}]")
    return arr


def cpu_features() -> dict:
    """The CPU the figures were measured on: /proc/cpuinfo flags and what CPUID tells numpy.

    Both are recorded because they can disagree: under qemu-user /proc/cpuinfo is the host's,
    while CPUID (what onnxruntime's kernel dispatch reads) is the emulated CPU's.
    """
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "Model") and model in ("", platform.machine()):
                    model = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as cpuid  # noqa: PLC0415
    except ImportError:  # numpy < 2
        cpuid = {}
    cpuid_on = sorted(k for k in ("AVX2", "FMA3", "AVX512F", "AVX512BW", "AVX512VNNI", "AVX512_ICL", "ASIMD", "ASIMDDP")
                      if cpuid.get(k))
    # AVX-VNNI has no numpy key: /proc/cpuinfo says it (on bare metal the two agree).
    vnni = bool(cpuid.get("AVX512VNNI")) or "avx512_vnni" in flags and not cpuid or "avx_vnni" in flags
    return {
        "model": model,
        "machine": platform.machine(),
        "procFlags": sorted(f for f in CPU_FLAGS if f in flags),
        "cpuidFeatures": cpuid_on,
        "vnni": vnni,
        "emulated": os.environ.get("EDGESHIP_EMULATED_CPU") or None,
    }


def _session(path: str):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def _run_all(sess, x: np.ndarray) -> np.ndarray:
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: w[None]})[0] for w in x]).astype(np.float64)


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


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    return np.sum(a * b, axis=1) / np.maximum(na * nb, 1e-12)


def zscored_windows(n: int, seed: int, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    from synthetic import generate

    raw, _labels = generate(n, seed)
    return ((raw - mean) / std).astype(np.float32)


def _settings(req: dict) -> dict:
    fmt = req.get("format", "S8S8")
    method = req.get("calibrationMethod", "MinMax")
    if fmt not in FORMATS:
        raise ToolError("InvalidRequest", f"quantization format {fmt!r}; known: {', '.join(FORMATS)}")
    if method not in CALIBRATION_METHODS:
        raise ToolError("InvalidRequest", f"calibration method {method!r}; known: {', '.join(CALIBRATION_METHODS)}")
    act, weight = FORMATS[fmt]
    return {"format": fmt, "quantFormat": "QDQ", "activations": act, "weights": weight,
            "perChannel": bool(req.get("perChannel", True)), "reduceRange": bool(req.get("reduceRange", False)),
            "calibrationMethod": method}


class Quantizer:
    """quantize_static with the calibration ranges computed once and cached for later attempts."""

    def __init__(self, fp32_path: str, calib: np.ndarray, settings: dict, work_dir: str):
        self.fp32_path, self.calib, self.settings = fp32_path, calib, settings
        self.cache = os.path.join(work_dir, ".calibration-ranges.json")
        if os.path.exists(self.cache):
            os.unlink(self.cache)

    def quantize(self, out_path: str, exclude: list[str]) -> None:
        from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

        calib, name = self.calib, "imu_window"

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self.i = 0

            def get_next(self):
                if self.i >= len(calib):
                    return None
                if self.i % 250 == 0:
                    progress("quantize", f"calibrating {self.i}/{len(calib)}")
                self.i += 1
                return {name: calib[self.i - 1][None]}

            def rewind(self) -> None:
                self.i = 0

            def __len__(self) -> int:
                return len(calib)

        s = self.settings
        extra = {}
        if s["calibrationMethod"] == "Percentile":
            extra["CalibPercentile"] = 99.999
        quantize_static(self.fp32_path, out_path, None if os.path.exists(self.cache) else Reader(),
                        quant_format=QuantFormat.QDQ, activation_type=getattr(QuantType, s["activations"]),
                        weight_type=getattr(QuantType, s["weights"]), per_channel=s["perChannel"],
                        reduce_range=s["reduceRange"], calibrate_method=getattr(CalibrationMethod, s["calibrationMethod"]),
                        nodes_to_exclude=exclude, extra_options=extra, calibration_cache_path=self.cache)


def _weighted_nodes(fp32_path: str) -> list[str]:
    import onnx

    graph = onnx.load(fp32_path, load_external_data=False).graph
    return [n.name for n in graph.node if n.op_type in WEIGHTED_OPS and n.name]


def handle(req: dict) -> dict:
    fp32_path = require(req, "fp32Path", str)
    calib_path = require(req, "calibrationPath", str)
    out_path = require(req, "outPath", str)
    mean, std = normalization_arrays(req.get("normalization"))
    held_n = int(req.get("heldOutWindows", 256))
    held_seed = int(req.get("heldOutSeed", 99173))
    runs = int(req.get("latencyRuns", 200))
    gate = float(req.get("minCosine", 0.99))
    max_excluded = int(req.get("maxExcludedNodes", 4))
    binding_n = int(req.get("bindingWindows", 64))
    settings = _settings(req)

    calib = _load_calibration(calib_path)
    settings["calibrationWindows"] = int(len(calib))
    cpu = cpu_features()
    progress("quantize", f"quantize_static {settings} on {cpu['model']} (vnni={cpu['vnni']})")
    fp32 = _session(fp32_path)
    work = os.path.dirname(os.path.abspath(out_path))
    tmp = os.path.join(work, ".int8.onnx.tmp")
    quantizer = Quantizer(fp32_path, calib, settings, work)

    held = zscored_windows(held_n, held_seed, mean, std)
    ref_held = _run_all(fp32, held)

    def measure(excluded: list[str]) -> tuple[dict, object]:
        quantizer.quantize(tmp, excluded)
        sess = _session(tmp)
        out = _run_all(sess, held)
        if not np.all(np.isfinite(out)):
            raise ToolError("ModelOutputNotFinite", "the INT8 model outputs non-finite values on held-out windows")
        cos = cosines(ref_held, out)
        return {"excludedNodes": list(excluded), "minCosine": float(cos.min()), "meanCosine": float(cos.mean())}, sess

    attempt, _ = measure([])
    attempts = [attempt]
    sensitivity: list[dict] = []
    if attempt["minCosine"] < gate and max_excluded > 0:
        # Leave-one-out sensitivity on the selection windows: how much each node alone in FP32
        # helps. Then greedy forward selection, also on the selection windows: a node joins only
        # if it improves on the nodes already kept (keeping a node in FP32 moves its neighbours'
        # QDQ pairs too, so gains do not simply add up). Each step is then measured on the
        # held-out windows, which alone decide the gate.
        progress("quantize", f"min cosine {attempt['minCosine']:.5f} < gate {gate}: ranking nodes by sensitivity")
        sel = zscored_windows(SELECTION_WINDOWS, SELECTION_SEED, mean, std)
        ref_sel = _run_all(fp32, sel)

        def selection_min(excluded: list[str]) -> float:
            quantizer.quantize(tmp, excluded)
            return float(cosines(ref_sel, _run_all(_session(tmp), sel)).min())

        base = selection_min([])
        for node in _weighted_nodes(fp32_path):
            c = selection_min([node])
            sensitivity.append({"node": node, "selectionMinCosine": c, "gain": c - base})
        sensitivity.sort(key=lambda s: -s["gain"])
        chosen: list[str] = []
        best = base
        for s in sensitivity:
            if len(chosen) >= max_excluded or s["gain"] <= 0:
                break
            c = selection_min(chosen + [s["node"]])
            if c <= best:
                continue
            chosen, best = chosen + [s["node"]], c
            progress("quantize", f"keeping {chosen} in FP32 (selection min cosine {c:.5f})")
            attempt, _ = measure(chosen)
            attempts.append(attempt)
            if attempt["minCosine"] >= gate:
                break
        # tmp holds the last model tried; the result is the last one measured on held-out windows.
        quantizer.quantize(tmp, attempt["excludedNodes"])
    os.replace(tmp, out_path)
    if os.path.exists(quantizer.cache):
        os.unlink(quantizer.cache)
    int8 = _session(out_path)

    progress("quantize", f"latency: {runs} single-window runs each")
    lat32 = _median_latency_ms(fp32, held, runs)
    lat8 = _median_latency_ms(int8, held, runs)
    speedup = lat32 / lat8 if lat8 > 0 else 0.0
    warnings = []
    if speedup <= 1.0:
        warnings.append(f"INT8 is not faster than FP32 on this CPU ({cpu['model']}): {lat8:.3f} ms vs {lat32:.3f} ms "
                        f"per window ({settings['format']}, vnni={str(cpu['vnni']).lower()})")
    if attempt["excludedNodes"]:
        outcome = "to hold the gate" if attempt["minCosine"] >= gate else "and the gate still fails"
        warnings.append(f"mixed precision: {len(attempt['excludedNodes'])} node(s) kept in FP32 {outcome}: "
                        f"{', '.join(attempt['excludedNodes'])}")

    binding_path = None
    if binding_n > 0:
        # Fixed windows with their FP32 outputs: the device runs them on its own CPU and compares.
        binding_path = os.path.join(work, "binding.json")
        write_binding(fp32, mean, std, binding_n, binding_path)

    return {
        "int8Path": out_path,
        "similarity": {"minCosine": attempt["minCosine"], "meanCosine": attempt["meanCosine"], "windows": held_n},
        "sizes": {"fp32Bytes": os.path.getsize(fp32_path), "int8Bytes": os.path.getsize(out_path)},
        "latencyMs": {"fp32": round(lat32, 4), "int8": round(lat8, 4), "runs": runs, "threads": 1},
        "speedup": round(speedup, 3),
        "settings": settings,
        "cpu": cpu,
        "excludedNodes": attempt["excludedNodes"],
        "attempts": attempts,
        "sensitivity": sensitivity,
        "bindingPath": binding_path,
        "warnings": warnings,
    }


if __name__ == "__main__":
    sys.exit(run(handle))
