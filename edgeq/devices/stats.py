"""Latency statistics of a benchmark, the way TFLite's benchmark_model summarises a run.

Standard deviation is the population one (benchmark_model's ``std=``); percentiles interpolate
linearly between order statistics (numpy's default). :func:`summarize` sorts with numpy, which
releases the GIL: a fast model measured for a while has a million samples, and sorting them as a
Python list held the GIL long enough to stall the wizard's plots.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

STAT_KEYS = (
    "init_ms", "first_inference_us", "warmup_mean_us", "count", "mean_us", "std_us", "min_us", "max_us",
    "median_us", "p5_us", "p90_us", "p95_us", "p99_us", "throughput_ips",
)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of already sorted values, linear interpolation.

    Raises:
        ValueError: no values, or q outside 0..100.
    """
    if len(sorted_values) == 0:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0..100")
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac)


def summarize(
    regular_us: Sequence[float],
    warmup_us: Sequence[float] = (),
    *,
    init_ms: float | None = None,
) -> dict[str, Any]:
    """Every key of the results document's ``stats`` block; None where there is no data.

    Args:
        regular_us: latencies of the regular (measured) runs, in microseconds.
        warmup_us: latencies of the warmup runs; the first one is the first inference.
        init_ms: time to load the model and apply the delegate.

    Returns:
        A dict with :data:`STAT_KEYS`, floats rounded to 0.001 µs.
    """
    out: dict[str, Any] = dict.fromkeys(STAT_KEYS)
    out["init_ms"] = None if init_ms is None else round(float(init_ms), 3)
    first = warmup_us[0] if warmup_us else (regular_us[0] if regular_us else None)
    out["first_inference_us"] = None if first is None else round(float(first), 3)
    out["warmup_mean_us"] = round(sum(warmup_us) / len(warmup_us), 3) if warmup_us else None
    n = len(regular_us)
    out["count"] = n
    if n == 0:
        return out
    import numpy as np

    values = np.sort(np.asarray(regular_us, dtype=np.float64))
    mean = float(values.mean())
    out.update(
        mean_us=mean,
        std_us=float(np.sqrt(np.mean((values - mean) ** 2))),
        min_us=float(values[0]),
        max_us=float(values[-1]),
        median_us=percentile(values, 50),
        p5_us=percentile(values, 5),
        p90_us=percentile(values, 90),
        p95_us=percentile(values, 95),
        p99_us=percentile(values, 99),
        throughput_ips=(1e6 / mean) if mean > 0 else None,
    )
    for k in ("mean_us", "std_us", "min_us", "max_us", "median_us", "p5_us", "p90_us", "p95_us", "p99_us", "throughput_ips"):
        if out[k] is not None:
            out[k] = round(out[k], 3)
    return out


def from_aggregates(agg: dict[str, Any], *, init_us: float | None, first_us: float | None, warmup_avg_us: float | None) -> dict[str, Any]:
    """The ``stats`` block from benchmark_model's printed aggregates (no per-run samples there).

    Percentiles benchmark_model does not print (p90, p99; p5/median/p95 in older builds) stay None.
    """
    out: dict[str, Any] = dict.fromkeys(STAT_KEYS)
    out["init_ms"] = None if init_us is None else round(init_us / 1000.0, 3)
    out["first_inference_us"] = first_us
    out["warmup_mean_us"] = warmup_avg_us
    out["count"] = int(agg.get("count") or 0)
    mapping = {"avg": "mean_us", "std": "std_us", "min": "min_us", "max": "max_us", "median": "median_us", "p5": "p5_us", "p95": "p95_us"}
    for src, dst in mapping.items():
        if agg.get(src) is not None:
            out[dst] = float(agg[src])
    if out["mean_us"]:
        out["throughput_ips"] = round(1e6 / out["mean_us"], 3)
    return out
