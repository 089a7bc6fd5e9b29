"""Automatic mixed precision (``edgeq convert --max-drop PP --data DIR``).

Starting from full int8, the ops that add the most error (see :mod:`edgeq.evaluation.layers`) are
kept in float one at a time until the top-1 drop against the float model, measured on the user's
labelled images, is within the target. TensorFlow's ``QuantizationDebugger`` calibrates once and
re-quantizes the calibrated model with a growing ``denylisted_nodes`` list
(``get_nondebug_quantized_model``), so each step costs one quantization pass, not a calibration.
If the target cannot be met, the best model found is kept and the record says so.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from edgeq.errors import DatasetError, UsageError
from edgeq.events import CancelToken, Event, Log, LogLevel, Metric, Progress, Stage

MIXED_MODE = "int8-mixed"


@dataclass
class EvalSet:
    """Decoded evaluation tensors with labels (None: unlabelled, agreement with float is used)."""

    x: np.ndarray
    y: np.ndarray | None
    folder: str
    classes: list[str] | None
    files: list[Path] = field(default_factory=list)  # the decoded files, in the order of x


def load_eval_set(folder: str, spec: Any, *, csv_path: str | None = None, limit: int = 0,
                  cancel: CancelToken | None = None) -> EvalSet:
    """Decodes the evaluation images once (mixed precision measures every candidate on them)."""
    from edgeq.calibration import decode_images
    from edgeq.evaluation.dataset import find_dataset

    data = find_dataset(folder, csv_path=csv_path)
    files = data.files[:limit] if limit else data.files
    xs, ys, kept = [], [], []
    for i, d in enumerate(decode_images(files, spec, cancel=cancel)):
        if d.tensor is not None:
            xs.append(d.tensor)
            kept.append(files[i])
            if data.labels is not None:
                ys.append(data.labels[i])
    if not xs:
        raise DatasetError(f"no readable images in {folder}", hint="pass --data with decodable images")
    return EvalSet(np.stack(xs).astype(np.float32), np.asarray(ys) if data.labelled else None, str(folder), data.classes,
                   kept)


def _outputs(models: list[bytes], x: np.ndarray) -> list[np.ndarray]:
    from edgeq.evaluation.runner import VariantPool

    with VariantPool(models) as pool:
        outs = pool.run(list(range(len(models))), x)
    for o in outs.values():
        if isinstance(o, BaseException):
            raise o
    return [outs[i] for i in range(len(models))]


def _accuracy(out: np.ndarray, ev: EvalSet, ref: np.ndarray) -> float:
    pred = out.reshape(len(out), -1).argmax(-1)
    target = ev.y if ev.y is not None else ref.reshape(len(ref), -1).argmax(-1)
    return float(np.mean(pred == target))


def search(model: Any, representative: Any, float_model: bytes, ev: EvalSet, max_drop: float, *,
           per_tensor: bool = False, analyze_samples: int = 32, cancel: CancelToken) -> Iterator[Event]:
    """Greedy denylisting; returns the record (and the chosen model bytes under ``"_data"``).

    Args:
        model: the LoadedModel being converted (gives a fresh TFLiteConverter).
        representative: the calibration representative-dataset callable.
        float_model: the float32 ``.tflite`` (reference accuracy and per-layer error).
        ev: evaluation tensors and labels.
        max_drop: allowed top-1 drop vs float, in percentage points.
    """
    from edgeq.evaluation.layers import compare_layers
    from edgeq.native import captured_fds, import_tensorflow

    if max_drop < 0:
        raise UsageError(f"--max-drop must be ≥ 0 (got {max_drop:g})", hint="e.g. --max-drop 0.5 (percentage points)")
    tf = import_tensorflow()
    yield Stage("mixed", f"Mixed precision: searching for int8 within {max_drop:g} pp of float")
    (ref,) = _outputs([float_model], ev.x)
    float_acc = _accuracy(ref, ev, ref)
    c = model.make_converter()
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = representative
    if per_tensor:
        c._experimental_disable_per_channel = True  # noqa: SLF001 - the converter's only switch for it
    opts = tf.lite.experimental.QuantizationDebugOptions
    with captured_fds(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the debugger builds TF's deprecated tf.lite.Interpreter
        dbg = tf.lite.experimental.QuantizationDebugger(converter=c, debug_dataset=representative, debug_options=opts())

    def quantize(nodes: list[str]) -> bytes:
        dbg._debug_options = opts(denylisted_nodes=list(nodes))  # noqa: SLF001 - re-quantize without recalibrating
        with captured_fds():
            return bytes(dbg.get_nondebug_quantized_model())

    steps: list[dict[str, Any]] = []

    def measure(nodes: list[str]) -> tuple[dict[str, Any], bytes]:
        data = quantize(nodes)
        (out,) = _outputs([data], ev.x)
        acc = _accuracy(out, ev, ref)
        step = {"float_nodes": len(nodes), "added": nodes[-1] if nodes else None, "bytes": len(data),
                "top1": round(acc, 6), "drop_pp": round((float_acc - acc) * 100, 4)}
        steps.append(step)
        return step, data

    t0 = time.perf_counter()
    step, data = measure([])
    yield Metric("mixed_drop_pp", step["drop_pp"], 0, variant=MIXED_MODE)
    best = (step, data, [])
    nodes: list[str] = []
    candidates: list[dict[str, Any]] = []
    if step["drop_pp"] > max_drop:
        samples = ev.x[:analyze_samples]
        rows = compare_layers(data, float_model, samples, cancel)
        # The denylist names ops by their output in the float graph (matched by layers.match_ops).
        candidates = [r for r in rows if r.get("float_tensor")]
        yield Log(f"int8 drops {step['drop_pp']:.2f} pp (float top-1 {float_acc:.2%}); keeping up to "
                  f"{len(candidates)} op(s) in float, most sensitive first")
        for k, row in enumerate(candidates, 1):
            cancel.raise_if_cancelled()
            nodes.append(row["float_tensor"])
            step, data = measure(list(nodes))
            yield Progress("mixed", k, len(candidates))
            yield Metric("mixed_drop_pp", step["drop_pp"], k, variant=MIXED_MODE)
            if (step["drop_pp"], step["bytes"]) < (best[0]["drop_pp"], best[0]["bytes"]):
                best = (step, data, list(nodes))
            if step["drop_pp"] <= max_drop:
                break
    chosen, chosen_data, chosen_nodes = best
    met = chosen["drop_pp"] <= max_drop
    by_tensor = {r["float_tensor"]: r for r in candidates}
    record = {
        "max_drop_pp": max_drop,
        "met": met,
        "data": {"folder": ev.folder, "images": int(len(ev.x)), "labelled": ev.y is not None},
        "float_top1": round(float_acc, 6),
        "int8_top1": steps[0]["top1"],
        "int8_drop_pp": steps[0]["drop_pp"],
        "top1": chosen["top1"],
        "drop_pp": chosen["drop_pp"],
        "bytes": chosen["bytes"],
        "float_ops": [{"tensor": n, "op_name": by_tensor[n]["op_name"] if n in by_tensor else None} for n in chosen_nodes],
        "steps": steps,
        "seconds": round(time.perf_counter() - t0, 3),
        "file": None,
        "summary": "",
        "_data": chosen_data,
    }
    if not chosen_nodes:
        record["summary"] = (f"full int8 is already within {max_drop:g} pp (drop {chosen['drop_pp']:.2f} pp); "
                             "no op needs to stay float")
    elif met:
        record["summary"] = (f"kept {len(chosen_nodes)} op(s) in float: top-1 {chosen['top1']:.2%}, drop "
                             f"{chosen['drop_pp']:.2f} pp (full int8: {steps[0]['drop_pp']:.2f} pp), "
                             f"{chosen['bytes'] / 1024:.1f} KiB")
        if len(chosen_nodes) == len(candidates):
            record["summary"] += ("; every op had to stay float, so this is float32 in all but name: the int8 ranges "
                                  "are unusable — fix the calibration (see the drift check of edgeq eval)")
    else:
        record["summary"] = (f"target {max_drop:g} pp NOT met: best found keeps {len(chosen_nodes)} op(s) in float, "
                             f"drop {chosen['drop_pp']:.2f} pp ({chosen['bytes'] / 1024:.1f} KiB); consider float16 "
                             "or dynamic, or better calibration images")
    yield Log(f"mixed precision: {record['summary']}", LogLevel.INFO if met else LogLevel.WARNING, "mixed-precision")
    return record


def run_for_convert(req: Any, model: Any, spec: Any, samples: Any, variants: list[dict[str, Any]], out: Path,
                    cancel: CancelToken) -> Iterator[Event]:
    """The convert job's mixed-precision step; returns the manifest's ``mixed_precision`` block."""
    from edgeq.conversion import _representative, variant_filename
    from edgeq.converters.registry import ConvertOptions, Mode, get_converter
    from edgeq.fsio import sha256_bytes, write_bytes_atomic
    from edgeq.preprocess import PreprocessSpec

    data_spec = spec
    if getattr(req, "data_preset", None):
        data_spec = PreprocessSpec.from_dict({**spec.to_dict(), "preset": req.data_preset, "mean": [], "std": []})
    ev = load_eval_set(req.data, data_spec, cancel=cancel)
    f32 = next((v for v in variants if v["mode"] == "float32" and v["status"] == "ok"), None)
    float_model = (out / f32["file"]).read_bytes() if f32 else get_converter(Mode.FLOAT32).convert(model, ConvertOptions(), None)
    pcheck = None
    if ev.y is not None:  # the drop is measured against float: first make sure float is fed the right inputs
        from edgeq.calibration import opencv_single_threaded
        from edgeq.evaluation.preprocess_check import check_preprocessing
        from edgeq.preprocess import mismatch_warning

        with opencv_single_threaded():
            pcheck = check_preprocessing(float_model, ev.files, ev.y, data_spec)
        wrong = mismatch_warning(pcheck)
        if wrong:
            yield Log(wrong, LogLevel.WARNING, "preprocess-mismatch")
    record = yield from search(model, _representative(samples), float_model, ev, float(req.max_drop),
                               per_tensor=req.per_tensor, cancel=cancel)
    record["preprocess_check"] = pcheck
    data = record.pop("_data")
    if record["float_ops"]:
        fname = variant_filename(Path(model.path), MIXED_MODE)
        write_bytes_atomic(out / fname, data)
        record.update(file=fname, sha256=sha256_bytes(data), engine="tflite-converter", calibration="min-max")
    else:
        int8 = next((v for v in variants if v["mode"] == "int8" and v["status"] == "ok"), None)
        record["file"] = int8["file"] if int8 else None
    if data_spec is not spec:
        record["data"]["preprocess"] = data_spec.to_dict()
    return record
