"""Build a calibration set: N z-scored windows, float32 [N, 100, 9] .npy.

stdin:  {"outPath": str, "normalization": {"mean": [9], "std": [9]}, "samples": int = 2000,
         "dataDir": str | null, "seed": int = 0}
stdout: {"path", "samples", "source": "synthetic"|"recorded", "classMix": {class: count},
         "channelMean": [9], "channelStd": [9], "files": int, "warnings": [...]}

Recorded data (dataDir), raw sensor units (ax ay az m/s^2, gx gy gz rad/s, mx my mz uT),
searched recursively:
  * .npy  float32/float64, shape [100, 9] (one window) or [K, 100, 9] (K windows);
  * .csv  100 rows x 9 numeric columns (one window), comma separated, an optional header row.
The class of a window is the name of the folder that holds its file ("unlabeled" for files at
the top). When the folder holds more windows than N, a seeded random subset is used; fewer is an
error (repeating windows would only pretend to be a larger set). Without dataDir, the windows
are synthetic activity patterns (ml/synthetic.py), evenly mixed.
"""
from __future__ import annotations

import collections
import os
import sys

import numpy as np

from common import CHANNELS, SEQ_LEN, ToolError, normalization_arrays, progress, require, run, save_npy

MIN_SAMPLES, MAX_SAMPLES = 16, 100_000


def _read_file(path: str) -> np.ndarray:
    if path.endswith(".npy"):
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise ToolError("CalibrationDataInvalid", f"{path}: not a readable .npy array ({e})") from e
    else:
        try:
            with open(path, encoding="utf-8") as f:
                lines = [ln for ln in f.read().splitlines() if ln.strip()]
        except (OSError, UnicodeDecodeError) as e:
            raise ToolError("CalibrationDataInvalid", f"{path}: cannot read as text ({e})") from e
        rows = []
        for i, line in enumerate(lines):
            try:
                rows.append([float(v) for v in line.split(",")])
            except ValueError:
                if i == 0:
                    continue  # a header row
                raise ToolError("CalibrationDataInvalid", f"{path} line {i + 1}: not {CHANNELS} numbers: {line[:80]!r}") from None
        if not rows or any(len(r) != CHANNELS for r in rows):
            raise ToolError("CalibrationDataInvalid", f"{path}: every row needs {CHANNELS} comma-separated numbers")
        arr = np.asarray(rows)
    if arr.dtype.kind not in "fiu":
        raise ToolError("CalibrationDataInvalid", f"{path}: dtype {arr.dtype} is not numeric")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1:] != (SEQ_LEN, CHANNELS):
        raise ToolError("CalibrationDataInvalid", f"{path}: shape {list(arr.shape)}; expected [{SEQ_LEN},{CHANNELS}] "
                        f"or [K,{SEQ_LEN},{CHANNELS}]")
    if not np.all(np.isfinite(arr)):
        raise ToolError("CalibrationDataInvalid", f"{path}: contains NaN or infinite values")
    return arr.astype(np.float32)


def load_recorded(data_dir: str) -> tuple[np.ndarray, list[str], int]:
    if not os.path.isdir(data_dir):
        raise ToolError("CalibrationDataInvalid", f"data folder {data_dir} does not exist")
    files = []
    for root, _dirs, names in os.walk(data_dir):
        files += [os.path.join(root, n) for n in names if n.endswith((".npy", ".csv"))]
    files.sort()
    if not files:
        raise ToolError("CalibrationDataInvalid", f"data folder {data_dir} holds no .npy or .csv windows")
    windows, labels = [], []
    for i, path in enumerate(files):
        arr = _read_file(path)
        rel = os.path.relpath(os.path.dirname(path), data_dir)
        label = "unlabeled" if rel == "." else rel.split(os.sep)[0]
        windows.append(arr)
        labels += [label] * arr.shape[0]
        if (i + 1) % 200 == 0:
            progress("calibrate", f"read {i + 1}/{len(files)} files")
    return np.concatenate(windows), labels, len(files)


def handle(req: dict) -> dict:
    out_path = require(req, "outPath", str)
    samples = int(req.get("samples", 2000))
    seed = int(req.get("seed", 0))
    data_dir = req.get("dataDir")
    if not MIN_SAMPLES <= samples <= MAX_SAMPLES:
        raise ToolError("CalibrationSizeOutOfRange", f"samples {samples} outside {MIN_SAMPLES}..{MAX_SAMPLES}")
    mean, std = normalization_arrays(req.get("normalization"))
    warnings = []

    if data_dir:
        progress("calibrate", f"reading recorded windows from {data_dir}")
        windows, labels, files = load_recorded(data_dir)
        if windows.shape[0] < samples:
            raise ToolError("CalibrationDataInvalid", f"data folder {data_dir} holds {windows.shape[0]} windows; "
                            f"{samples} requested (ask for at most {windows.shape[0]} or record more)")
        pick = np.sort(np.random.default_rng(seed).choice(windows.shape[0], samples, replace=False))
        windows, labels = windows[pick], [labels[i] for i in pick]
        source = "recorded"
    else:
        from synthetic import generate

        progress("calibrate", f"generating {samples} synthetic windows (seed {seed})")
        windows, labels = generate(samples, seed)
        files, source = 0, "synthetic"

    z = ((windows - mean) / std).astype(np.float32)
    channel_mean = z.mean(axis=(0, 1))
    channel_std = z.std(axis=(0, 1))
    # Data already z-scored (or in other units) would be normalized twice: say so loudly.
    for c in range(CHANNELS):
        if abs(channel_mean[c]) > 5 or channel_std[c] < 0.005 or channel_std[c] > 20:
            warnings.append(f"channel {c}: z-scored mean {channel_mean[c]:.2f} std {channel_std[c]:.3f}; "
                            "is the data in raw sensor units?")
    for w in warnings:
        progress("calibrate", f"warning: {w}")

    save_npy(out_path, z)
    progress("calibrate", f"wrote {out_path} {list(z.shape)}")
    return {
        "path": out_path,
        "samples": samples,
        "source": source,
        "classMix": dict(sorted(collections.Counter(labels).items())),
        "channelMean": [round(float(v), 6) for v in channel_mean],
        "channelStd": [round(float(v), 6) for v in channel_std],
        "files": files,
        "warnings": warnings,
    }


if __name__ == "__main__":
    sys.exit(run(handle))
