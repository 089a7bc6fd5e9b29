"""Merging results folders: recommendation, comparison, migrations and every kind of bad input."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from edgeq.errors import ResultsFolderError, UsageError
from edgeq.reports import render
from edgeq.reports.build import ReportRequest, build_report
from edgeq.reports.schema import REPORT_SCHEMA, upgrade


def _codes(doc):
    return [w["code"] for w in doc["warnings"]]


def _row(doc, rid):
    return next(r for r in doc["matrix"] if r["id"] == rid)


def test_single_folder_merges_every_part(results_a):
    doc = build_report(ReportRequest([str(results_a)]))
    assert doc["__meta__"]["kind"] == "report" and doc["__meta__"]["schema_version"] == REPORT_SCHEMA
    src = doc["sources"][0]
    assert [p["kind"] for p in src["parts"]] == ["convert", "eval", "analyze", "profile", "profile"]
    assert src["parts"][0]["command"].startswith("edgeq convert parts_classifier.keras")
    assert src["missing"] == []
    assert src["versions"]["tensorflow"].startswith("2.")
    assert [v["mode"] for v in doc["variants"]] == ["float32", "float16", "dynamic", "int8", "int16x8"]
    int8 = next(v for v in doc["variants"] if v["mode"] == "int8")
    assert int8["ops_by_dtype"]["int8"] > 0 and len(int8["sha256"]) == 64
    assert [d["name"] for d in doc["devices"]] == ["host", "pi5"]
    assert doc["devices"][1]["facts"]["machine"] == "aarch64"
    # Raw samples are kept so charts can be redrawn from the document alone.
    e = next(x for x in doc["latency"] if x["id"] == "A/int8@pi5")
    assert len(e["samples_us"]) == e["stats"]["count"] == 60 and len(e["warmup_samples_us"]) == 5
    assert doc["layers"][0]["top"][0]["op_name"] == "FULLY_CONNECTED"
    assert len(doc["matrix"]) == 10  # 5 variants × 2 devices


def test_recommendation_is_fastest_within_target_per_device(results_a):
    doc = build_report(ReportRequest([str(results_a)]))
    rec = {r["device"]: r for r in doc["recommendations"]}
    assert rec["pi5"]["fastest"]["mode"] == "int8" and rec["host"]["fastest"]["mode"] == "int8"
    assert rec["pi5"]["smallest"]["mode"] == "dynamic"  # 4936 bytes < int8's 5152
    assert rec["pi5"]["basis"] == "eval"
    int8 = _row(doc, "A/int8@pi5")
    assert int8["recommended"] and int8["speedup_vs_float32"] == pytest.approx(142.45 / 45.8, rel=1e-3)
    assert doc["highlights"][1] == "On pi5, int8 is 3.1× faster than float32, 1.6× smaller, and loses 0.5 pp top-1."
    # A tighter target excludes int8 (drop 0.5 pp) and dynamic: the fastest left is float32 on pi5.
    strict = build_report(ReportRequest([str(results_a)], max_drop_pp=0.2))
    rec = {r["device"]: r for r in strict["recommendations"]}
    assert rec["pi5"]["fastest"]["mode"] == "float32"
    assert _row(strict, "A/int8@pi5")["meets_target"] is False
    # The failed int16x8 run on pi5 is never recommended, whatever its accuracy.
    assert _row(doc, "A/int16x8@pi5")["status"] == "failed" and not _row(doc, "A/int16x8@pi5")["recommended"]


def test_comparison_flags_threads_and_shows_deltas(results_a, results_b):
    doc = build_report(ReportRequest([str(results_a), str(results_b)]))
    cmp = doc["comparison"]
    assert cmp["base"] == "A"
    settings = {s["setting"]: s for s in cmp["settings"]}
    assert settings["threads"]["differs"] and settings["threads"]["values"] == {"A": "4", "B": "1"}
    assert settings["calibration"]["differs"] and not settings["model"]["differs"]
    assert "mismatch-threads" in _codes(doc)
    assert "mixed-models" not in _codes(doc)
    d = next(x for x in cmp["deltas"] if x["mode"] == "int8")
    assert d["device"] == "pi5" and d["settings_differ"] == ["threads"]
    assert d["top1_pp"] == pytest.approx(-1.5) and d["median_ratio"] > 1.3
    # B's int8 (other calibration) misses the 1 pp target, so B recommends dynamic on pi5.
    rec_b = next(r for r in doc["recommendations"] if r["source"] == "B")
    assert rec_b["fastest"]["mode"] == "dynamic"


def test_mixed_models_are_flagged(results_a, results_b, copy_results):
    other = copy_results(results_b, "other-model")
    man = json.loads((other / "manifest.json").read_text())
    man["model"]["sha256"] = "0" * 64
    man["model"]["name"] = "mobilenet"
    (other / "manifest.json").write_text(json.dumps(man))
    doc = build_report(ReportRequest([str(results_a), str(other)]))
    w = next(w for w in doc["warnings"] if w["code"] == "mixed-models")
    assert "compare folders converted from the same model file" in w["message"]
    assert doc["title"] == "edgeq report: tiny vs mobilenet"
    assert "mixed-models" in render(doc, "md")


def test_mismatched_preprocessing_is_flagged(results_a, results_b, copy_results):
    other = copy_results(results_b, "bgr")
    man = json.loads((other / "manifest.json").read_text())
    man["preprocess"]["color"] = "bgr"
    (other / "manifest.json").write_text(json.dumps(man))
    doc = build_report(ReportRequest([str(results_a), str(other)]))
    assert "mismatch-preprocessing" in _codes(doc)


def test_manifest_only_folder_reports_what_exists(copy_results, results_a):
    folder = copy_results(results_a, "convert-only")
    shutil.rmtree(folder / "runs")
    doc = build_report(ReportRequest([str(folder)]))
    assert doc["sources"][0]["missing"] == ["eval", "analyze", "profile"]
    assert {"missing-eval", "missing-analyze", "missing-profile"} <= set(_codes(doc))
    assert len(doc["matrix"]) == 5 and all(r["device"] is None for r in doc["matrix"])
    # Without eval, the drop is bounded by the convert-time disagreement (all 1.0 here: drop ≤ 0).
    assert {r["accuracy_basis"] for r in doc["matrix"]} == {"convert-check"}
    rec = doc["recommendations"]
    assert len(rec) == 1 and rec[0]["device"] is None and rec[0]["smallest"]["mode"] == "dynamic"
    assert "run 'edgeq profile'" in rec[0]["reason"]
    md = render(doc, "md")
    assert "No profile run: run `edgeq profile`" in md and "No eval run" in md
    render(doc, "html")  # renders without the missing parts


def test_runs_without_manifest_still_report(copy_results, results_a):
    folder = copy_results(results_a, "runs-only")
    (folder / "manifest.json").unlink()
    doc = build_report(ReportRequest([str(folder)]))
    assert "missing-manifest" in _codes(doc)
    assert {v["status"] for v in doc["variants"]} == {"unknown"}
    assert any(r["median_ms"] for r in doc["matrix"])
    assert "<svg" in render(doc, "html")


def test_damaged_and_foreign_run_documents_are_skipped_with_a_warning(copy_results, results_a):
    folder = copy_results(results_a, "damaged")
    (folder / "runs" / "eval-20990101T000000Z.json").write_text("{not json")
    (folder / "runs" / "profile-20990101T000000Z.json").write_text(json.dumps(
        {"__meta__": {"kind": "profile", "schema_version": 9, "edgeq_version": "9.0"}, "runs": []}))
    (folder / "runs" / "notes.json").write_text(json.dumps({"hello": 1}))
    (folder / "runs" / "analyze-20990101T000000Z.json").write_text(json.dumps(
        {"__meta__": {"kind": "analyze", "schema_version": 1}, "layers": "oops"}))
    doc = build_report(ReportRequest([str(folder)]))
    msgs = [w["message"] for w in doc["warnings"] if w["code"] == "unreadable-run"]
    assert len(msgs) == 4
    assert any("invalid JSON at line 1" in m for m in msgs)
    assert any("schema version 9" in m and "upgrade edgeq" in m for m in msgs)
    assert any("not an edgeq document" in m for m in msgs)
    assert any("'layers' is missing or not a list" in m for m in msgs)
    assert len(doc["accuracy"]) == 1  # the good eval run still counts


def test_not_a_results_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    for bad in (tmp_path / "empty", tmp_path / "nope"):
        with pytest.raises(ResultsFolderError) as exc:
            build_report(ReportRequest([str(bad)]))
        assert "--out folder of 'edgeq convert'" in exc.value.hint
    with pytest.raises(UsageError):
        build_report(ReportRequest([]))


def test_newer_manifest_schema_is_refused_with_the_fix(copy_results, results_a):
    folder = copy_results(results_a, "future")
    man = json.loads((folder / "manifest.json").read_text())
    man["__meta__"].update(schema_version=2, edgeq_version="3.0.0")
    (folder / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(ResultsFolderError) as exc:
        build_report(ReportRequest([str(folder)]))
    assert "schema version 2 (written by edgeq 3.0.0)" in exc.value.message
    assert "reads up to version 1" in exc.value.message
    assert exc.value.hint.startswith("upgrade edgeq")


def test_damaged_manifest_names_the_fix(copy_results, results_a):
    folder = copy_results(results_a, "broken")
    (folder / "manifest.json").write_text('{"__meta__": ')
    with pytest.raises(ResultsFolderError) as exc:
        build_report(ReportRequest([str(folder)]))
    assert "invalid JSON" in exc.value.message and "--overwrite" in exc.value.hint


V0_MANIFEST = {  # the pre-versioned prototype layout (no __meta__), see edgeq/reports/schema.py
    "edgeq_version": "0.0.3", "created": "2026-01-05T10:00:00+00:00", "command": "edgeq convert m.keras",
    "model": {"name": "legacy", "path": "m.keras", "sha256": "ab" * 32, "input_shape": [None, 32, 32, 3]},
    "preprocess": {"preset": "unit", "color": "rgb", "resize": "stretch", "size": [32, 32]},
    "labels": ["a", "b"],
    "variants": [
        {"mode": "float32", "path": "/old/out/m.float32.tflite", "size_bytes": 8000, "sha256": "1" * 64, "ok": True,
         "error": None, "checks": {"top1_agreement": 1.0, "sqnr_db": 140.0}},
        {"mode": "int8", "path": "/old/out/m.int8.tflite", "size_bytes": 2500, "sha256": "2" * 64, "ok": True,
         "error": None, "checks": {"top1_agreement": 0.99, "sqnr_db": 30.0}},
        {"mode": "int16x8", "path": None, "size_bytes": None, "ok": False, "error": "op not supported"},
    ],
}


def test_pre_versioned_manifest_is_migrated(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps(V0_MANIFEST))
    doc = build_report(ReportRequest([str(folder)]))
    assert doc["sources"][0]["parts"][0]["migrated_from"] == 0
    assert "migrated" in _codes(doc)
    v = {x["mode"]: x for x in doc["variants"]}
    assert v["int8"]["file"] == "m.int8.tflite" and v["int8"]["bytes"] == 2500
    assert v["int8"]["size_vs_float32"] == pytest.approx(0.3125)
    assert v["int16x8"]["status"] == "failed" and v["int16x8"]["error"]["message"] == "op not supported"
    assert doc["sources"][0]["status"] == "partial"
    assert _row(doc, "A/int8")["drop_pp"] == pytest.approx(1.0)  # bounded by 99% agreement
    assert "migrated from schema 0" in render(doc, "html")


def test_upgrade_leaves_the_input_untouched_and_rejects_wrong_kinds():
    original = json.loads(json.dumps(V0_MANIFEST))
    new, was = upgrade(original, expect="manifest", name="m.json")
    assert was == 0 and original == V0_MANIFEST and new["__meta__"]["migrated_from"] == 0
    with pytest.raises(ResultsFolderError, match="is a 'manifest' document, expected 'report'"):
        upgrade(new, expect="report", name="m.json")
    with pytest.raises(ResultsFolderError, match="unknown kind"):
        upgrade({"__meta__": {"kind": "recipe-x", "schema_version": 1}}, expect=None, name="x.json")


def test_same_variant_profiled_twice_keeps_the_latest(copy_results, results_a):
    folder = copy_results(results_a, "twice")
    src = folder / "runs" / "profile-20261124T082000Z.json"
    doc = json.loads(src.read_text())
    doc["__meta__"]["created"] = "2026-11-25T00:00:00+00:00"
    for r in doc["runs"]:
        if r["stats"]:
            r["stats"]["median_us"] = 1000.0
    (folder / "runs" / "profile-20261125T000000Z.json").write_text(json.dumps(doc))
    rep = build_report(ReportRequest([str(folder)]))
    assert _row(rep, "A/int8@pi5")["median_ms"] == 1.0
    assert sum(1 for e in rep["latency"] if e["id"] == "A/int8@pi5") == 1
    assert "superseded" in _codes(rep)


def test_a_newer_unlabelled_eval_does_not_hide_the_labelled_one(copy_results, results_a):
    folder = copy_results(results_a, "quick-check")
    before = build_report(ReportRequest([str(folder)]))
    doc = json.loads((folder / "runs" / "eval-20261124T080000Z.json").read_text())
    doc["__meta__"]["created"] = "2026-11-25T00:00:00+00:00"
    doc["data"]["kind"], doc["data"]["classes"] = "unlabelled", None
    for v in doc["variants"]:
        if v["metrics"]:
            v["metrics"].update(top1=None, top5=None, per_class=None, confusion=None)
        v["drop_pp"] = None
    (folder / "runs" / "eval-20261125T000000Z.json").write_text(json.dumps(doc))
    rep = build_report(ReportRequest([str(folder)]))
    headline = [a for a in rep["accuracy"] if a["latest"]]
    assert [a["file"] for a in headline] == ["runs/eval-20261124T080000Z.json"]
    assert _row(rep, "A/int8@pi5")["top1"] == _row(before, "A/int8@pi5")["top1"] is not None
    warning = next(w for w in rep["warnings"] if w["code"] == "several-evals")
    assert "latest labelled one" in warning["message"] and "has no labels" in warning["message"]


def test_a_later_cancelled_profile_does_not_hide_measured_runs(copy_results, results_a):
    """Models a cancelled profile never started are recorded as failed with no samples and no device facts:
    they must not replace earlier measurements, blank the device's facts, or claim the device changed."""
    folder = copy_results(results_a, "cancelled")
    before = build_report(ReportRequest([str(folder)]))
    doc = json.loads((folder / "runs" / "profile-20261124T082000Z.json").read_text())
    doc["__meta__"]["created"] = "2026-11-25T00:00:00+00:00"
    doc["partial"], doc["partial_reason"] = True, "interrupted (Ctrl-C)"
    for r in doc["runs"]:
        r.update(status="failed", stats=None, samples_us=[], warmup_samples_us=[],
                 error={"message": "interrupted (Ctrl-C)", "hint": ""})
        r["device"]["facts"] = {}
    (folder / "runs" / "profile-20261125T000000Z.json").write_text(json.dumps(doc))
    rep = build_report(ReportRequest([str(folder)]))
    assert _row(rep, "A/int8@pi5")["median_ms"] == _row(before, "A/int8@pi5")["median_ms"] is not None
    assert [d["facts"] for d in rep["devices"]] == [d["facts"] for d in before["devices"]]
    assert "device-changed" not in _codes(rep)
    assert [r["device"] for r in rep["recommendations"]] == [r["device"] for r in before["recommendations"]]
    superseded = [w for w in rep["warnings"] if w["code"] == "superseded"]
    assert len(superseded) == 1 and "measured nothing" in superseded[0]["message"], "one warning, not one per run"


