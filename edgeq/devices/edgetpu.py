"""The Edge TPU, offline: will a .tflite map onto it, and what did ``edgetpu_compiler`` do with it.

:func:`check_compatibility` reads the flatbuffer (no interpreter, no device) and applies Coral's
documented model requirements: every tensor 8-bit quantized, only supported ops, static shapes,
at most 3 dimensions larger than 1, and one delegated subgraph. The compiler maps ops from the
start of the graph and stops at the first one it cannot map: that op and everything after it
run on the CPU, so the first blocker is what the report names.

:func:`run_edgetpu_compiler` runs the real compiler when it is installed and parses its log.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

# Operations the Edge TPU compiler (v16) can map, from Coral's "Supported operations" table.
SUPPORTED_OPS = frozenset({
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "EXPAND_DIMS",
    "FULLY_CONNECTED", "L2_NORMALIZATION", "LOGISTIC", "UNIDIRECTIONAL_SEQUENCE_LSTM", "MAXIMUM",
    "MAX_POOL_2D", "MEAN", "MINIMUM", "MUL", "PACK", "PAD", "PRELU", "QUANTIZE", "REDUCE_MAX",
    "REDUCE_MIN", "RELU", "RELU6", "RELU_N1_TO_1", "RESHAPE", "RESIZE_BILINEAR",
    "RESIZE_NEAREST_NEIGHBOR", "RSQRT", "SLICE", "SOFTMAX", "SPACE_TO_DEPTH", "SPLIT", "SQUEEZE",
    "STRIDED_SLICE", "SUB", "SUM", "SQUARED_DIFFERENCE", "TANH", "TRANSPOSE", "TRANSPOSE_CONV",
})
# Documented limitation: these may not carry a fused activation function.
NO_FUSED_ACTIVATION = frozenset({"AVERAGE_POOL_2D", "MAX_POOL_2D", "CONCATENATION"})
EDGETPU_CUSTOM_OP = "edgetpu-custom-op"
_QUANTIZED = {"INT8", "UINT8"}
_ALLOWED_AUX = {"INT32"}  # biases and shape/axis operands


def _schema() -> Any:
    from ai_edge_litert import schema_py_generated as schema

    return schema


def _enum_names(enum_cls: Any) -> dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


def _read_model(path: Path) -> Any:
    from edgeq.errors import ModelLoadError

    schema = _schema()
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"cannot read {path}: {exc.strerror}", hint="check the path") from None
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelLoadError(f"{path} is not a .tflite model (no TFL3 identifier)", hint="pass a .tflite file made by edgeq convert")
    return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))


def check_compatibility(tflite_path: str | Path) -> dict[str, Any]:
    """Checks a .tflite against the Edge TPU's documented constraints, without any device.

    Returns:
        A JSON-able dict: ``compatible`` (every op can map), ``already_compiled``,
        ``full_integer``, ``static_shapes``, ``ops_total``, ``ops_mappable`` (ops before the first
        blocker), ``first_blocker`` ({index, op, reason} or None), ``problems`` (model-wide issues),
        ``boundary_cpu_ops`` (input QUANTIZE / output DEQUANTIZE that run on the CPU harmlessly),
        ``op_counts`` and ``summary`` (one sentence).

    Raises:
        ModelLoadError: the file is missing or not a .tflite model.
    """
    schema = _schema()
    model = _read_model(Path(tflite_path))
    op_names = _enum_names(schema.BuiltinOperator)
    type_names = _enum_names(schema.TensorType)
    codes = []
    for oc in model.operatorCodes or []:
        code = max(int(oc.builtinCode or 0), int(oc.deprecatedBuiltinCode or 0))
        name = op_names.get(code, f"BUILTIN_{code}")
        if name == "CUSTOM":
            custom = oc.customCode.decode() if isinstance(oc.customCode, bytes) else str(oc.customCode)
            name = custom
        codes.append(name)
    sg = model.subgraphs[0]
    tensors = sg.tensors or []
    ops = sg.operators or []
    graph_in, graph_out = set(int(i) for i in sg.inputs), set(int(i) for i in sg.outputs)
    problems: list[str] = []
    if len(model.subgraphs) > 1:
        problems.append(f"the model has {len(model.subgraphs)} subgraphs (control flow); the Edge TPU maps only the main graph")

    def tname(i: int) -> str:
        t = tensors[i].name
        return t.decode() if isinstance(t, bytes) else str(t)

    def ttype(i: int) -> str:
        return type_names.get(int(tensors[i].type), str(tensors[i].type))

    dynamic = sorted({tname(i) for i in range(len(tensors)) if tensors[i].shapeSignature is not None and -1 in list(tensors[i].shapeSignature)})
    if dynamic:
        problems.append(f"{len(dynamic)} tensor(s) have dynamic shapes (e.g. {dynamic[0]}); the Edge TPU needs static shapes: convert with a fixed batch size of 1")
    for i in sorted(graph_in):
        shape = [int(d) for d in (tensors[i].shape if tensors[i].shape is not None else [])]
        if len(shape) > 3 and sum(1 for d in shape[:-3] if d > 1):
            problems.append(f"input {tname(i)} has shape {shape}: only the 3 innermost dimensions may be larger than 1 (use batch size 1)")

    compiled = EDGETPU_CUSTOM_OP in codes
    boundary: list[dict[str, Any]] = []
    first: dict[str, Any] | None = None
    float_ops = 0
    op_counts: dict[str, int] = {}
    for idx, op in enumerate(ops):
        name = codes[op.opcodeIndex]
        op_counts[name] = op_counts.get(name, 0) + 1
        ins = [int(i) for i in (op.inputs if op.inputs is not None else []) if int(i) >= 0]
        outs = [int(i) for i in (op.outputs if op.outputs is not None else []) if int(i) >= 0]
        is_float = any(ttype(i) in ("FLOAT32", "FLOAT16") for i in ins + outs)
        # Float interfaces: a QUANTIZE right after a graph input and a DEQUANTIZE right before a
        # graph output run on the CPU at the edges of the graph without splitting it.
        if name == "QUANTIZE" and set(ins) <= graph_in and is_float:
            boundary.append({"index": idx, "op": name})
            continue
        if name == "DEQUANTIZE" and set(outs) <= graph_out:
            boundary.append({"index": idx, "op": name})
            continue
        if name == EDGETPU_CUSTOM_OP:
            continue
        float_ops += is_float
        if first is not None:
            continue
        reason = ""
        if name not in SUPPORTED_OPS:
            reason = "operation not supported by the Edge TPU"
        elif is_float:
            reason = "works on float tensors; the Edge TPU needs a full-integer (int8) model"
        else:
            odd = sorted({ttype(i) for i in ins + outs} - _QUANTIZED - _ALLOWED_AUX)
            if odd:
                reason = f"uses {'/'.join(odd)} tensors; the Edge TPU needs 8-bit quantized tensors"
            elif any(ttype(i) == "INT32" for i in outs):
                reason = "produces int32 activations; only 8-bit activations map to the Edge TPU"
            elif name in NO_FUSED_ACTIVATION and int(getattr(op.builtinOptions, "fusedActivationFunction", 0) or 0) != 0:
                reason = "has a fused activation function, which the Edge TPU does not support for this op"
        if reason:
            first = {"index": idx, "op": name, "reason": reason}
    real_ops = [i for i, op in enumerate(ops) if i not in {b["index"] for b in boundary}]
    mappable = 0 if problems else (first["index"] - sum(1 for b in boundary if b["index"] < first["index"]) if first else len(real_ops))
    full_integer = float_ops == 0
    compatible = not problems and first is None and not compiled
    if compiled:
        summary = f"already compiled for the Edge TPU ({op_counts.get(EDGETPU_CUSTOM_OP, 0)} Edge TPU subgraph(s), {len(ops) - op_counts.get(EDGETPU_CUSTOM_OP, 0)} op(s) on the CPU)"
    elif problems:
        summary = problems[0]
    elif first:
        rest = len(real_ops) - mappable - 1
        summary = (f"{mappable} of {len(real_ops)} ops can map to the Edge TPU; {first['op']} (op {first['index']}) {first['reason']}, "
                   f"so it and the {rest} op(s) after it would run on the CPU")
    else:
        summary = f"all {len(real_ops)} ops can map to the Edge TPU"
    return {
        "compatible": compatible, "already_compiled": compiled, "full_integer": full_integer, "static_shapes": not dynamic,
        "ops_total": len(real_ops), "ops_mappable": mappable if not compiled else None, "first_blocker": first,
        "problems": problems, "boundary_cpu_ops": boundary, "op_counts": dict(sorted(op_counts.items())), "summary": summary,
    }


# -- the compiler -------------------------------------------------------------------------------

_SIZE = re.compile(r"([\d.]+)\s*([KMG]?i?B)")
_UNITS = {"B": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3, "KB": 1000, "MB": 1000 ** 2, "GB": 1000 ** 3}


def _mib(text: str) -> float | None:
    m = _SIZE.search(text)
    if not m:
        return None
    return round(float(m.group(1)) * _UNITS.get(m.group(2), 1) / 1024 ** 2, 4)


def find_edgetpu_compiler() -> str | None:
    """The ``edgetpu_compiler`` executable (``$EDGEQ_EDGETPU_COMPILER``, then PATH), or None."""
    env = os.environ.get("EDGEQ_EDGETPU_COMPILER")
    if env:
        return shutil.which(env)
    return shutil.which("edgetpu_compiler")


def parse_compiler_log(text: str) -> dict[str, Any]:
    """Parses edgetpu_compiler's console output (and/or its .log operation table).

    Returns:
        ``version``, ``ops_total``, ``ops_tpu``, ``ops_cpu``, ``subgraphs``, ``on_chip_mib``,
        ``on_chip_remaining_mib``, ``off_chip_mib``, ``input_model``, ``output_model``,
        ``log_file``, ``operators`` ([{op, count, status, mapped}]), ``succeeded``.
    """
    def find(rx: str) -> str | None:
        m = re.search(rx, text, re.MULTILINE)
        return m.group(1).strip() if m else None

    total = find(r"Total number of operations:\s*(\d+)")
    tpu = find(r"Number of operations that will run on Edge TPU:\s*(\d+)")
    cpu = find(r"Number of operations that will run on CPU:\s*(\d+)")
    operators = []
    for m in re.finditer(r"^([A-Z][A-Z0-9_]+|CUSTOM)\s{2,}(\d+)\s{2,}(.+?)\s*$", text, re.MULTILINE):
        status = m.group(3)
        operators.append({"op": m.group(1), "count": int(m.group(2)), "status": status, "mapped": status.startswith("Mapped to Edge TPU")})
    out: dict[str, Any] = {
        "version": find(r"Edge TPU Compiler version\s+(\S+)"),
        "ops_total": int(total) if total else None,
        "ops_tpu": int(tpu) if tpu else None,
        "ops_cpu": int(cpu) if cpu else None,
        "subgraphs": int(find(r"Number of Edge TPU subgraphs:\s*(\d+)") or 0) or None,
        "on_chip_mib": _mib(find(r"On-chip memory used for caching model parameters:\s*(.+)") or ""),
        "on_chip_remaining_mib": _mib(find(r"On-chip memory remaining for caching model parameters:\s*(.+)") or ""),
        "off_chip_mib": _mib(find(r"Off-chip memory used for streaming uncached model parameters:\s*(.+)") or ""),
        "input_model": find(r"Input model:\s*(.+)"),
        "output_model": find(r"Output model:\s*(.+)"),
        "log_file": find(r"Operation log:\s*(.+)"),
        "operators": operators,
        "succeeded": "Compilation succeeded" in text or "Model compiled successfully" in text,
    }
    # With every op mapped the compiler prints no per-device counts: all ran on the TPU.
    if out["ops_total"] is not None and out["ops_tpu"] is None and out["succeeded"]:
        out["ops_tpu"], out["ops_cpu"] = out["ops_total"], 0
    return out


def run_edgetpu_compiler(tflite_path: str | Path, out_dir: str | Path, *, timeout: float = 600, compiler: str | None = None) -> dict[str, Any]:
    """Compiles ``tflite_path`` into ``out_dir`` with edgetpu_compiler and parses the result.

    Never raises for a failed compilation (the manifest records it): ``status`` is "ok" or
    "failed" and ``error`` says why.

    Returns:
        :func:`parse_compiler_log`'s keys plus ``status``, ``error``, ``compiler``,
        ``output_file`` (path of the *_edgetpu.tflite or None) and ``command``.
    """
    exe = compiler or find_edgetpu_compiler()
    base: dict[str, Any] = {"status": "failed", "error": None, "compiler": exe, "output_file": None, "command": None}
    if exe is None:
        base["error"] = "edgetpu_compiler is not installed (Debian/Ubuntu x86-64: apt-get install edgetpu-compiler from Coral's repository)"
        return base
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    argv = [exe, "-s", "-o", str(out), str(tflite_path)]
    base["command"] = argv
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)  # noqa: S603
    except subprocess.TimeoutExpired:
        base["error"] = f"edgetpu_compiler did not finish within {timeout:g} s"
        return base
    except OSError as exc:
        base["error"] = f"cannot run {exe}: {exc.strerror}"
        return base
    text = p.stdout + "\n" + p.stderr
    log = out / (Path(tflite_path).stem + "_edgetpu.log")
    if log.is_file():
        text += "\n" + log.read_text(errors="replace")
    parsed = parse_compiler_log(text)
    produced = out / (Path(tflite_path).stem + "_edgetpu.tflite")
    base.update(parsed)
    if p.returncode == 0 and produced.is_file():
        base.update(status="ok", output_file=str(produced))
    else:
        lines = [ln.strip() for ln in (p.stdout + "\n" + p.stderr).splitlines() if ln.strip()]
        keys = ("ERROR", "Invalid model", "not quantized", "Compilation failed:", "not supported")
        errs = [ln for ln in lines if any(k in ln for k in keys)]
        base["error"] = "; ".join(errs or lines[-1:] or [f"exit status {p.returncode}"])[:500]
    return base
