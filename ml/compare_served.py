"""Champion vs challenger: the candidate and the models devices serve now, on the same windows.

stdin:  {"candidate": {"modelPath": str (ONNX), "metadataPath": str (ModelMetadata)},
         "served": [{"sha256": str, "modelPath": str (ONNX), "metadataPath": str}],
         "windows": int = 512 (16..20000), "seed": int = 80021,
         "dataDir": str | null, "maxLabelled": int = 4000}
stdout: {"windows", "seed", "comparisons": [{"sha256", "windows",
           "cosine": {min, p05, mean}, "normRatio": {min, median, max}, "drift",
           "nonFiniteWindows", "task"?: {labelledWindows, candidateAccuracy, servedAccuracy, agreement}}],
         "labelled"?: {"windows", "classes": {name: n}, "fitWindows", "evalWindows"}, "taskSkipped"?: str}

Both models see the same raw windows (synthetic activity patterns, ml/synthetic.py, drawn with
their own seed: not the calibration, training or quantizer windows), each z-scored with its own
normalization from its metadata, exactly as the edge runtime does. Per window: cosine of the two
embeddings and |candidate| / |served|. drift = 1 - min cosine. A window where either output is
not finite counts as cosine -1 (drift 2) and norm ratio 1e308.

With dataDir (the recorded-windows folder ml/calibrate.py reads: the class of a window is the
name of the folder holding its file), the labelled windows (files at the top are "unlabeled"
and left out) are split per class, seeded: half fit the class centroids of each model's
embeddings, the other half are classified by the nearest centroid (L2). Reported: each model's
accuracy and how often the two agree. Fewer than 2 classes with 2+ windows: no task figure, and
taskSkipped says why.
"""
from __future__ import annotations

import json
import sys

import numpy as np

from common import ToolError, normalization_arrays, onnx_session, progress, require, run, run_windows

MIN_WINDOWS, MAX_WINDOWS = 16, 20_000
DEFAULT_SEED = 80021
BAD = 1e308


