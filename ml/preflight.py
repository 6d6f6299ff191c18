"""Pre-flight figures of a model about to be deployed: a broad input sweep and its references.

stdin:  {"modelPath": str (ONNX), "metadataPath": str (ModelMetadata: normalization and probes),
         "windows": int = 1200 (>= 1000), "seed": int = 5150}
stdout: {"windows", "categories": {name: n}, "allFinite", "nonFinite": [{category, windows}],
         "maxAbsValue", "maxAbsCategory" (in-range windows), "maxAbsValueFullScale", "fullScaleCategory",
         "inRangeWindows", "perCategoryMaxAbs": {name: v},
         "minOutputVariance", "meanOutputVariance", "minPairwiseDistance", "identicalPairs",
         "activityWindows", "probes": [{name, cosine, relativeError, normRatio, maxAbsDiff}],
         "minReferenceCosine", "maxRelativeError", "normRatio": {min, max}, "maxAbsDiff"}

Figures only: the gates are applied by activities/gpu/preflightModel.ts, so every figure is
reported whether it passes or not. The sweep is in raw sensor units and z-scored with the
model's own normalization, exactly as the edge runtime does:
  activity      synthetic stationary / walking / running / cycling / mixed windows
  upside-down   the activity windows turned 180 degrees about x (gravity along -z)
  on-side       turned 90 degrees about x or y (gravity along +-x, +-y)
  free-fall     accelerometer near 0, tumbling gyro, field rotating
  saturated     every sensor pinned at the IMU's full scale (+-16 g, +-2000 dps, +-4900 uT), also
                flipping between the rails
  constant      a constant reading per channel, anywhere inside the full scale (zeros included)
  noise         white noise up to 3 normalization stds, and full-scale uniform noise
Variance and distinctness are measured on the activity windows: distinct real movements must
map to distinct embeddings. Scale is compared with the references as well as direction.
"""
from __future__ import annotations

import json
import sys

import numpy as np

from common import CHANNELS, LATENT, SEQ_LEN, ToolError, normalization_arrays, onnx_session, progress, require, run, run_windows

# Full scale of a typical 9-axis IMU (ICM-20948 class): +-16 g, +-2000 dps, +-4900 uT.
FULL_SCALE = np.array([16 * 9.80665] * 3 + [2000 * np.pi / 180] * 3 + [4900.0] * 3)
MIN_WINDOWS = 1000
# A window is "in range" when every z-scored value is within this many stds: any pose, free fall
# and vigorous motion stay inside it; saturated sensors (a z-scored magnetometer at full scale
# is ~200) do not. A ReLU encoder grows about linearly with its input, so outputs far beyond the
# activity range are expected there: those windows are gated on finiteness and maxAbsValueFullScale.
IN_RANGE_SIGMA = 12.0


