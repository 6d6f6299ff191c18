"""Export the TCN-VAE encoder of a checkpoint to ONNX, with PyTorch reference outputs.

stdin:  {"checkpointPath": str, "outDir": str, "conv2d": bool = false, "opset": int = 17}
stdout: {"onnxPath", "referencePath", "opset", "conv2d", "ops": {op: count}, "parameters",
         "versions": {...}, "architecture"}

Writes <outDir>/model.onnx (imu_window [1,100,9] -> latent_embeddings [1,64], static shapes)
and <outDir>/reference.json ({normalization, probes: [{name, window, reference}]}) — the same
pair a user's own export command must write. The ONNX takes z-scored input; probe windows are
raw sensor values, and references are the trained Conv1d encoder's outputs on them, so the
Conv2d form is held to the original model.
"""
from __future__ import annotations

import collections
import os
import platform
import sys
import warnings

import numpy as np

from common import SEQ_LEN, CHANNELS, LATENT, ToolError, limit_threads, progress, require, run, save_json


def handle(req: dict) -> dict:
    ckpt_path = require(req, "checkpointPath", str)
    out_dir = require(req, "outDir", str)
    conv2d = bool(req.get("conv2d", False))
    opset = int(req.get("opset", 17))
    if not 11 <= opset <= 21:
        raise ToolError("InvalidRequest", f"opset {opset} outside 11..21")

    progress("export", "loading torch")
    limit_threads()
    import onnx
    import torch

    from checkpoint import load_checkpoint
    from synthetic import probe_windows
    from tcn_vae import ARCHITECTURE, EncoderMu, count_parameters, deployable_encoder

    progress("export", f"loading checkpoint {ckpt_path}")
    vae, norm = load_checkpoint(ckpt_path)
    mean, std = np.asarray(norm["mean"], np.float32), np.asarray(norm["std"], np.float32)

    reference_encoder = EncoderMu(vae.encoder).eval()
    deployed = deployable_encoder(vae, conv2d)
    probes = []
    with torch.no_grad():
        for name, window in probe_windows():
            x = torch.from_numpy(((window.astype(np.float32) - mean) / std)[None])
            ref = reference_encoder(x)[0].numpy()
            if not np.all(np.isfinite(ref)):
                raise ToolError("ModelOutputNotFinite", f"the checkpoint's encoder outputs non-finite values on probe {name!r} "
                                f"({int(np.sum(~np.isfinite(ref)))} of {LATENT})")
            probes.append({"name": name, "window": window.tolist(), "reference": ref.astype(np.float64).tolist()})

    os.makedirs(out_dir, exist_ok=True)
    onnx_path = os.path.join(out_dir, "model.onnx")
    tmp_path = os.path.join(out_dir, ".model.onnx.tmp")
    progress("export", f"torch.onnx.export opset {opset} ({'conv2d' if conv2d else 'conv1d'} form)")
    dummy = torch.zeros(1, SEQ_LEN, CHANNELS)
    # The TorchScript exporter is chosen on purpose: static batch-1 shapes, no onnxscript needed.
    warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
    torch.onnx.export(deployed, (dummy,), tmp_path, input_names=["imu_window"], output_names=["latent_embeddings"],
                      opset_version=opset, do_constant_folding=True, dynamo=False)
    model = onnx.load(tmp_path)
    onnx.checker.check_model(model)
    os.replace(tmp_path, onnx_path)
    ops = collections.Counter(node.op_type for node in model.graph.node)
    onnx_params = int(sum(np.prod(t.dims) for t in model.graph.initializer))

    reference_path = os.path.join(out_dir, "reference.json")
    save_json(reference_path, {"normalization": norm, "probes": probes})
    progress("export", f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes) and {len(probes)} probe references")
    return {
        "onnxPath": onnx_path,
        "referencePath": reference_path,
        "opset": opset,
        "conv2d": conv2d,
        "architecture": ARCHITECTURE,
        "ops": dict(sorted(ops.items())),
        "parameters": {"vae": count_parameters(vae), "onnx": onnx_params},
        "versions": {"torch": torch.__version__, "onnx": onnx.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
    }


if __name__ == "__main__":
    sys.exit(run(handle))
