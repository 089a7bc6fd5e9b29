"""litert-quantizer as a second int8 engine: static int8 from the float32 ``.tflite``.

Measured facts this module is designed around (see docs/eval.md):

* Its default static recipe calibrates with a moving average of per-sample min/max
  (``qsv_utils.moving_average_update``, smoothing 0.95): ranges are clipped and depend on the
  sample order. Offered as ``--calibration moving-average``.
* Absolute min/max — what TFLiteConverter does — is reachable through its lower-level
  ``Calibrator(qsv_update_func=min_max_update)``. Offered as ``--calibration min-max``.
* Its MSE and OCTAV algorithms only clip *weights* (activations still use min/max), and GPTQ on
  dense layers broke a model in our tests; neither is offered as a calibration method.
* Its static int8 forces int8 model inputs/outputs; float I/O (what edgeq's other variants use,
  so the same preprocessing feeds every variant) is a ``no_quantize`` rule on INPUT and OUTPUT.

``--calibration auto`` quantizes with every method and keeps the one whose outputs agree best
with the float model on the user's calibration images.
"""

from __future__ import annotations

import enum
import warnings
from typing import Any

import numpy as np

from edgeq.errors import ConversionError, UsageError

ENGINE = "litert-quantizer"


class Calibration(enum.StrEnum):
    MIN_MAX = "min-max"
    MOVING_AVERAGE = "moving-average"
    AUTO = "auto"


def parse_calibration(value: str | None) -> Calibration:
    if value is None:
        return Calibration.MIN_MAX
    try:
        return Calibration(value)
    except ValueError:
        raise UsageError(f"--calibration {value} is not supported by {ENGINE}",
                         hint=f"choose one of: {', '.join(c.value for c in Calibration)}") from None


def available() -> bool:
    """True when litert-quantizer is installed (an optional dependency: ``edgeq[quantizer]``)."""
    import importlib.util

    return importlib.util.find_spec("litert_quantizer") is not None


def _recipe(float_io: bool) -> Any:
    from litert_quantizer import qtyping, recipe, recipe_manager

    rm = recipe_manager.RecipeManager()
    rm.load_quantization_recipe(recipe.static_wi8_ai8())
    if float_io:
        for op in (qtyping.TFLOperationName.INPUT, qtyping.TFLOperationName.OUTPUT):
            rm.add_quantization_config(".*", op, None, "no_quantize")
    return rm.get_quantization_recipe()


def _dataset(float_model: bytes, samples: np.ndarray) -> dict[str, list[dict[str, np.ndarray]]]:
    from edgeq.tflite import load_interpreter

    sigs = load_interpreter(float_model, delegates=False).get_signature_list()
    if not sigs:
        raise ConversionError(f"{ENGINE}: the float32 model has no signature", hint="use --engine tflite-converter")
    key = next(iter(sigs))
    name = sigs[key]["inputs"][0]
    return {key: [{name: np.ascontiguousarray(x[None], dtype=np.float32)} for x in samples]}


def quantize(float_model: bytes, samples: np.ndarray, method: Calibration | str, *, float_io: bool = True) -> bytes:
    """Static int8 of ``float_model`` calibrated on ``samples`` (N, H, W, C) with ``method``.

    Raises:
        ConversionError: litert-quantizer is missing or failed.
    """
    if not available():
        raise ConversionError(f"{ENGINE} is not installed", hint="pip install 'edgeq[quantizer]' (litert-quantizer)")
    from litert_quantizer import calibrator, quantizer
    from litert_quantizer.utils import qsv_utils

    from edgeq.native import captured_fds

    method = Calibration(str(method))
    data = _dataset(float_model, samples)
    try:
        with captured_fds(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its preserve-all-tensors interpreter warns it is for debugging
            qt = quantizer.Quantizer(float_model, _recipe(float_io))
            if method == Calibration.MIN_MAX:
                cal = calibrator.Calibrator(float_model, qsv_update_func=qsv_utils.min_max_update)
                cal.calibrate(data, qt._recipe_manager)  # noqa: SLF001 - the recipe the quantizer will apply
                qsvs = cal.get_model_qsvs()
            else:
                qsvs = qt.calibrate(data)
            out = qt.quantize(qsvs, enable_progress_report=False).quantized_model
    except (ValueError, RuntimeError, KeyError) as exc:
        raise ConversionError(f"{ENGINE} failed: {str(exc).splitlines()[0][:300]}",
                              hint="use --engine tflite-converter for this model") from None
    return bytes(out)


def auto(float_model: bytes, samples: np.ndarray, *, float_io: bool = True) -> tuple[bytes, str, list[dict[str, Any]]]:
    """Quantizes with every method; keeps the best agreement with float (then SQNR) on ``samples``.

    Returns:
        (model bytes, chosen method, one record per candidate with its numbers)
    """
    from edgeq.evaluation.runner import VariantPool
    from edgeq.metrics import compare_outputs

    built = {m: quantize(float_model, samples, m, float_io=float_io) for m in (Calibration.MIN_MAX, Calibration.MOVING_AVERAGE)}
    methods = list(built)
    with VariantPool([float_model, *built.values()]) as pool:
        outs = pool.run(list(range(len(methods) + 1)), samples)
    ref = outs[0]
    candidates = []
    for i, m in enumerate(methods, 1):
        out = outs[i]
        if isinstance(out, BaseException):
            candidates.append({"calibration": str(m), "error": str(out)[:200]})
            continue
        c = compare_outputs(ref, out, classifier=ref.ndim == 2 and ref.shape[-1] > 1)
        candidates.append({"calibration": str(m), "bytes": len(built[m]), **c})

    def key(c: dict[str, Any]) -> tuple[float, float]:
        s = c.get("sqnr_db", float("-inf"))
        return (c.get("top1_agreement", 0.0), float(s) if not isinstance(s, str) else float(s.replace("inf", "1e9")))

    ok = [c for c in candidates if "error" not in c]
    if not ok:
        raise ConversionError(f"{ENGINE}: no calibration method gave a runnable model", hint="use --engine tflite-converter")
    best = max(ok, key=key)
    return built[Calibration(best["calibration"])], best["calibration"], candidates
