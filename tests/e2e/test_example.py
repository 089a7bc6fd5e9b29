"""The README's first command: `edgeq convert --example` on the bundled, trained model."""

from __future__ import annotations

import json
from pathlib import Path


def test_convert_example_gives_meaningful_agreement(run_cli, tmp_path: Path, example) -> None:
    out = tmp_path / "ex"
    r = run_cli("convert", "--example", "--out", out)
    assert r.code == 0, r.stderr
    m = json.loads((out / "manifest.json").read_text())
    assert m["status"] == "ok"
    assert m["labels"] == example.labels and len(m["labels"]) == 10
    assert m["preprocess"]["preset"] == "unit" and m["preprocess"]["color"] == "gray"
    assert m["calibration"]["used"] == min(200, m["calibration"]["candidates"]) >= 50
    v = {x["mode"]: x for x in m["variants"]}
    assert set(v) == {"float32", "float16", "dynamic", "int8", "int16x8"}
    assert v["int8"]["checks"]["top1_agreement"] >= 0.95
    assert v["int8"]["size_vs_float32"] < 0.4, "int8 weights are a quarter of float32"
    assert v["float16"]["size_vs_float32"] < 0.6
    assert v["int16x8"]["checks"]["sqnr_db"] > v["int8"]["checks"]["sqnr_db"]
    assert "int8" in r.stdout and "top-1 agree" in r.stdout
    again = run_cli("convert", "--example", "--out", out)
    assert again.code == 6 and "--overwrite" in again.stderr


def test_example_model_is_small_and_trained(example) -> None:
    assert example.model.stat().st_size <= 2 * 1024 * 1024
    assert example.info["trained"]["test_accuracy"] >= 0.85
    assert len(list(example.calib.glob("*.png"))) >= 50
    assert len([d for d in example.val.iterdir() if d.is_dir()]) == 10
