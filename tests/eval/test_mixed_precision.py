"""`edgeq convert --max-drop`: mixed precision recovers what a bad calibration lost."""

from __future__ import annotations

import json
from pathlib import Path

from edgeq.errors import ExitStatus


def test_max_drop_recovers_a_bad_calibration(run_cli, example, tmp_path: Path) -> None:
    out = tmp_path / "mixed"
    r = run_cli("convert", example.model, "--calib", example.calib, "--num-calib", "100", "--preprocess", "raw",
                "--color", "gray", "--mode", "float32", "--mode", "int8", "--max-drop", "2", "--data", example.val,
                "--data-preprocess", "unit", "--out", out)
    assert r.code == 0, r.stderr
    mp = json.loads((out / "manifest.json").read_text())["mixed_precision"]
    assert mp["int8_drop_pp"] > 20, "the badly calibrated full-int8 model loses accuracy"
    assert mp["met"] is True and mp["drop_pp"] <= 2
    assert mp["float_ops"] and all(op["op_name"] for op in mp["float_ops"])
    assert mp["steps"][0]["float_nodes"] == 0 and mp["steps"][-1]["float_nodes"] == len(mp["float_ops"])
    assert (out / mp["file"]).stat().st_size == mp["bytes"]
    assert "mixed precision: kept" in r.stderr
    assert mp["preprocess_check"]["best"] is None, "evaluated with the model's own preprocessing (unit)"

    from edgeq import api
    from edgeq.events import drain

    doc = drain(api.evaluate(api.EvalRequest(targets=[str(out)], data=str(example.val), preset="unit",
                                             drift=False))).to_dict()
    v = {x["mode"]: x for x in doc["variants"]}
    assert v["int8-mixed"]["drop_pp"] <= 2 < v["int8"]["drop_pp"]
    assert v["int8-mixed"]["engine"] == "tflite-converter"
    # The report knows the mixed model as a variant: its accuracy is the eval's, its float ops the manifest's.
    rep = api.report(api.ReportRequest([str(out)]))
    mixed = next(r for r in rep["matrix"] if r["mode"] == "int8-mixed")
    assert mixed["status"] == "ok" and mixed["top1"] == v["int8-mixed"]["metrics"]["top1"]
    var = next(x for x in rep["variants"] if x["mode"] == "int8-mixed")
    assert var["float_ops"] and var["bytes"] == mp["bytes"] and "kept float by --max-drop 2" in var["summary"]


def test_max_drop_warns_when_the_float_model_itself_gets_the_wrong_inputs(run_cli, example, tmp_path: Path) -> None:
    """Calibrated and evaluated with --preprocess raw (the model expects unit): the drop against float looks
    small because float is wrong too; convert says so before searching."""
    out = tmp_path / "raw"
    r = run_cli("convert", example.model, "--calib", example.calib, "--preprocess", "raw", "--mode", "float32",
                "--mode", "int8", "--max-drop", "1", "--data", example.val, "--out", out)
    assert r.code == 0, r.stderr
    assert "the float model itself scores" in r.stderr and "re-convert with --preprocess unit" in r.stderr
    check = json.loads((out / "manifest.json").read_text())["mixed_precision"]["preprocess_check"]
    assert check["used"]["preset"] == "raw" and check["best"]["preset"] == "unit"


def test_max_drop_already_met_keeps_full_int8(example_results: Path, example, tmp_path: Path) -> None:
    from edgeq import api
    from edgeq.events import drain

    out = tmp_path / "ok"
    req = api.ConvertRequest(model=str(example.model), calib=str(example.calib), out=str(out), preset="unit",
                             color="gray", modes=["int8"], num_calib=100, max_drop=5.0, data=str(example.val))
    mp = drain(api.convert(req)).manifest["mixed_precision"]
    assert mp["met"] and mp["float_ops"] == [] and mp["file"].endswith(".int8.tflite")
    assert len(mp["steps"]) == 1 and "no op needs to stay float" in mp["summary"]


def test_max_drop_without_data_is_a_usage_error(run_cli, example, tmp_path: Path) -> None:
    out = tmp_path / "o"
    r = run_cli("convert", example.model, "--calib", example.calib, "--mode", "int8", "--max-drop", "1", "--out", out)
    assert r.code == ExitStatus.USAGE
    assert "edgeq: error: --max-drop needs labelled images" in r.stderr and "hint: add --data FOLDER" in r.stderr
    assert not out.exists(), "nothing written"


def test_max_drop_with_an_empty_class_folder_fails_before_converting(run_cli, example, val_subset: Path,
                                                                      tmp_path: Path) -> None:
    import shutil

    data = tmp_path / "val"
    shutil.copytree(val_subset, data)
    victim = sorted(data.iterdir())[-1]
    shutil.rmtree(victim)
    victim.mkdir()
    out = tmp_path / "o"
    r = run_cli("convert", example.model, "--calib", example.calib, "--mode", "int8", "--max-drop", "1",
                "--data", data, "--out", out)
    assert r.code == ExitStatus.INPUT and "has no images" in r.stderr
    assert not out.exists(), "nothing written"


def test_max_drop_fixes_clipping_from_dark_calibration_with_few_float_ops(example, dark_calib: Path,
                                                                          tmp_path: Path) -> None:
    from edgeq import api
    from edgeq.events import drain

    out = tmp_path / "dark"
    req = api.ConvertRequest(model=str(example.model), calib=str(dark_calib), out=str(out), preset="unit", color="gray",
                             modes=["float32", "int8"], num_calib=100, max_drop=1.0, data=str(example.val))
    manifest = drain(api.convert(req)).manifest
    mp = manifest["mixed_precision"]
    f32 = next(v for v in manifest["variants"] if v["mode"] == "float32")
    assert mp["int8_drop_pp"] > 3, "int8 calibrated on dark images loses accuracy on the real ones"
    assert mp["met"] and mp["drop_pp"] <= 1.0
    assert 0 < len(mp["float_ops"]) <= 5, "a few ops in float are enough"
    assert mp["bytes"] < 0.5 * f32["bytes"], "still an int8-sized model"

    doc = drain(api.evaluate(api.EvalRequest(targets=[str(out)], data=str(example.val), write=False))).to_dict()
    warnings = " ".join(doc["drift"]["warnings"])
    assert "beyond the calibration range" in warnings and "clips" in warnings
    quant_in = next(c for c in doc["drift"]["clipping"] if c["eval_range"] and c["calib_range"][1] < 0.5)
    assert quant_in["saturated_fraction"] > 0.05 and quant_in["eval_range"][1] > 0.9
    assert doc["recommendation"]["variant"] == "int8-mixed"
