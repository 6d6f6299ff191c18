"""The CLI protocol every ml/ tool speaks, and facts shared by the tools (no torch import here).

Protocol: one JSON object on stdin, one JSON object on stdout, logs and progress on stderr.
Exit 0 on success; exit 2 with {"error": {"type", "message"}} on a known bad input (the type
is an ErrorType of common/errors.ts); any other exit is a crash.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
import traceback
from typing import Any, Callable

import numpy as np

# Sensor order: ax ay az (m/s^2), gx gy gz (rad/s), mx my mz (uT).
NORM_MEAN = [0.12, -0.08, 9.78, 0.002, -0.001, 0.003, 22.4, -8.7, 43.2]
NORM_STD = [3.92, 3.87, 2.45, 1.24, 1.31, 0.98, 28.5, 31.2, 24.8]
SEQ_LEN, CHANNELS, LATENT = 100, 9, 64


class ToolError(Exception):
    def __init__(self, error_type: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.error_type = error_type
        self.details = details


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def progress(stage: str, msg: str) -> None:
    """A line the TypeScript side forwards to the activity heartbeat."""
    log(f"[{stage}] {msg}")


def limit_threads() -> None:
    """GPU servers in CI share few cores; one op thread keeps timings stable and neighbours alive."""
    threads = int(os.environ.get("EDGESHIP_TORCH_THREADS", "1"))
    try:
        import torch

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
    except (ImportError, RuntimeError):
        pass


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_bytes(path: str, write: Callable[[Any], None]) -> None:
    """Write through a temp file in the same directory, then rename: no half file is ever visible."""
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; artifacts are shared with other users/services
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_npy(path: str, array: np.ndarray) -> None:
    atomic_write_bytes(path, lambda f: np.save(f, array, allow_pickle=False))


def save_json(path: str, obj: Any) -> None:
    atomic_write_bytes(path, lambda f: f.write(json.dumps(obj).encode()))


def normalization_arrays(norm: dict | None) -> tuple[np.ndarray, np.ndarray]:
    mean = np.asarray((norm or {}).get("mean", NORM_MEAN), dtype=np.float32)
    std = np.asarray((norm or {}).get("std", NORM_STD), dtype=np.float32)
    if mean.shape != (CHANNELS,) or std.shape != (CHANNELS,) or not np.all(std > 0) or not np.all(np.isfinite(mean)):
        raise ToolError("InvalidRequest", "normalization needs 9 finite means and 9 stds > 0")
    return mean, std


def onnx_session(path: str):
    """A single-threaded CPU session (measurements stay comparable); an unloadable file is final."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - onnxruntime raises several unrelated types for a bad file
        raise ToolError("OnnxShapeMismatch", f"{path} is not a loadable ONNX model: {e}") from e


def run_windows(sess, z: np.ndarray, stage: str, label: str = "the model", every: int = 400) -> np.ndarray:
    """One z-scored window at a time (batch-1 static shapes) -> float64 [N, LATENT]; progress every N windows."""
    name = sess.get_inputs()[0].name
    out = []
    for i, w in enumerate(z):
        y = sess.run(None, {name: w[None].astype(np.float32)})[0]
        if y.size != LATENT:
            raise ToolError("OnnxShapeMismatch", f"{label} outputs {y.size} values, expected {LATENT}")
        out.append(y.reshape(LATENT))
        if every and (i + 1) % every == 0:
            progress(stage, f"{label}: {i + 1}/{len(z)} windows")
    return np.stack(out).astype(np.float64)


def require(req: dict, key: str, kind: type) -> Any:
    value = req.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ToolError("InvalidRequest", f"request field {key!r} must be a {kind.__name__}")
    return value


def run(handler: Callable[[dict], dict]) -> None:
    started = time.perf_counter()
    try:
        req = json.loads(sys.stdin.read() or "{}")
        if not isinstance(req, dict):
            raise ToolError("InvalidRequest", "stdin must hold one JSON object")
        result = handler(req)
        result.setdefault("toolSeconds", round(time.perf_counter() - started, 3))
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
        sys.exit(0)
    except json.JSONDecodeError as e:
        _fail("InvalidRequest", f"stdin is not JSON: {e}")
    except ToolError as e:
        _fail(e.error_type, str(e), e.details)
    except Exception:  # noqa: BLE001 - a crash: the stack goes to stderr, exit 1 means "may pass on retry"
        traceback.print_exc()
        sys.exit(1)


def _fail(error_type: str, message: str, details: dict | None = None) -> None:
    log(f"error {error_type}: {message}")
    error = {"type": error_type, "message": message}
    if details is not None:
        error["details"] = details
    sys.stdout.write(json.dumps({"error": error}) + "\n")
    sys.stdout.flush()
    sys.exit(2)