def _rot_x(w: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    r = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    out = w.copy()
    for k in range(3):
        out[:, 3 * k:3 * k + 3] = w[:, 3 * k:3 * k + 3] @ r.T
    return out


def _rot_y(w: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    r = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    out = w.copy()
    for k in range(3):
        out[:, 3 * k:3 * k + 3] = w[:, 3 * k:3 * k + 3] @ r.T
    return out


def sweep(n: int, seed: int, mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """n raw windows [n,100,9] over every category (about 40 % activity, the rest edge cases)."""
    from synthetic import generate

    rng = np.random.default_rng(seed)
    n_act = int(n * 0.4)
    rest = n - n_act
    shares = {"upside-down": 0.2, "on-side": 0.2, "free-fall": 0.1, "saturated": 0.15, "constant": 0.15, "noise": 0.2}
    counts = {k: int(rest * v) for k, v in shares.items()}
    counts["noise"] += rest - sum(counts.values())

    act, _ = generate(n_act, seed)
    windows, cats = [w.astype(np.float64) for w in act], ["activity"] * n_act
    base, _ = generate(max(counts.values()), seed + 1)
    t = np.arange(SEQ_LEN) / 100.0
    for i in range(counts["upside-down"]):
        windows.append(_rot_x(base[i].astype(np.float64), np.pi))
    for i in range(counts["on-side"]):
        w = base[i].astype(np.float64)
        windows.append(_rot_x(w, np.pi / 2 * (1 if i % 4 < 2 else -1)) if i % 2 == 0 else _rot_y(w, np.pi / 2 * (1 if i % 4 < 2 else -1)))
    for i in range(counts["free-fall"]):
        acc = rng.normal(0, 0.3, (SEQ_LEN, 3))
        gyro = rng.uniform(-8, 8, 3) + rng.normal(0, 0.2, (SEQ_LEN, 3))
        ang = np.outer(t, rng.uniform(-8, 8))
        mag = np.stack([40 * np.cos(ang[:, 0]), 40 * np.sin(ang[:, 0]), np.full(SEQ_LEN, 20.0)], axis=1)
        windows.append(np.concatenate([acc, gyro, mag], axis=1))
    for i in range(counts["saturated"]):
        if i % 3 == 2:
            sign = np.where(np.sin(2 * np.pi * rng.uniform(1, 10) * t)[:, None] >= 0, 1.0, -1.0)
            windows.append(sign * FULL_SCALE * rng.choice([-1.0, 1.0], CHANNELS))
        else:
            windows.append(np.tile(FULL_SCALE * rng.choice([-1.0, 1.0], CHANNELS), (SEQ_LEN, 1)))
    for i in range(counts["constant"]):
        value = np.zeros(CHANNELS) if i == 0 else rng.uniform(-1, 1, CHANNELS) * FULL_SCALE * rng.choice([0.01, 0.1, 1.0])
        windows.append(np.tile(value, (SEQ_LEN, 1)))
    for i in range(counts["noise"]):
        if i % 4 == 3:
            windows.append(rng.uniform(-1, 1, (SEQ_LEN, CHANNELS)) * FULL_SCALE)
        else:
            windows.append(mean + std * rng.uniform(0.5, 3.0) * rng.standard_normal((SEQ_LEN, CHANNELS)))
    for k, c in counts.items():
        cats += [k] * c
    return np.clip(np.stack(windows), -FULL_SCALE, FULL_SCALE), cats


def _min_pairwise(e: np.ndarray, tiny: float) -> tuple[float, int]:
    sq = np.sum(e * e, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * e @ e.T, 0.0)
    iu = np.triu_indices(len(e), 1)
    d = np.sqrt(d2[iu])
    return float(d.min()) if d.size else 0.0, int(np.sum(d <= tiny))


def handle(req: dict) -> dict:
    model_path = require(req, "modelPath", str)
    meta_path = require(req, "metadataPath", str)
    n = int(req.get("windows", 1200))
    seed = int(req.get("seed", 5150))
    if n < MIN_WINDOWS:
        raise ToolError("InvalidRequest", f"a pre-flight sweep needs at least {MIN_WINDOWS} windows, asked for {n}")
    try:
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        raise ToolError("InvalidRequest", f"model metadata {meta_path} cannot be read: {e}") from e
    mean, std = normalization_arrays(meta.get("normalization"))
    mean64, std64 = mean.astype(np.float64), std.astype(np.float64)
    sess = onnx_session(model_path)

    raw, cats = sweep(n, seed, mean64, std64)
    progress("preflight", f"{len(raw)} sweep windows: " + ", ".join(f"{c} {cats.count(c)}" for c in dict.fromkeys(cats)))
    z = (raw - mean64) / std64
    in_range = np.abs(z).max(axis=(1, 2)) <= IN_RANGE_SIGMA
    with np.errstate(all="ignore"):
        out = run_windows(sess, z, "preflight")
    finite = np.all(np.isfinite(out), axis=1)
    cat_arr = np.array(cats)
    names = list(dict.fromkeys(cats))
    non_finite = [{"category": c, "windows": int(np.sum(~finite[cat_arr == c]))} for c in names if np.any(~finite[cat_arr == c])]
    absmax = np.where(np.isfinite(out), np.abs(out), 0.0).max(axis=1)
    per_cat = {c: float(absmax[cat_arr == c].max()) for c in names}

    def _worst(mask: np.ndarray) -> tuple[float, str]:
        if not np.any(mask):
            return 0.0, ""
        i = int(np.argmax(np.where(mask, absmax, -1.0)))
        return float(absmax[i]), cats[i]

    in_max, in_cat = _worst(in_range)
    fs_max, fs_cat = _worst(~in_range)

    act = out[(cat_arr == "activity") & finite]
    var = act.var(axis=0) if len(act) > 1 else np.zeros(LATENT)
    min_dist, identical = _min_pairwise(act, 1e-9) if len(act) > 1 else (0.0, 0)

    probes = []
    for p in meta.get("probes", []):
        w = np.asarray(p["window"], dtype=np.float64)
        ref = np.asarray(p["reference"], dtype=np.float64)
        with np.errstate(all="ignore"):
            y = run_windows(sess, ((w - mean64) / std64)[None], "preflight", every=0)[0]
        ny, nr, nd = np.linalg.norm(y), np.linalg.norm(ref), np.linalg.norm(y - ref)
        if ny == 0 and nr == 0:
            cos = 1.0
        else:
            cos = float(np.dot(y, ref) / (ny * nr)) if ny > 0 and nr > 0 else 0.0
        rel = 0.0 if nd == 0 else (float(nd / nr) if nr > 0 else float("inf"))
        ratio = (1.0 if ny == 0 else float("inf")) if nr == 0 else float(ny / nr)
        probes.append({"name": p["name"], "cosine": cos if np.isfinite(cos) else -1.0,
                       "relativeError": rel if np.isfinite(rel) else 1e308, "normRatio": ratio if np.isfinite(ratio) else 1e308,
                       "maxAbsDiff": float(np.max(np.abs(y - ref))) if np.all(np.isfinite(y)) else 1e308})

    def _clean(v: float) -> float:
        return float(v) if np.isfinite(v) else 1e308

    return {
        "windows": int(len(raw)),
        "categories": {c: int(np.sum(cat_arr == c)) for c in names},
        "allFinite": bool(np.all(finite)),
        "nonFinite": non_finite,
        "maxAbsValue": _clean(in_max),
        "maxAbsCategory": in_cat,
        "maxAbsValueFullScale": _clean(fs_max),
        "fullScaleCategory": fs_cat,
        "inRangeWindows": int(np.sum(in_range)),
        "perCategoryMaxAbs": per_cat,
        "minOutputVariance": float(var.min()),
        "meanOutputVariance": float(var.mean()),
        "minPairwiseDistance": min_dist,
        "identicalPairs": identical,
        "activityWindows": int(len(act)),
        "probes": probes,
        "minReferenceCosine": min((p["cosine"] for p in probes), default=-1.0),
        "maxRelativeError": max((p["relativeError"] for p in probes), default=1e308),
        "normRatio": {"min": min((p["normRatio"] for p in probes), default=0.0),
                      "max": max((p["normRatio"] for p in probes), default=0.0)},
        "maxAbsDiff": max((p["maxAbsDiff"] for p in probes), default=1e308),
    }


if __name__ == "__main__":
    sys.exit(run(handle))
