"""Compile the FP32 ONNX encoder to a Hailo HEF with the Hailo Dataflow Compiler (DFC).

stdin:  {"onnxPath", "calibrationPath" (z-scored float32 [N,100,9] .npy), "hwArch": "hailo8"|"hailo8l",
         "netName", "workDir", "outPath" (.hef), "calibNhwcPath"?: str, "preflightOnly": bool = false}
stdout: {"preflight": {...}, "hefPath", "hefBytes", "steps": {parse, optimize, compile: seconds},
         "dfcVersion", "loadedByHailoRT": bool | null}

The sequence is the DFC's own: ClientRunner.translate_onnx_model (ONNX -> HAR), optimize with
the calibration set (quantization), compile (-> HEF bytes). The preflight runs first and needs
only `onnx`, so its findings are reported even where the DFC is absent. Where the DFC is not
importable the tool fails with HailoCompilerUnavailable and writes nothing: a file that only
looks like a HEF would be deployed and fail on the device.
"""
from __future__ import annotations

import collections
import os
import sys
import time

import numpy as np

from common import CHANNELS, SEQ_LEN, ToolError, atomic_write_bytes, progress, require, run, save_npy

HW_ARCHES = ("hailo8", "hailo8l")
DFC_WHEEL = "hailo_dataflow_compiler-3.33.0-py3-none-linux_x86_64.whl"
INSTALL_HINT = (
    f"the Hailo Dataflow Compiler is not installed in this Python environment ({sys.executable}). "
    f"Download the DFC 3.x wheel `{DFC_WHEEL}` from the Hailo Developer Zone "
    "(https://hailo.ai/developer-zone/, login required; it cannot be installed from PyPI) and install it "
    f"into this venv: `{sys.executable} -m pip install {DFC_WHEEL}` on x86_64 Linux. "
    "The devices need the matching HailoRT 4.23 (driver + library) to load the HEF."
)
# Ops the DFC's ONNX parser is documented to translate for CNN graphs like this one. Anything
# else is a warning, not an error: the parser itself is the authority.
KNOWN_OPS = {
    "Conv", "Relu", "Add", "Sub", "Mul", "Div", "Gemm", "MatMul", "Concat", "Slice", "Pad", "Transpose",
    "Reshape", "Flatten", "Unsqueeze", "Squeeze", "GlobalAveragePool", "AveragePool", "MaxPool", "ReduceMean",
    "Sigmoid", "Softmax", "BatchNormalization", "Constant", "Identity", "LeakyRelu", "PRelu", "Clip", "ConvTranspose",
    "Resize", "Split",
}
LAYOUT_OPS = {"Transpose", "Unsqueeze", "Reshape", "Identity"}


def preflight(onnx_path: str) -> dict:
    import onnx

    model = onnx.load(onnx_path)
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}

    def shape(vi) -> list:
        return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in vi.type.tensor_type.shape.dim]

    inputs = {vi.name: shape(vi) for vi in graph.input if vi.name not in inits}
    outputs = {vi.name: shape(vi) for vi in graph.output}
    ops = collections.Counter(n.op_type for n in graph.node)
    warnings = []
    for name, dims in {**inputs, **outputs}.items():
        if any(not isinstance(d, int) or d <= 0 for d in dims):
            warnings.append(f"{name} has dynamic dims {dims}; the DFC needs static shapes")
    conv1d = [n.name for n in graph.node if n.op_type == "Conv" and n.input[1] in inits and len(inits[n.input[1]].dims) == 3]
    if conv1d:
        warnings.append(f"{len(conv1d)} Conv nodes are 1-D (Conv1d); Hailo targets accept 2-D convolutions far more "
                        "reliably: export with conv2d: true (the 1xk/1xd Conv2d form, proven by the same parity check)")
    for op in sorted(set(ops) - KNOWN_OPS):
        warnings.append(f"op {op} ({ops[op]}x) is outside the ops edgeship knows the DFC parser to accept")
    if ops.get("QuantizeLinear") or ops.get("DequantizeLinear"):
        warnings.append("the graph is already quantized (QDQ); give the DFC the FP32 ONNX, it quantizes itself")

    # The NPU runs from the first Conv onwards: the input's layout ops (transpose to channels-
    # first, add the H=1 axis) become the host's job, and [1,100,9] is bit-for-bit NHWC [1,1,100,9].
    consumers = collections.defaultdict(list)
    for n in graph.node:
        for i in n.input:
            consumers[i].append(n)
    tensor = next(iter(inputs), None)
    while tensor is not None:
        nxt = [n for n in consumers.get(tensor, []) if n.op_type != "Constant"]
        if len(nxt) == 1 and nxt[0].op_type in LAYOUT_OPS:
            tensor = nxt[0].output[0]
            continue
        break
    start_nodes = sorted(n.name for n in consumers.get(tensor, []) if n.op_type != "Constant")
    inferred = {vi.name: shape(vi) for vi in onnx.shape_inference.infer_shapes(model).graph.value_info}
    start_shape = inputs.get(tensor) or inferred.get(tensor)
    producers = {o: n for n in graph.node for o in n.output}
    end = producers.get(next(iter(outputs), ""))
    return {
        "inputs": inputs,
        "outputs": outputs,
        "ops": dict(sorted(ops.items())),
        "warnings": warnings,
        "startNodeNames": start_nodes,
        "startTensor": tensor,
        "startTensorShape": start_shape,
        "endNodeNames": [end.name] if end is not None else [],
    }


