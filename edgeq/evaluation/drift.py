"""Drift check: does the evaluation data still fit the ranges the int8 model was calibrated on?

Static int8 fixes every activation's range at calibration time. Two things break it: input data
that differs from the calibration images (other camera, other normalization — the classic
"normalized twice" bug), and activations the calibration set never drove as far. The first is
seen by comparing per-channel input statistics; the second by running the int8 model with every
tensor preserved and counting values pinned at the quantized min/max of each tensor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SATURATION_WARN = 0.01  # fraction of a tensor's values at its clip limits worth a warning
_FIXED_RANGE_OPS = {"SOFTMAX", "LOGISTIC", "TANH", "DEQUANTIZE"}


def check_drift(manifest: dict[str, Any], eval_stats: dict[str, Any], spec: Any, sample: np.ndarray,
                int8_model: bytes | None, float_model: bytes | None) -> dict[str, Any]:
    """The ``drift`` block of the eval document.

    Args:
        manifest: the results folder's manifest (calibration stats and preprocessing).
        eval_stats: per-channel min/max/mean/std of the evaluation tensors.
        spec: the evaluation PreprocessSpec.
        sample: evaluation tensors (N, H, W, C) used for the clipping check.
        int8_model/float_model: the int8 variant and float reference (bytes), when present.
    """
    warnings: list[str] = []
    calib = (manifest.get("calibration") or {}).get("stats")
    inp = compare_inputs(calib, eval_stats, warnings)
    cal_pre = (manifest.get("preprocess") or {}).get("preset")
    if cal_pre and str(spec.preset) != cal_pre:
        warnings.append(
            f"calibration used --preprocess {cal_pre} but this evaluation uses {spec.preset}: the int8 ranges were "
            "fitted to differently normalized inputs (re-convert with the preprocessing the model was trained with)"
        )
    clipping: list[dict[str, Any]] = []
    if int8_model is not None and len(sample):
        clipping = activation_clipping(int8_model, float_model, sample)
        hot = [c for c in clipping if c["saturated_fraction"] >= SATURATION_WARN]
        for c in hot[:3]:
            warnings.append(
                f"int8 tensor '{_short(c['tensor'])}' clips {c['saturated_fraction']:.1%} of its values on the evaluation "
                f"data: calibrated range [{c['calib_range'][0]:.4g}, {c['calib_range'][1]:.4g}]"
                + (f", float values reach [{c['eval_range'][0]:.4g}, {c['eval_range'][1]:.4g}]" if c["eval_range"] else "")
                + " — calibrate with images like these"
            )
    return {"warnings": warnings, "input": inp, "clipping": clipping}


def _short(name: str) -> str:
    return name.split(";")[0]


def compare_inputs(calib: dict[str, Any] | None, ev: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    """Per-channel calibration vs evaluation input statistics; appends warnings with numbers."""
    out: dict[str, Any] = {"calibration": calib, "evaluation": ev, "channels": []}
    if not calib or calib.get("channels") != ev.get("channels"):
        return out
    for c in range(ev["channels"]):
        cmin, cmax, emin, emax = calib["min"][c], calib["max"][c], ev["min"][c], ev["max"][c]
        crange, erange = max(cmax - cmin, 1e-12), max(emax - emin, 1e-12)
        shift = (ev["mean"][c] - calib["mean"][c]) / max(calib["std"][c], 1e-12)
        ratio = erange / crange
        beyond = max(0.0, emax - cmax, cmin - emin) / crange
        out["channels"].append({"channel": c, "range_ratio": round(ratio, 4), "mean_shift_std": round(shift, 4),
                                "beyond_calib_fraction": round(beyond, 4)})
        if ratio > 5 or ratio < 0.2:
            warnings.append(
                f"input channel {c}: evaluation values span [{emin:.4g}, {emax:.4g}] but calibration spanned "
                f"[{cmin:.4g}, {cmax:.4g}] ({ratio:.3g}× the range): the two were normalized differently "
                "(double normalization, or a different --preprocess)"
            )
        elif beyond > 0.1:
            warnings.append(
                f"input channel {c}: evaluation values reach [{emin:.4g}, {emax:.4g}], {beyond:.0%} beyond the calibration "
                f"range [{cmin:.4g}, {cmax:.4g}]; the int8 input quantizer will clip them"
            )
        elif abs(shift) > 1.0:
            warnings.append(
                f"input channel {c}: evaluation mean {ev['mean'][c]:.4g} is {shift:+.2f} calibration std from the "
                f"calibration mean {calib['mean'][c]:.4g}; the calibration images may not represent this data"
            )
    return out


def activation_clipping(int8_model: bytes, float_model: bytes | None, sample: np.ndarray) -> list[dict[str, Any]]:
    """Fraction of each integer activation's values the int8 model clips on ``sample``.

    Where the float reference has the same tensor (matched by name), a value counts as clipped
    when the float value lies more than half a quantization step outside the tensor's range;
    otherwise values pinned at the quantized max (or min, when it stands for a negative value —
    after a ReLU it is simply zero) are counted.
    """
    from edgeq.tflite import TfliteRunner, load_interpreter

    q = TfliteRunner(int8_model)
    qi = load_interpreter(int8_model, preserve=True)
    details = {t["index"]: t for t in qi.get_tensor_details()}
    acts = []
    for op in qi._get_ops_details():  # noqa: SLF001 - the public API has no op listing
        if op["op_name"] in _FIXED_RANGE_OPS:
            continue
        for ti in op["outputs"]:
            t = details.get(ti)
            if t is None or np.dtype(t["dtype"]).kind not in "iu":
                continue
            scale, zp = t["quantization"]
            if scale:
                acts.append((t, float(scale), int(zp)))
    if not acts:
        return []
    fi = load_interpreter(float_model, preserve=True) if float_model else None
    fnames = {t["name"]: t["index"] for t in fi.get_tensor_details()} if fi else {}
    qin = qi.get_input_details()[0]
    fin = fi.get_input_details()[0] if fi else None
    # The input QUANTIZE op's float counterpart is the model input itself.
    input_quant = {t["index"] for op in qi._get_ops_details() if op["op_name"] == "QUANTIZE"  # noqa: SLF001
                   and qin["index"] in op["inputs"] for t in (details[o] for o in op["outputs"])}
    sat = {t["index"]: 0 for t, _, _ in acts}
    total = {t["index"]: 0 for t, _, _ in acts}
    frange: dict[int, list[float]] = {}
    for x in sample:
        qi.set_tensor(qin["index"], q.quantize_input(x.reshape(q.input_shape)))
        qi.invoke()
        if fi is not None:
            fi.set_tensor(fin["index"], x.reshape(fin["shape"]).astype(np.float32))
            fi.invoke()
        for t, scale, zp in acts:
            info = np.iinfo(np.dtype(t["dtype"]))
            lo, hi = (info.min - zp) * scale, (info.max - zp) * scale
            fv = None
            if t["index"] in input_quant:
                fv = x
            elif fi is not None and t["name"] in fnames:
                fv = fi.get_tensor(fnames[t["name"]])
            if fv is not None:
                # A float value beyond the representable range by more than half a step is clipped.
                n = int(np.sum(fv > hi + scale / 2) + np.sum(fv < lo - scale / 2))
                size = fv.size
                cur = frange.setdefault(t["index"], [float("inf"), float("-inf")])
                cur[0], cur[1] = min(cur[0], float(fv.min())), max(cur[1], float(fv.max()))
            else:  # no float counterpart: count values pinned at the limits
                v = qi.get_tensor(t["index"])
                n = int(np.sum(v >= info.max)) + (int(np.sum(v <= info.min)) if lo < -1e-9 else 0)
                size = v.size
            sat[t["index"]] += n
            total[t["index"]] += size
    out = []
    for t, scale, zp in acts:
        info = np.iinfo(np.dtype(t["dtype"]))
        fr = frange.get(t["index"])
        out.append({
            "tensor": t["name"],
            "calib_range": [round((info.min - zp) * scale, 6), round((info.max - zp) * scale, 6)],
            "eval_range": [round(v, 6) for v in fr] if fr else None,
            "saturated_fraction": round(sat[t["index"]] / max(1, total[t["index"]]), 6),
        })
    out.sort(key=lambda c: -c["saturated_fraction"])
    return out