def _meta(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise ToolError("InvalidRequest", f"model metadata {path} cannot be read: {e}") from e


class Model:
    def __init__(self, model_path: str, meta_path: str, label: str):
        meta = _meta(meta_path)
        self.mean, self.std = (a.astype(np.float64) for a in normalization_arrays(meta.get("normalization")))
        self.sess = onnx_session(model_path)
        self.label = label

    def embed(self, raw: np.ndarray, what: str) -> np.ndarray:
        z = ((raw.astype(np.float64) - self.mean) / self.std).astype(np.float32)
        return run_windows(self.sess, z, "compare-served", f"{self.label} ({what})", every=256)


def pair_figures(cand: np.ndarray, served: np.ndarray) -> dict:
    finite = np.all(np.isfinite(cand), axis=1) & np.all(np.isfinite(served), axis=1)
    c = np.where(finite[:, None], cand, 0.0)
    s = np.where(finite[:, None], served, 0.0)
    nc, ns = np.linalg.norm(c, axis=1), np.linalg.norm(s, axis=1)
    both_zero = (nc == 0) & (ns == 0)
    with np.errstate(all="ignore"):
        cos = np.where(both_zero, 1.0, np.sum(c * s, axis=1) / np.maximum(nc * ns, 1e-300))
        ratio = np.where(ns > 0, nc / np.where(ns > 0, ns, 1.0), np.where(nc == 0, 1.0, BAD))
    cos = np.where((nc > 0) != (ns > 0), 0.0, cos)
    cos = np.clip(np.where(finite, cos, -1.0), -1.0, 1.0)
    ratio = np.where(finite & np.isfinite(ratio), ratio, BAD)
    min_cos = float(cos.min())
    return {
        "windows": int(len(cos)),
        "cosine": {"min": min_cos, "p05": float(np.percentile(cos, 5)), "mean": float(cos.mean())},
        "normRatio": {"min": float(ratio.min()), "median": float(np.median(ratio)), "max": float(ratio.max())},
        "drift": 1.0 - min_cos,
        "nonFiniteWindows": int(np.sum(~finite)),
    }


def split_labelled(labels: list[str], seed: int) -> tuple[np.ndarray, np.ndarray, dict[str, int], str | None]:
    """Per class, a seeded half fits the centroids and the rest is classified."""
    rng = np.random.default_rng(seed)
    arr = np.array(labels)
    classes = {c: int(np.sum(arr == c)) for c in sorted(set(labels))}
    usable = [c for c, n in classes.items() if n >= 2]
    if len(usable) < 2:
        return np.zeros(0, int), np.zeros(0, int), classes, (
            f"the data folder holds {len(classes)} labelled class(es) ({', '.join(f'{c} {n}' for c, n in classes.items()) or 'none'}); "
            "nearest-centroid accuracy needs at least 2 classes with 2 or more windows each (one folder per class)")
    fit, ev = [], []
    for c in usable:
        idx = rng.permutation(np.flatnonzero(arr == c))
        half = len(idx) // 2
        fit += idx[:half].tolist()
        ev += idx[half:].tolist()
    return np.array(sorted(fit)), np.array(sorted(ev)), {c: classes[c] for c in usable}, None


def nearest_centroid(emb: np.ndarray, labels: np.ndarray, fit: np.ndarray, ev: np.ndarray, classes: list[str]) -> np.ndarray:
    emb = np.where(np.isfinite(emb), emb, 0.0)
    cents = np.stack([emb[fit][labels[fit] == c].mean(axis=0) for c in classes])
    d2 = np.sum((emb[ev][:, None, :] - cents[None, :, :]) ** 2, axis=2)
    return np.array(classes)[np.argmin(d2, axis=1)]


def handle(req: dict) -> dict:
    cand_req = require(req, "candidate", dict)
    served_req = require(req, "served", list)
    n = int(req.get("windows", 512))
    seed = int(req.get("seed", DEFAULT_SEED))
    data_dir = req.get("dataDir")
    max_labelled = int(req.get("maxLabelled", 4000))
    if not MIN_WINDOWS <= n <= MAX_WINDOWS:
        raise ToolError("InvalidRequest", f"windows {n} outside {MIN_WINDOWS}..{MAX_WINDOWS}")
    candidate = Model(require(cand_req, "modelPath", str), require(cand_req, "metadataPath", str), "candidate")
    served = []
    for s in served_req:
        sha = require(s, "sha256", str)
        served.append((sha, Model(require(s, "modelPath", str), require(s, "metadataPath", str), f"served {sha[:12]}")))

    from synthetic import generate

    raw, _ = generate(n, seed)
    progress("compare-served", f"{n} held-out synthetic activity windows (seed {seed}); {len(served)} served model(s)")
    cand_out = candidate.embed(raw, "held-out")

    labelled = None
    task_skipped = None
    if data_dir:
        from calibrate import load_recorded

        progress("compare-served", f"reading labelled windows from {data_dir}")
        rec, rec_labels, _files = load_recorded(data_dir)
        keep = [i for i, lab in enumerate(rec_labels) if lab != "unlabeled"]
        rng = np.random.default_rng(seed)
        if len(keep) > max_labelled:
            keep = sorted(rng.choice(keep, max_labelled, replace=False).tolist())
        rec = rec[keep]
        lab = np.array([rec_labels[i] for i in keep])
        fit, ev, classes, task_skipped = split_labelled(lab.tolist(), seed)
        if task_skipped is None:
            used = np.sort(np.concatenate([fit, ev]))
            remap = {old: new for new, old in enumerate(used)}
            rec, lab = rec[used], lab[used]
            fit = np.array([remap[i] for i in fit])
            ev = np.array([remap[i] for i in ev])
            labelled = {"windows": int(len(used)), "classes": classes, "fitWindows": int(len(fit)), "evalWindows": int(len(ev))}
            class_list = list(classes)
            cand_rec = candidate.embed(rec, "labelled")
            cand_pred = nearest_centroid(cand_rec, lab, fit, ev, class_list)
        else:
            progress("compare-served", f"no task figure: {task_skipped}")

    comparisons = []
    for sha, model in served:
        figures = {"sha256": sha, **pair_figures(cand_out, model.embed(raw, "held-out"))}
        if labelled is not None:
            served_pred = nearest_centroid(model.embed(rec, "labelled"), lab, fit, ev, class_list)
            truth = lab[ev]
            figures["task"] = {
                "labelledWindows": labelled["windows"],
                "candidateAccuracy": float(np.mean(cand_pred == truth)),
                "servedAccuracy": float(np.mean(served_pred == truth)),
                "agreement": float(np.mean(cand_pred == served_pred)),
            }
        progress("compare-served", f"served {sha[:12]}: min cosine {figures['cosine']['min']:.6f}, "
                 f"norm ratio {figures['normRatio']['min']:.4f}..{figures['normRatio']['max']:.4f}")
        comparisons.append(figures)

    out: dict = {"windows": n, "seed": seed, "comparisons": comparisons}
    if labelled is not None:
        out["labelled"] = labelled
    if task_skipped is not None:
        out["taskSkipped"] = task_skipped
    return out


if __name__ == "__main__":
    sys.exit(run(handle))
