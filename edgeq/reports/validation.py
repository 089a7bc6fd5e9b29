"""Type checks of the fields a report reads, so a damaged document degrades a report instead of crashing it.

Each document kind has a small spec of the fields the report uses and their types. A field of the
wrong type is dropped (``None``, which the report shows as "not measured") and noted; a list item
that is not an object is dropped; latency samples keep only finite, non-negative numbers. Fields
the spec does not mention pass through untouched.
"""

from __future__ import annotations

import math
from typing import Any

NUM = "number"
STR = "text"
INT = "integer"
BOOL = "boolean"
NUM_MAP = "number map"  # {name: number}, e.g. per-class accuracy
SAMPLES = "samples"  # [number >= 0], non-finite values dropped
DB = "number or \"inf\""  # an SQNR: 'edgeq analyze' writes an error of exactly zero as "inf"

_ERROR = {"message": STR, "hint": STR, "stage": STR}
_VARIANT = {
    "mode": STR, "summary": STR, "status": STR, "file": STR, "bytes": INT, "sha256": STR, "seconds": NUM,
    "size_vs_float32": NUM, "error": _ERROR,
    "tflite": {"bytes": INT, "inputs": [{"name": STR, "dtype": STR, "shape": list, "quantization": dict}],
               "outputs": [{"name": STR, "dtype": STR, "shape": list, "quantization": dict}], "ops": INT,
               "ops_by_type": NUM_MAP, "ops_by_dtype": NUM_MAP, "tensors_by_dtype": NUM_MAP, "float_ops": list},
    "checks": {"samples": INT, "sqnr_db": NUM, "cosine": NUM, "max_abs_error": NUM, "top1_agreement": NUM,
               "kl_divergence": NUM, "host_invoke_ms_mean": NUM},
}
SPECS: dict[str, dict[str, Any]] = {
    "manifest": {
        "command": STR, "status": STR, "partial_reason": STR, "versions": dict,
        "model": {"name": STR, "path": STR, "kind": STR, "sha256": STR, "input_shape": list, "input_dtype": STR,
                  "output_shape": list, "classifier": BOOL, "params": INT, "layers": INT,
                  "preprocessing_layers": [{"type": STR, "layer": STR}]},
        "preprocess": {"preset": STR, "color": STR, "resize": STR, "mean": list, "std": list, "size": list},
        "calibration": {"folder": STR, "requested": INT, "used": INT, "candidates": INT, "seed": INT, "skipped": list,
                        "grayscale_sources": INT,
                        "stats": {"channels": INT, "min": list, "max": list, "mean": list, "std": list}},
        "checks": {"samples": INT, "source": STR, "classifier": BOOL}, "options": dict, "labels": list,
        "warnings": [{"code": STR, "message": STR}], "variants": [_VARIANT], "edgetpu": dict,
    },
    "eval": {
        "command": STR, "partial": BOOL, "partial_reason": STR,
        "data": {"folder": STR, "kind": STR, "classes": list, "images": INT, "skipped": list, "preprocess": dict},
        "reference": {"file": STR, "mode": STR, "sha256": STR},
        "variants": [{"file": STR, "mode": STR, "engine": STR, "calibration": STR, "bytes": INT, "sha256": STR,
                      "status": STR,
                      "error": _ERROR, "drop_pp": NUM,
                      "metrics": {"count": INT, "top1": NUM, "top5": NUM, "per_class": NUM_MAP, "confusion": list,
                                  "agreement_top1": NUM, "kl_divergence": NUM, "cosine": NUM, "sqnr_db": NUM,
                                  "max_abs_error": NUM}}],
        "drift": {"warnings": list, "clipping": [{"tensor": STR, "calib_range": list, "eval_range": list,
                                                  "saturated_fraction": NUM}]},
        "recommendation": dict,
    },
    "analyze": {
        "command": STR, "model": STR, "reference": STR, "model_sha256": STR, "reference_sha256": STR,
        "layers": [{"op_index": INT, "op_name": STR, "tensor": STR, "rmse": NUM, "scaled_rmse": NUM, "sqnr_db": DB,
                    "local_sqnr_db": DB, "mean_abs_error": NUM}],
    },
    "profile": {
        "command": STR, "partial": BOOL, "partial_reason": STR,
        "runs": [{"model": STR, "model_file": STR, "model_sha256": STR, "variant": STR,
                  "device": {"name": STR, "transport": STR, "facts": dict}, "settings": dict, "status": STR,
                  "error": _ERROR,
                  "stats": {k: NUM for k in ("init_ms", "first_inference_us", "warmup_mean_us", "count", "mean_us",
                                             "std_us", "min_us", "max_us", "median_us", "p5_us", "p90_us", "p95_us",
                                             "p99_us", "throughput_ips")},
                  "memory": {"peak_rss_mb": NUM, "measured": BOOL, "note": STR},
                  "delegate_coverage": {"delegated_nodes": INT, "total_nodes": INT, "note": STR},
                  "samples_us": SAMPLES, "warmup_samples_us": SAMPLES, "warnings": list}],
    },
}


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check(value: Any, spec: Any, where: str, notes: list[str]) -> Any:
    if value is None:
        return None
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            notes.append(f"{where} is not an object")
            return None
        return {k: (_check(v, spec[k], f"{where}.{k}", notes) if k in spec else v) for k, v in value.items()}
    if isinstance(spec, list):
        if not isinstance(value, list):
            notes.append(f"{where} is not a list")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                out.append(_check(item, spec[0], f"{where}[{i}]", notes))
            else:
                notes.append(f"{where}[{i}] is not an object")
        return out
    ok = {
        NUM: _is_num, INT: lambda v: _is_num(v) and float(v).is_integer(), STR: lambda v: isinstance(v, str),
        BOOL: lambda v: isinstance(v, bool),
        NUM_MAP: lambda v: isinstance(v, dict) and all(_is_num(x) or x is None for x in v.values()),
        SAMPLES: lambda v: isinstance(v, list),
        DB: lambda v: _is_num(v) or v in ("inf", "-inf")
        or (isinstance(v, float) and math.isinf(v)), dict: lambda v: isinstance(v, dict),
        list: lambda v: isinstance(v, list),
    }[spec](value)
    if not ok:
        shown = repr(value)
        cut = f"{shown[:40]}{'…' if len(shown) > 40 else ''}"
        notes.append(f"{where} = {cut} is not a {getattr(spec, '__name__', spec)}")
        return [] if spec in (SAMPLES, list) else None
    if spec == SAMPLES:
        kept = [float(x) for x in value if _is_num(x) and x >= 0]
        if len(kept) != len(value):
            notes.append(f"{where}: {len(value) - len(kept)} values are not finite non-negative numbers")
        return kept
    return value


def checked(kind: str, doc: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A copy of ``doc`` whose fields the report reads have the documented types, and notes on what was dropped."""
    notes: list[str] = []
    spec = SPECS.get(kind)
    if spec is None:
        return doc, notes
    return _check(doc, spec, "$", notes), notes
