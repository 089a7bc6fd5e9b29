"""litert-quantizer as a second int8 engine: recorded in the manifest, shown side by side by eval."""

from __future__ import annotations

import json
from pathlib import Path

from edgeq.errors import ExitStatus


def test_litert_quantizer_auto_keeps_the_best_method(run_cli, example, eval_results: Path, tmp_path: Path) -> None:
    out = tmp_path / "lq"
    r = run_cli("convert", example.model, "--calib", example.calib, "--num-calib", "100", "--preprocess", "unit",
                "--color", "gray", "--mode", "int8", "--engine", "litert-quantizer", "--calibration", "auto", "--out", out)
    assert r.code == 0, r.stderr
    v = json.loads((out / "manifest.json").read_text())["variants"][0]
    assert v["engine"] == "litert-quantizer" and v["tflite"]["inputs"][0]["dtype"] == "float32", "float I/O"
    assert v["tflite"]["ops_by_dtype"].get("int8", 0) > 0
    cands = {c["calibration"]: c for c in v["calibration_candidates"]}
    assert set(cands) == {"min-max", "moving-average"}
    best = max(cands.values(), key=lambda c: (c["top1_agreement"], c["sqnr_db"]))
    assert v["calibration"] == best["calibration"]
    assert v["checks"]["top1_agreement"] >= 0.9

    conv_int8 = next(eval_results.glob("*.int8.tflite"))
    ref = next(eval_results.glob("*.float32.tflite"))
    r = run_cli("eval", conv_int8, out / v["file"], "--reference", ref, "--data", example.val, "--json", "--no-save")
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    modes = {x["mode"]: x for x in doc["variants"]}
    assert {"int8@tflite-converter", "int8@litert-quantizer"} <= set(modes)
    assert modes["int8@litert-quantizer"]["calibration"] == v["calibration"]
    assert modes["int8@litert-quantizer"]["metrics"]["agreement_top1"] >= 0.9


def test_engine_and_calibration_bad_combinations(run_cli, example, tmp_path: Path) -> None:
    r = run_cli("convert", example.model, "--calib", example.calib, "--mode", "int8", "--calibration", "moving-average",
                "--out", tmp_path / "a")
    assert r.code == ExitStatus.USAGE and "not offered by the tflite-converter engine" in r.stderr
    assert "hint: it calibrates with min-max" in r.stderr
    r = run_cli("convert", example.model, "--calib", example.calib, "--mode", "int16x8", "--engine", "litert-quantizer",
                "--out", tmp_path / "b")
    assert r.code == ExitStatus.USAGE and "cannot make --mode int16x8" in r.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
