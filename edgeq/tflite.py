"""The LiteRT interpreter, seen from the host: describe a ``.tflite`` and run it on float data.

Quantized inputs are quantized with the model's own scale/zero-point, and quantized outputs
dequantized the same way, so every variant is compared with float in float.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from edgeq.errors import ModelLoadError


def interpreter_class() -> Any:
    """ai_edge_litert's Interpreter (or tflite_runtime's where only that is installed)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - boards with the older runtime only
        from tflite_runtime.interpreter import Interpreter  # type: ignore[no-redef]
    return Interpreter


def runtime_version() -> str:
    try:
        from importlib.metadata import version

        return f"ai-edge-litert {version('ai-edge-litert')}"
    except Exception:  # pragma: no cover
        return "unknown"


def load_interpreter(model: bytes | str | Path, *, threads: int | None = None, preserve: bool = False,
                     delegates: bool = True) -> Any:
    """Creates and allocates an interpreter; allocation errors surface here.

    Args:
        delegates: apply the default delegates (XNNPACK), as deployment does; without them the
            op list shows the model's own ops instead of DELEGATE nodes.
    """
    cls = interpreter_class()
    kw: dict[str, Any] = {"num_threads": threads} if threads else {}
    if preserve:
        kw["experimental_preserve_all_tensors"] = True
    if not delegates or preserve:
        kw["experimental_op_resolver_type"] = _op_resolver().BUILTIN_WITHOUT_DEFAULT_DELEGATES
    from edgeq.native import captured_fds

    with captured_fds():  # LiteRT announces its XNNPACK delegate on fd 2 when it is applied
        try:
            if isinstance(model, (bytes, bytearray)):
                it = cls(model_content=bytes(model), **kw)
            else:
                it = cls(model_path=str(model), **kw)
        except ValueError as exc:
            raise ModelLoadError(f"not a valid .tflite model: {str(exc).splitlines()[0][:200]}", hint="re-convert it") from None
        it.allocate_tensors()
    return it


def _op_resolver() -> Any:
    try:
        from ai_edge_litert.interpreter import OpResolverType
    except ImportError:  # pragma: no cover
        from tflite_runtime.interpreter import OpResolverType  # type: ignore[no-redef]
    return OpResolverType


def _quant(detail: dict[str, Any]) -> dict[str, Any]:
    qp = detail.get("quantization_parameters") or {}
    scales = np.asarray(qp.get("scales", []), dtype=np.float64)
    zps = np.asarray(qp.get("zero_points", []), dtype=np.int64)
    if scales.size == 0:
        scale, zp = detail.get("quantization", (0.0, 0))
        if not scale:
            return {}
        return {"scale": float(scale), "zero_point": int(zp)}
    if scales.size == 1:
        return {"scale": float(scales[0]), "zero_point": int(zps[0]) if zps.size else 0}
    return {"per_channel": int(scales.size), "axis": int(qp.get("quantized_dimension", 0))}


def _io(detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": detail["name"],
        "shape": [int(d) for d in detail["shape"]],
        "dtype": np.dtype(detail["dtype"]).name,
        "quantization": _quant(detail),
    }


def describe_tflite(model: bytes | str | Path) -> dict[str, Any]:
    """Op counts by type and by dtype, I/O dtypes and quantization params, tensor dtypes."""
    data = Path(model).read_bytes() if not isinstance(model, (bytes, bytearray)) else bytes(model)
    it = load_interpreter(data, delegates=False)
    tensors = {t["index"]: t for t in it.get_tensor_details()}
    ops = it._get_ops_details()  # noqa: SLF001 - the public API has no op listing
    by_type: Counter[str] = Counter()
    by_dtype: Counter[str] = Counter()
    for op in ops:
        by_type[op["op_name"]] += 1
        outs = [i for i in op.get("outputs", []) if i >= 0 and i in tensors]
        by_dtype[np.dtype(tensors[outs[0]]["dtype"]).name if outs else "none"] += 1
    tdt: Counter[str] = Counter(np.dtype(t["dtype"]).name for t in tensors.values())
    return {
        "bytes": len(data),
        "inputs": [_io(d) for d in it.get_input_details()],
        "outputs": [_io(d) for d in it.get_output_details()],
        "ops": len(ops),
        "ops_by_type": dict(sorted(by_type.items())),
        "ops_by_dtype": dict(sorted(by_dtype.items())),
        "tensors_by_dtype": dict(sorted(tdt.items())),
        "float_ops": sorted({op["op_name"] for op in ops if _op_is_float(op, tensors)}),
    }


def _op_is_float(op: dict[str, Any], tensors: dict[int, Any]) -> bool:
    if op["op_name"] in ("DEQUANTIZE", "QUANTIZE"):
        return False
    outs = [i for i in op.get("outputs", []) if i >= 0 and i in tensors]
    return bool(outs) and np.dtype(tensors[outs[0]]["dtype"]).kind == "f"


class TfliteRunner:
    """Runs one ``.tflite`` model on float inputs and returns float (dequantized) outputs."""

    def __init__(self, model: bytes | str | Path, *, threads: int | None = None) -> None:
        self.interpreter = load_interpreter(model, threads=threads)
        self._in = self.interpreter.get_input_details()[0]
        self._out = self.interpreter.get_output_details()[0]
        self.input_shape = tuple(int(d) for d in self._in["shape"])
        self.output_shape = tuple(int(d) for d in self._out["shape"])
        self._in_dtype = np.dtype(self._in["dtype"])
        self._out_dtype = np.dtype(self._out["dtype"])

    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        dt = self._in_dtype
        if dt.kind == "f":
            return x.astype(dt, copy=False)
        scale, zp = self._in["quantization"]
        if not scale:
            return x.astype(dt)
        info = np.iinfo(dt)
        return np.clip(np.round(x / scale + zp), info.min, info.max).astype(dt)

    def dequantize_output(self, y: np.ndarray) -> np.ndarray:
        if self._out_dtype.kind == "f":
            return y.astype(np.float32, copy=False)
        scale, zp = self._out["quantization"]
        if not scale:
            return y.astype(np.float32)
        return ((y.astype(np.float32) - zp) * scale).astype(np.float32)

    def run_one(self, x: np.ndarray) -> np.ndarray:
        """One sample (no batch dim) → its output (no batch dim)."""
        it = self.interpreter
        it.set_tensor(self._in["index"], self.quantize_input(x.reshape(self.input_shape)))
        it.invoke()
        return self.dequantize_output(it.get_tensor(self._out["index"]))[0]

    def run(self, xs: np.ndarray) -> np.ndarray:
        """Samples (N, ...) → outputs (N, ...), one invoke per sample (batch-1 models).

        Inputs are quantized and outputs dequantized once for the whole array, and the loop does
        nothing but copy in, invoke, copy out: the Python between two invokes holds the GIL, which
        is what limits evaluation on several threads.
        """
        n = len(xs)
        if n == 0:
            return np.zeros((0,), np.float32)
        it, i_in, i_out = self.interpreter, self._in["index"], self._out["index"]
        q = self.quantize_input(np.asarray(xs).reshape(n, *self.input_shape[1:]))
        ys = np.empty((n, *self.output_shape[1:]), self._out_dtype)
        set_tensor, invoke, get_tensor = it.set_tensor, it.invoke, it.get_tensor
        for k in range(n):
            set_tensor(i_in, q[k : k + 1])
            invoke()
            ys[k] = get_tensor(i_out)[0]
        return self.dequantize_output(ys)