def handle(req: dict) -> dict:
    onnx_path = require(req, "onnxPath", str)
    calib_path = require(req, "calibrationPath", str)
    hw_arch = require(req, "hwArch", str)
    net_name = require(req, "netName", str)
    work_dir = require(req, "workDir", str)
    out_path = require(req, "outPath", str)
    if hw_arch not in HW_ARCHES:
        raise ToolError("UnknownTarget", f"hw arch {hw_arch!r}; edgeship compiles for {', '.join(HW_ARCHES)}")

    progress("hailo", f"preflight {onnx_path}")
    pf = preflight(onnx_path)
    for w in pf["warnings"]:
        progress("hailo", f"preflight warning: {w}")
    if req.get("preflightOnly"):
        return {"preflight": pf}

    try:
        from hailo_sdk_client import ClientRunner
    except ImportError as e:
        raise ToolError("HailoCompilerUnavailable", f"{INSTALL_HINT} (import hailo_sdk_client: {e})", {"preflight": pf}) from e

    os.makedirs(work_dir, exist_ok=True)
    calib = np.load(calib_path, allow_pickle=False)
    if calib.dtype != np.float32 or calib.ndim != 3 or calib.shape[1:] != (SEQ_LEN, CHANNELS):
        raise ToolError("CalibrationDataInvalid", f"calibration set {calib_path}: {calib.dtype} {list(calib.shape)}")
    if calib.shape[0] < 1024:
        progress("hailo", f"warning: {calib.shape[0]} calibration windows; Hailo recommends at least 1024")
    start_shape = pf["startTensorShape"]
    input_shapes = {n: start_shape for n in pf["startNodeNames"]} if start_shape and len(start_shape) == 4 else None
    # The Conv2d form's network starts at the first Conv: NCHW [N,9,1,100] there is NHWC [N,1,100,9]
    # to the DFC, the same bytes as the z-scored [N,100,9] windows.
    calib_nhwc = calib.reshape(calib.shape[0], 1, SEQ_LEN, CHANNELS) if input_shapes else calib
    if req.get("calibNhwcPath"):
        save_npy(req["calibNhwcPath"], calib_nhwc)  # what `hailo optimize --calib-set-path` would read

    steps = {}
    runner = ClientRunner(hw_arch=hw_arch)
    try:
        t0 = time.perf_counter()
        progress("hailo", f"parse: translate_onnx_model start={pf['startNodeNames']} end={pf['endNodeNames']}")
        runner.translate_onnx_model(onnx_path, net_name, start_node_names=pf["startNodeNames"] or None,
                                    end_node_names=pf["endNodeNames"] or None,
                                    net_input_shapes=input_shapes)
        runner.save_har(os.path.join(work_dir, f"{net_name}.har"))
        steps["parse"] = round(time.perf_counter() - t0, 2)

        t0 = time.perf_counter()
        progress("hailo", f"optimize: {calib_nhwc.shape[0]} calibration windows {list(calib_nhwc.shape)}")
        runner.optimize(calib_nhwc)
        runner.save_har(os.path.join(work_dir, f"{net_name}_optimized.har"))
        steps["optimize"] = round(time.perf_counter() - t0, 2)

        t0 = time.perf_counter()
        progress("hailo", "compile: allocating and compiling for " + hw_arch + " (minutes)")
        hef = runner.compile()
        steps["compile"] = round(time.perf_counter() - t0, 2)
    except Exception as e:  # noqa: BLE001 - the DFC raises its own exception types per step
        step = next(s for s in ("parse", "optimize", "compile") if s not in steps)
        raise ToolError("HailoCompileFailed", f"DFC {step} failed: {type(e).__name__}: {e}", {"preflight": pf}) from e
    if not isinstance(hef, (bytes, bytearray)) or len(hef) == 0:
        raise ToolError("HailoCompileFailed", f"DFC compile returned {type(hef).__name__} of no bytes, not a HEF")
    atomic_write_bytes(out_path, lambda f: f.write(hef))

    loaded = None
    try:
        from hailo_platform import HEF

        loaded = bool(HEF(out_path).get_network_group_names())
    except ImportError:
        progress("hailo", "HailoRT (hailo_platform) not installed here: the HEF is checked on the device")
    except Exception as e:  # noqa: BLE001 - HailoRT raises its own status exceptions
        # Compiling again gives the same bytes: a HEF HailoRT refuses is a non-retryable failure,
        # and it must not stay in the store looking like a finished artifact.
        os.remove(out_path)
        raise ToolError("HailoCompileFailed", f"HailoRT cannot load the compiled HEF: {type(e).__name__}: {e}", {"preflight": pf}) from e
    if loaded is False:
        os.remove(out_path)
        raise ToolError("HailoCompileFailed", "HailoRT loaded the compiled HEF but found no network group in it", {"preflight": pf})
    try:
        from hailo_sdk_client import __version__ as dfc_version
    except ImportError:
        dfc_version = "unknown"
    return {"preflight": pf, "hefPath": out_path, "hefBytes": len(hef), "steps": steps, "dfcVersion": dfc_version,
            "loadedByHailoRT": loaded}


if __name__ == "__main__":
    sys.exit(run(handle))
