"""Latency statistics: agree with numpy, population std like benchmark_model, explicit None when empty."""

from __future__ import annotations

import numpy as np
import pytest

from edgeq.devices.stats import STAT_KEYS, from_aggregates, percentile, summarize


def test_summarize_matches_numpy() -> None:
    rng = np.random.default_rng(3)
    xs = list(rng.gamma(4.0, 250.0, size=997))
    s = summarize(xs, [900.0, 700.0, 650.0], init_ms=12.34567)
    a = np.asarray(xs)
    assert s["count"] == 997
    assert s["mean_us"] == pytest.approx(a.mean(), abs=1e-3)
    assert s["std_us"] == pytest.approx(a.std(ddof=0), abs=1e-3)  # population std, as benchmark_model's std=
    for key, q in (("median_us", 50), ("p5_us", 5), ("p90_us", 90), ("p95_us", 95), ("p99_us", 99)):
        assert s[key] == pytest.approx(np.percentile(a, q), abs=1e-3), key
    assert s["min_us"] == pytest.approx(a.min(), abs=1e-3) and s["max_us"] == pytest.approx(a.max(), abs=1e-3)
    assert s["first_inference_us"] == 900.0  # the first warmup run is the first inference
    assert s["warmup_mean_us"] == pytest.approx(750.0)
    assert s["init_ms"] == 12.346
    assert s["throughput_ips"] == pytest.approx(1e6 / a.mean(), rel=1e-6)
    assert set(s) == set(STAT_KEYS)


def test_empty_run_is_explicitly_unmeasured() -> None:
    s = summarize([])
    assert s["count"] == 0
    assert all(s[k] is None for k in STAT_KEYS if k != "count")


def test_without_warmup_first_inference_is_first_regular_run() -> None:
    s = summarize([5.0, 1.0, 3.0])
    assert s["first_inference_us"] == 5.0 and s["warmup_mean_us"] is None and s["median_us"] == 3.0


def test_percentile_edges() -> None:
    assert percentile([1.0], 99) == 1.0
    assert percentile([1.0, 2.0], 50) == 1.5
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_from_aggregates_keeps_missing_percentiles_none() -> None:
    s = from_aggregates({"count": 50, "avg": 1.0131e06, "std": 17264, "min": 991822, "max": 1081290},
                        init_us=1403220, first_us=1351218, warmup_avg_us=1.13026e06)
    assert s["count"] == 50 and s["mean_us"] == 1013100.0 and s["init_ms"] == 1403.22
    assert s["median_us"] is None and s["p90_us"] is None and s["p99_us"] is None
    assert s["throughput_ips"] == pytest.approx(1e6 / 1013100.0, rel=1e-3)