def test_csv_has_one_row_per_variant_and_device(results_a, results_b):
    doc = build_report(ReportRequest([str(results_a), str(results_b)]))
    rows = list(csv.DictReader(io.StringIO(render(doc, "csv"))))
    assert len(rows) == 15
    assert {(r["source"], r["variant"], r["device"]) for r in rows} >= {("A", "int8", "pi5"), ("B", "int16x8", "")}
    pi5 = next(r for r in rows if r["source"] == "A" and r["variant"] == "int8" and r["device"] == "pi5")
    assert float(pi5["median_ms"]) == pytest.approx(0.0458) and pi5["recommended"] == "true"


def test_csv_and_markdown_neutralise_user_strings(copy_results, results_a):
    folder = copy_results(results_a, "inject")
    man = json.loads((folder / "manifest.json").read_text())
    man["model"]["name"] = "=HYPERLINK(\"http://x\")|<b>x</b>"
    (folder / "manifest.json").write_text(json.dumps(man))
    doc = build_report(ReportRequest([str(folder)]))
    rows = list(csv.DictReader(io.StringIO(render(doc, "csv"))))
    assert rows[0]["model"].startswith("'=")  # not a formula in a spreadsheet
    md = render(doc, "md")
    assert "<b>" not in md and "&lt;b&gt;x&lt;/b&gt;" in md and "\\|&lt;b&gt;" in md


def test_json_rendering_is_the_document(results_a):
    doc = build_report(ReportRequest([str(results_a)], title="Pi 5 bring-up"))
    again = json.loads(render(doc, "json"))
    assert again == json.loads(json.dumps(doc)) and again["title"] == "Pi 5 bring-up"


def test_folder_given_as_manifest_path(results_a):
    doc = build_report(ReportRequest([str(Path(results_a) / "manifest.json")]))
    assert doc["sources"][0]["missing"] == []


def test_two_boards_are_matched_across_devices(copy_results, results_a, results_b):
    host_only = copy_results(results_a, "host-only")
    (host_only / "runs" / "profile-20261124T082000Z.json").unlink()
    doc = build_report(ReportRequest([str(host_only), str(results_b)]))
    d = next(x for x in doc["comparison"]["deltas"] if x["mode"] == "int8")
    assert d["device"] == "host → pi5" and d["base"] == "A/int8@host" and d["other"] == "B/int8@pi5"
    assert d["median_ratio"] == pytest.approx(73.2 / 14.55, rel=0.01)
    assert {s["setting"] for s in doc["comparison"]["settings"] if s["differs"]} >= {"devices", "threads", "runtime"}
