"""The report's "Why these numbers": notes derived from recorded facts, each naming the fact behind it."""

from __future__ import annotations

import json

from edgeq.reports import render
from edgeq.reports.build import ReportRequest, build_report


def _notes(doc, topic=None):
    return [n["text"] for n in doc["explanations"] if topic is None or n["topic"] == topic]


def test_a_bad_calibration_is_explained_by_ranges_and_drift(results_b):
    doc = build_report(ReportRequest([str(results_b)]))
    (acc,) = _notes(doc, "accuracy")
    assert "int8 loses 1.5 pp more top-1 than dynamic" in acc
    assert "int8 fixed them at calibration" in acc and "The drift check: " in acc


def test_a_good_calibration_is_explained_too(results_a):
    doc = build_report(ReportRequest([str(results_a)]))
    (acc,) = _notes(doc, "accuracy")
    assert acc.startswith("int8 matches dynamic's top-1 on 200 images")
    (size,) = _notes(doc, "size")
    assert "both store int8 weights" in size
    (f16,) = [t for t in _notes(doc, "latency") if t.startswith("float16")]
    assert "on host" in f16 and "on pi5" in f16, "one note for every device, not one per device"


def test_undelegated_and_float_ops_are_named(copy_results, results_a):
    folder = copy_results(results_a, "why")
    prof = folder / "runs" / "profile-20261124T081000Z.json"
    doc = json.loads(prof.read_text())
    run = next(r for r in doc["runs"] if r["variant"] == "int16x8" and r["status"] == "ok")
    run["settings"]["delegate"] = "xnnpack"
    run["delegate_coverage"] = {"delegated_nodes": 0, "total_nodes": 12, "note": ""}
    prof.write_text(json.dumps(doc))
    man = json.loads((folder / "manifest.json").read_text())
    int8 = next(v for v in man["variants"] if v["mode"] == "int8")
    int8["tflite"]["float_ops"] = ["SOFTMAX"]
    (folder / "manifest.json").write_text(json.dumps(man))
    rep = build_report(ReportRequest([str(folder)]))
    lat = [t for t in _notes(rep, "latency") if t.startswith("int16x8")]
    assert lat and "took 0 of 12 ops" in lat[0] and "XNNPACK has no int16 kernels" in lat[0]
    (deploy,) = _notes(rep, "deploy")
    assert "1 float op type(s) (SOFTMAX)" in deploy and "--strict-int" in deploy
    html = render(rep, "html")
    assert "Why these numbers" in html and "took 0 of 12 ops" in html
    assert "### Why these numbers" in render(rep, "md")


def test_wrong_inputs_to_the_float_model_come_first(copy_results, results_a):
    folder = copy_results(results_a, "wrong-inputs")
    ev = folder / "runs" / "eval-20261124T080000Z.json"
    doc = json.loads(ev.read_text())
    doc["preprocess_check"] = {"sample": 64, "used": {"preset": "raw", "color": "rgb", "top1": 0.41, "n": 64},
                               "best": {"preset": "unit", "color": "rgb", "top1": 0.9, "n": 64}, "alternatives": []}
    ev.write_text(json.dumps(doc))
    rep = build_report(ReportRequest([str(folder)]))
    first = rep["explanations"][0]["text"]
    assert first.startswith("The float model itself is fed the wrong inputs: it scores 41% top-1 with --preprocess raw")
    assert "re-convert with --preprocess unit" in first
    assert not [t for t in _notes(rep, "accuracy") if "int8 matches dynamic" in t], "beside the point until inputs are right"
    assert any(w["code"] == "preprocess-mismatch" for w in rep["warnings"])
