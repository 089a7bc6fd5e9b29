"""End to end with the real engines: convert → eval → analyze → profile (this host) → report → Chromium.

This is the check that the documents the engines write today are the documents the report reads
(the fixed folders in tests/report/data only prove the documented schemas).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from edgeq_testing import build_tiny_classifier, write_images

from edgeq import api
from edgeq.events import drain
from edgeq.reports import render
from edgeq.reports.build import ReportRequest, build_report

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CLASSES = ["cat", "dog", "fox"]


@pytest.fixture(scope="module")
def full_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    missing = [m for m in ("edgeq.evaluation.job", "edgeq.evaluation.layers", "edgeq.profiling")
               if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"engines not in this build yet: {', '.join(missing)}")
    root = tmp_path_factory.mktemp("engines")
    model = build_tiny_classifier(root / "tiny.keras", classes=len(CLASSES))
    write_images(root / "calib", 24)
    for i, c in enumerate(CLASSES):
        write_images(root / "val" / c, 5, seed=20 + i)
    out = root / "out"
    conv = drain(api.convert(api.ConvertRequest(model=str(model), calib=str(root / "calib"), out=str(out),
                                                preset="unit", modes=["float32", "dynamic", "int8"], num_calib=24,
                                                labels=CLASSES, command="edgeq convert tiny.keras")))
    assert conv.ok
    from edgeq.evaluation.job import EvalRequest
    from edgeq.evaluation.layers import AnalyzeRequest
    from edgeq.profiling import ProfileRequest

    drain(api.evaluate(EvalRequest(targets=[str(out)], data=str(root / "val"), command="edgeq eval out --data val")))
    drain(api.analyze(AnalyzeRequest(model=str(out), num_samples=8, command="edgeq analyze out")))
    models = sorted(str(p) for p in out.glob("*.tflite"))
    drain(api.profile(ProfileRequest(models=models, devices=["local"], runs=20, warmup=2, min_secs=0.05,
                                     max_secs=5.0, command="edgeq profile out/*.tflite --device local")))
    return out


def test_real_engine_documents_make_a_complete_report(full_results, chromium, tmp_path):
    doc = build_report(ReportRequest([str(full_results)]))
    src = doc["sources"][0]
    assert src["missing"] == []
    assert {p["kind"] for p in src["parts"]} == {"convert", "eval", "analyze", "profile"}
    assert all(p["command"].startswith("edgeq ") for p in src["parts"])
    assert not [w for w in doc["warnings"] if w["code"] in ("unreadable-run", "stale-profile", "missing-manifest")]
    assert len(doc["matrix"]) == 3 and {r["device"] for r in doc["matrix"]} == {"local"}
    for r in doc["matrix"]:
        assert r["status"] == "ok" and r["median_ms"] > 0 and r["accuracy_basis"] == "eval", r
    assert doc["latency"][0]["samples_us"] and doc["devices"][0]["facts"]["runtime"]
    rec = doc["recommendations"][0]
    assert rec["device"] == "local" and rec["fastest"] is not None and rec["basis"] == "eval"
    assert doc["accuracy"][0]["data"]["classes"] == CLASSES
    assert doc["layers"] and doc["layers"][0]["top"]
    page = tmp_path / "engines.html"
    page.write_text(render(doc, "html"), encoding="utf-8")
    run = chromium.open(page.as_uri())
    assert run.errors == [] and run.requests == []
    ids = chromium.evaluate(run, "Array.from(document.querySelectorAll('figure')).map(f => f.id)")
    assert {"latency-distribution", "latency-runs-0", "pareto-0", "size", "per-class-A", "layers-0"} <= set(ids)
    chromium.screenshot(run, ARTIFACTS / "report-engines.png")
    json.loads(render(doc, "json"))
