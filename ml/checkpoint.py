"""Loading a TCN-VAE checkpoint with typed errors for every way it can be wrong.

Accepted: the edgeship format ({"architecture", "config", "state_dict", "normalization"}) or a
plain state_dict (also under "state_dict" / "model_state_dict"), which gets the reference
normalization of the facts file. Loading uses weights_only=True: a checkpoint never runs code.
"""
from __future__ import annotations

import os
import pickle
import struct
import zipfile

import torch

from common import NORM_MEAN, NORM_STD, ToolError, log, normalization_arrays
from tcn_vae import ARCHITECTURE, DEFAULT_CONFIG, TCNVAE


def load_checkpoint(path: str) -> tuple[TCNVAE, dict]:
    if not os.path.isfile(path):
        raise ToolError("CheckpointNotFound", f"checkpoint {path} does not exist (or is not a file)")
    _check_container(path)
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "Weights only load failed" in str(e):
            raise ToolError("CheckpointCorrupt", f"checkpoint {path} pickles Python objects, not tensors; "
                            "save model.state_dict() (edgeship never unpickles code)") from e
        raise ToolError("CheckpointCorrupt", f"checkpoint {path} cannot be read: {e}") from e
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as e:
        raise ToolError("CheckpointCorrupt", f"checkpoint {path} cannot be read: {str(e).splitlines()[0]}") from e
    except (IndexError, KeyError, TypeError, AttributeError, UnicodeDecodeError, struct.error) as e:
        # The weights-only unpickler reading bytes that are not a pickle stream fails with these.
        raise ToolError("CheckpointCorrupt", f"checkpoint {path} is not a readable PyTorch checkpoint "
                        f"({type(e).__name__}: {str(e)[:120]})") from e

    if not isinstance(raw, dict):
        raise ToolError("CheckpointArchitectureMismatch", f"checkpoint {path} holds a {type(raw).__name__}, not a state_dict")
    arch = raw.get("architecture")
    if arch is not None and arch != ARCHITECTURE:
        raise ToolError("CheckpointArchitectureMismatch", f"checkpoint architecture {arch!r}, expected {ARCHITECTURE!r}")

    state = raw.get("state_dict", raw.get("model_state_dict", raw))
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ToolError("CheckpointArchitectureMismatch", f"checkpoint {path} has no state_dict of tensors")

    cfg = raw.get("config", DEFAULT_CONFIG)
    if not isinstance(cfg, dict) or set(cfg) != set(DEFAULT_CONFIG):
        raise ToolError("CheckpointArchitectureMismatch", f"checkpoint config keys {sorted(cfg) if isinstance(cfg, dict) else cfg} "
                        f"do not describe a TCN-VAE ({sorted(DEFAULT_CONFIG)})")
    if cfg["input_dim"] != 9 or cfg["seq_len"] != 100 or cfg["latent_dim"] != 64:
        raise ToolError("CheckpointArchitectureMismatch", "edgeship deploys [100,9] -> [64] encoders; checkpoint config has "
                        f"input_dim={cfg['input_dim']} seq_len={cfg['seq_len']} latent_dim={cfg['latent_dim']}")
    try:
        model = TCNVAE(cfg)
    except (TypeError, ValueError, KeyError, RuntimeError) as e:
        raise ToolError("CheckpointArchitectureMismatch", f"checkpoint config cannot build a TCN-VAE: {e}") from e

    missing, unexpected, wrong = _compare(model.state_dict(), state)
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} (e.g. {', '.join(unexpected[:3])})")
        if wrong:
            parts.append(f"shape mismatch {len(wrong)} (e.g. {'; '.join(wrong[:3])})")
        raise ToolError("CheckpointArchitectureMismatch", f"checkpoint {path} is not a {ARCHITECTURE} state_dict: " + ", ".join(parts))
    model.load_state_dict(state)
    model.eval()

    norm = raw.get("normalization")
    if norm is None:
        log(f"[checkpoint] {path} carries no normalization; using the reference mean/std")
        norm = {"mean": NORM_MEAN, "std": NORM_STD}
    if not isinstance(norm, dict) or "mean" not in norm or "std" not in norm:
        raise ToolError("CheckpointArchitectureMismatch", "checkpoint normalization is not {mean: [9], std: [9]}")
    try:
        normalization_arrays(norm)
    except ToolError as e:
        raise ToolError("CheckpointArchitectureMismatch", f"checkpoint normalization: {e}") from e
    # The values as training saved them: float32 arrays would turn 0.12 into 0.11999999731779099.
    as_list = {k: norm[k].tolist() if isinstance(norm[k], torch.Tensor) else list(norm[k]) for k in ("mean", "std")}
    return model, {k: [float(v) for v in vals] for k, vals in as_list.items()}


def _check_container(path: str) -> None:
    """torch.save writes a zip archive (PK\\x03\\x04) or, in the legacy format, a pickle (protocol byte 0x80).

    Anything else (a text file, a JSON file, an ONNX model) is not a checkpoint: say so before the
    unpickler fails on it with an IndexError or a misleading message.
    """
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":
        return
    kind = "an empty file" if not head else "a text file" if _looks_like_text(path) else f"bytes starting {head!r}"
    raise ToolError("CheckpointCorrupt", f"checkpoint {path} is not a PyTorch checkpoint (torch.save writes a zip archive "
                    f"or a pickle); it is {kind}")


def _looks_like_text(path: str) -> bool:
    with open(path, "rb") as f:
        chunk = f.read(4096)
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in chunk


def _compare(expected: dict, given: dict) -> tuple[list[str], list[str], list[str]]:
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    wrong = [f"{k}: {tuple(given[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
             if k in given and tuple(given[k].shape) != tuple(v.shape)]
    return missing, unexpected, wrong
