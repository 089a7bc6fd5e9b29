"""Per-layer quantization error (``edgeq analyze``): which ops of the int8 model lose the most.

An equivalent of TensorFlow's ``QuantizationDebugger`` layer statistics that works on any pair of
``.tflite`` files (so also on models from litert-quantizer): the quantized and the float model run
side by side with every intermediate tensor preserved, op outputs are matched by tensor name (the
converter keeps the float names; by op type and order as a fallback), and each int8 output is
dequantized with its own scale/zero-point and compared with float.

``scaled_rmse`` is RMSE divided by the tensor's quantization step: about 0.29 (1/√12) is the
rounding noise every int8 tensor has; much larger values mean error carried in from earlier
layers or clipped ranges. ``local_sqnr_db`` is the SQNR of the noise an op adds itself (its
output's noise-to-signal ratio minus its input's) and orders the table, lowest first: SQNR alone
always blames the last layers, where every earlier error has accumulated.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from edgeq.errors import InputError, ModelLoadError, OutputExists, UsageError
from edgeq.events import CancelToken, Done, Event, Log, Progress, Stage
from edgeq.fsio import meta, run_document_path, sha256_bytes, write_json_atomic, write_text_atomic
from edgeq.metrics import json_number

ANALYZE_SCHEMA = 1
_SKIP = {"DEQUANTIZE"}
CSV_COLUMNS = ("op_index", "op_name", "tensor", "rmse", "scaled_rmse", "sqnr_db", "local_sqnr_db", "mean_abs_error", "scale")


@dataclass
class AnalyzeRequest:
    """Everything one ``edgeq analyze`` run needs.

    Attributes:
        model: a results folder (its int8 variant), an int8 ``.tflite``, or a Keras/SavedModel
            model (converted to float32 + int8 in memory with ``calib``).
        reference: float ``.tflite`` (default: the float32 variant beside the model).
        calib: calibration images (needed for a Keras model).
        data: images to measure on (default: ``calib``, or the manifest's calibration folder).
        csv: also write the table to this CSV file.
        num_samples: images to measure on.
        preset/color/resize: preprocessing (default: the manifest's, or the model's defaults).
    """

    model: str
    reference: str | None = None
    calib: str | None = None
    data: str | None = None
    csv: str | None = None
    overwrite: bool = False
    num_samples: int = 32
    num_calib: int = 200
    preset: str | None = None
    color: str | None = None
    resize: str | None = None
    seed: int = 0
    trust_model: bool = False
    write: bool = True
    command: str = ""


@dataclass
class AnalyzeResult:
    document: dict[str, Any]
    path: Path | None = None
    csv_path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.document


def _ops(it: Any) -> list[dict[str, Any]]:
    return [op for op in it._get_ops_details() if op["op_name"] not in _SKIP]  # noqa: SLF001


def match_ops(quant_it: Any, float_it: Any) -> list[tuple[dict[str, Any], dict[str, Any], int, int]]:
    """(quant op, its output tensor detail, float tensor index, quant tensor index) pairs."""
    qd = {t["index"]: t for t in quant_it.get_tensor_details()}
    fd = {t["index"]: t for t in float_it.get_tensor_details()}
    fnames = {t["name"]: i for i, t in fd.items()}
    fops: dict[str, list[dict[str, Any]]] = {}
    for op in _ops(float_it):
        fops.setdefault(op["op_name"], []).append(op)
    seen: dict[str, int] = {}
    pairs = []
    q_input = quant_it.get_input_details()[0]["index"]
    f_input = float_it.get_input_details()[0]["index"]
    for op in _ops(quant_it):
        k = seen.get(op["op_name"], 0)
        seen[op["op_name"]] = k + 1
        outs = [o for o in op["outputs"] if o >= 0]
        if not outs:
            continue
        qt = qd[outs[0]]
        fi = fnames.get(qt["name"])
        if op["op_name"] == "QUANTIZE":  # only the input quantizer has a float counterpart: the input
            fi = f_input if q_input in op["inputs"] else None
        elif fi is None and k < len(fops.get(op["op_name"], [])):
            fo = [o for o in fops[op["op_name"]][k]["outputs"] if o >= 0]
            fi = fo[0] if fo else None
        if fi is not None and tuple(fd[fi]["shape"]) == tuple(qt["shape"]):
            pairs.append((op, qt, fi, outs[0]))
    return pairs


def compare_layers(quant_model: bytes, float_model: bytes, samples: np.ndarray,
                   cancel: CancelToken | None = None) -> list[dict[str, Any]]:
    """Per-op-output error of ``quant_model`` vs ``float_model`` on ``samples``, most sensitive first."""
    from edgeq.tflite import TfliteRunner, load_interpreter

    qrun = TfliteRunner(quant_model)
    qi = load_interpreter(quant_model, preserve=True)
    fi = load_interpreter(float_model, preserve=True)
    if tuple(qi.get_input_details()[0]["shape"]) != tuple(fi.get_input_details()[0]["shape"]):
        raise ModelLoadError(
            f"the reference takes input {list(fi.get_input_details()[0]['shape'])} but the model takes "
            f"{list(qi.get_input_details()[0]['shape'])}", hint="pass the float32 .tflite converted from the same model")
    pairs = match_ops(qi, fi)
    if not pairs:
        raise InputError("no op of the model matches an op of the reference",
                         hint="pass the float32 .tflite converted from the same source model as --reference")
    acc = {q: {"sq": 0.0, "abs": 0.0, "sig": 0.0, "n": 0} for _, _, _, q in pairs}
    qin, fin = qi.get_input_details()[0], fi.get_input_details()[0]
    for x in samples:
        if cancel is not None:
            cancel.raise_if_cancelled()
        qi.set_tensor(qin["index"], qrun.quantize_input(x.reshape(qrun.input_shape)))
        qi.invoke()
        fi.set_tensor(fin["index"], x.reshape(fin["shape"]).astype(np.float32))
        fi.invoke()
        for _, qt, f_idx, q_idx in pairs:
            f = fi.get_tensor(f_idx).astype(np.float64)
            q = _dequantize(qi.get_tensor(q_idx), qt)
            d = q - f
            a = acc[q_idx]
            a["sq"] += float(np.sum(d * d))
            a["abs"] += float(np.sum(np.abs(d)))
            a["sig"] += float(np.sum(f * f))
            a["n"] += f.size
    rows = []
    sqnr_of: dict[int, float] = {}
    fnames = {t["index"]: t["name"] for t in fi.get_tensor_details()}
    for op, qt, f_idx, q_idx in pairs:
        a = acc[q_idx]
        n = max(1, a["n"])
        rmse = float(np.sqrt(a["sq"] / n))
        scale = _scale(qt)
        sqnr = float("inf") if a["sq"] == 0 else (float("-inf") if a["sig"] == 0 else 10 * np.log10(a["sig"] / a["sq"]))
        sqnr_of[q_idx] = float(sqnr)
        measured = [sqnr_of[i] for i in op["inputs"] if i in sqnr_of]
        # Fed only by the model's input (the input quantizer): that input is exact, so all of the op's
        # error is its own. A 0-1 image quantized with a 0-255 scale rounds to 0 or 1 right here.
        local = _local_sqnr(measured, float(sqnr)) if measured else (float(sqnr) if op["op_name"] == "QUANTIZE" else None)
        rows.append({
            "op_index": int(op["index"]),
            "op_name": op["op_name"],
            "tensor": qt["name"],
            "rmse": round(rmse, 8),
            "scaled_rmse": round(rmse / scale, 6) if scale else None,
            "sqnr_db": json_number(sqnr, 4),
            "local_sqnr_db": json_number(local, 4),
            "mean_abs_error": round(a["abs"] / n, 8),
            "scale": scale,
            "float_tensor": fnames.get(f_idx) if op["op_name"] != "QUANTIZE" else None,
        })
    rows.sort(key=_sensitivity)
    return rows


def _local_sqnr(inputs: list[float], out: float) -> float | None:
    """SQNR of the noise an op adds itself: its output's noise-to-signal ratio minus its input's.

    Noise powers add (roughly) along the graph, so the op's own share is the difference of the
    noise-to-signal ratios; ``inf`` when it adds none. None when no input was measured.
    """
    if not inputs or not np.isfinite(out):
        return None if not inputs else float("inf")
    nsr_in = max(10 ** (-s / 10) if np.isfinite(s) else (0.0 if s > 0 else float("inf")) for s in inputs)
    added = 10 ** (-out / 10) - nsr_in
    return float(-10 * np.log10(added)) if added > 0 else float("inf")


def _sensitivity(row: dict[str, Any]) -> tuple[int, float, float]:
    # Error accumulates along the graph, so the last layers always have the lowest SQNR; the
    # error an op adds itself (local SQNR, low = bad) orders the table. Ops without a measured
    # input come last, by error in their own quantization steps.
    local = row["local_sqnr_db"]
    local = float("inf") if local == "inf" else local
    scaled = row["scaled_rmse"] if row["scaled_rmse"] is not None else -1.0
    return (0 if local is not None else 1, local if local is not None else 0.0, -scaled)


def _scale(t: dict[str, Any]) -> float | None:
    if np.dtype(t["dtype"]).kind not in "iu":
        return None
    scale, _ = t["quantization"]
    return float(scale) if scale else None


def _dequantize(v: np.ndarray, t: dict[str, Any]) -> np.ndarray:
    if np.dtype(t["dtype"]).kind not in "iu":
        return v.astype(np.float64)
    scale, zp = t["quantization"]
    return (v.astype(np.float64) - zp) * (scale or 1.0)


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    return buf.getvalue()


def run_analyze(req: AnalyzeRequest, *, cancel: CancelToken) -> Iterator[Event]:
    """The analyze job (see :func:`edgeq.api.analyze`).

    Yields:
        Stage/Progress/Log events, then ``Done(AnalyzeResult)``.
    """
    from edgeq.evaluation.sources import load_pair, sample_images

    if req.num_samples < 1:
        raise UsageError("--num-samples must be at least 1", hint="e.g. --num-samples 32")
    csv_path = Path(req.csv) if req.csv else None
    if csv_path is not None and csv_path.exists() and not req.overwrite:
        raise OutputExists(f"{csv_path} already exists", hint="pass --overwrite to replace it, or choose another --csv")
    yield Stage("load", "Loading the models")
    pair = yield from load_pair(req, cancel)
    yield Stage("analyze", f"Comparing {pair.model_name} with {pair.reference_name} layer by layer", total=req.num_samples)
    samples = sample_images(pair.data, pair.spec, req.num_samples, req.seed, cancel)
    yield Progress("analyze", 0, len(samples))
    rows = compare_layers(pair.model, pair.reference, samples, cancel)
    yield Progress("analyze", len(samples), len(samples))
    quantized = [r for r in rows if r["scale"]]
    if not quantized:
        yield Log(f"{pair.model_name} has no quantized activations: per-layer error is only float rounding")
    doc = {
        "__meta__": meta("analyze", ANALYZE_SCHEMA),
        "command": req.command,
        "model": pair.model_name,
        "reference": pair.reference_name,
        "model_sha256": sha256_bytes(pair.model),
        "reference_sha256": sha256_bytes(pair.reference),
        "data": {"folder": str(pair.data), "samples": int(len(samples)), "preprocess": pair.spec.to_dict()},
        "layers": rows,
    }
    path = None
    if req.write and pair.folder is not None:
        path = run_document_path(pair.folder, "analyze")
        write_json_atomic(path, doc)
    if csv_path is not None:
        write_text_atomic(csv_path, to_csv(rows))
    yield Done(AnalyzeResult(doc, path, csv_path))
