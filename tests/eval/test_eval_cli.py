"""`edgeq eval` and `edgeq analyze` in-process: output, documents, and every bad input of the issue."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from edgeq.errors import ExitStatus


@pytest.fixture(scope="module")
def feature_map_tflite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A float32 .tflite whose output is a feature map (not a classifier), input 32×32×3."""
    import keras

    from edgeq import api
    from edgeq.events import drain

    root = tmp_path_factory.mktemp("fmap")
    keras.utils.set_random_seed(0)
    inp = keras.Input((32, 32, 3))
    model = keras.Model(inp, keras.layers.Conv2D(4, 3, name="conv")(inp), name="fmap")
    model.save(root / "fmap.keras")
    res = drain(api.convert(api.ConvertRequest(model=str(root / "fmap.keras"), out=str(root / "out"), modes=["float32"],
                                               preset="unit")))
    return res.out / res.manifest["variants"][0]["file"]


def _runs(folder: Path) -> list[Path]:
    return sorted((folder / "runs").glob("*.json")) if (folder / "runs").is_dir() else []


def test_eval_folder_json(run_cli, eval_results: Path, val_subset: Path) -> None:
    before = _runs(eval_results)
    r = run_cli("eval", eval_results, "--data", val_subset, "--json")
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["__meta__"]["kind"] == "eval" and doc["command"].startswith("edgeq eval ")
    assert {v["mode"] for v in doc["variants"]} == {"float32", "float16", "dynamic", "int8", "int16x8"}
    after = _runs(eval_results)
    assert len(after) == len(before) + 1 and json.loads(after[-1].read_text())["variants"] == doc["variants"]
    assert f"wrote {after[-1]}" in r.stderr, "the saved document is named on stderr, stdout stays pure JSON"


def test_eval_table_and_listed_files_with_reference(run_cli, eval_results: Path, val_subset: Path) -> None:
    int8 = next(eval_results.glob("*.int8.tflite"))
    ref = next(eval_results.glob("*.float32.tflite"))
    r = run_cli("eval", int8, "--reference", ref, "--data", val_subset, "--top-k", "3", "--no-save")
    assert r.code == 0, r.stderr
    assert "int8" in r.stdout and "reference" in r.stdout and "recommended:" in r.stdout
    header = next(line for line in r.stdout.splitlines() if "variant" in line)
    assert "top-3" in header and "top-5" not in header, "the k asked for is the column shown"
    assert re.search(r"\b\d{1,3}\.\d%", r.stdout) and not re.search(r"\d\.\d\d%", r.stdout), "one decimal, like convert"
    assert "» Evaluating 1 variant + reference on 80 images" in r.stderr
    r2 = run_cli("eval", int8, "--reference", ref, "--data", val_subset, "--top-k", "3", "--no-save", "--json")
    m = {v["mode"]: v for v in json.loads(r2.stdout)["variants"]}["int8"]["metrics"]
    assert m["top_k"]["k"] == 3 and 1 >= m["top_k"]["accuracy"] >= m["top1"] and m["top5"] is None


@pytest.mark.parametrize("args", [
    ("eval", "--limit", "-3"), ("eval", "--limit", "0"), ("eval", "--workers", "0"), ("eval", "--max-drop", "-1"),
    ("eval", "--top-k", "0"), ("analyze", "--top", "0"), ("analyze", "--num-samples", "0"),
])
def test_non_positive_numbers_are_usage_errors(run_cli, eval_results: Path, val_subset: Path, args) -> None:
    cmd, *opt = args
    r = run_cli(cmd, eval_results, "--data", val_subset, "--no-save", *opt)
    assert r.code == ExitStatus.USAGE, (r.code, r.stderr)
    assert f"argument {opt[0]}: must be ≥" in r.stderr and r.stdout == ""


def test_top_k_larger_than_the_classes(run_cli, eval_results: Path, val_subset: Path) -> None:
    r = run_cli("eval", eval_results, "--data", val_subset, "--top-k", "50", "--no-save")
    assert r.code == ExitStatus.USAGE
    assert "--top-k 50 is more than the 10 classes" in r.stderr and "hint: pass --top-k between 1 and 10" in r.stderr


def test_fewer_and_unknown_class_folders_warn(run_cli, eval_results: Path, val_subset: Path, tmp_path: Path) -> None:
    data = tmp_path / "four"
    for name, src in zip(("cat", "dog", "bird", "fish"), sorted(val_subset.iterdir())):
        shutil.copytree(src, data / name)
    r = run_cli("eval", eval_results, "--data", data, "--no-save", "--no-drift")
    assert r.code == 0, r.stderr
    assert "edgeq: warning: class folder(s) 'bird', 'cat', 'dog', 'fish'" in r.stderr
    assert "'T-shirt/top'" in r.stderr and "--labels FILE" in r.stderr
    assert "has 4 class folder(s) but the model outputs 10 scores" in r.stderr


def test_no_reference_is_explained(run_cli, eval_results: Path, val_subset: Path, tmp_path: Path) -> None:
    for f in eval_results.glob("*.tflite"):
        if ".float32." not in f.name:
            shutil.copy(f, tmp_path / f.name)
    r = run_cli("eval", tmp_path, "--data", val_subset, "--no-drift", "--limit", "20")
    assert r.code == 0, r.stderr
    assert "» Evaluating 4 variants on 20 images" in r.stderr
    line = r.stdout.strip().splitlines()[-1]
    assert line.startswith("no reference:") and "--reference FILE" in line


def test_more_class_folders_than_outputs(run_cli, eval_results: Path, val_subset: Path, tmp_path: Path) -> None:
    data = tmp_path / "val"
    shutil.copytree(val_subset, data)
    extra = data / "zz_extra_class"
    extra.mkdir()
    shutil.copy(next(val_subset.rglob("*.png")), extra / "x.png")
    r = run_cli("eval", eval_results, "--data", data)
    assert r.code == ExitStatus.INPUT
    assert "classes but the model outputs" in r.stderr and "hint: remove the class folders" in r.stderr


def test_empty_class_folder(run_cli, eval_results: Path, val_subset: Path, tmp_path: Path) -> None:
    data = tmp_path / "val"
    shutil.copytree(val_subset, data)
    first = sorted(p for p in data.iterdir())[0]
    shutil.rmtree(first)
    first.mkdir()
    before = _runs(eval_results)
    r = run_cli("eval", eval_results, "--data", data)
    assert r.code == ExitStatus.INPUT
    assert f"class folder {first} has no images" in r.stderr and "hint:" in r.stderr
    assert _runs(eval_results) == before, "nothing written"


def test_no_readable_image_names_the_files_and_why(run_cli, eval_results: Path, tmp_path: Path) -> None:
    data = tmp_path / "broken"
    data.mkdir()
    (data / "b.png").write_bytes(b"garbage")
    (data / "a.txt").write_text("notes")
    r = run_cli("eval", eval_results, "--data", data)
    assert r.code == ExitStatus.INPUT, r.stderr
    err = next(line for line in r.stderr.splitlines() if line.startswith("edgeq: error:"))
    assert "no readable images" in err and "b.png: not a decodable image" in err
    assert "a.txt" not in err, "the undecodable image is named, not the notes file"
    assert "Traceback" not in r.stderr


def test_csv_naming_missing_files(run_cli, eval_results: Path, val_subset: Path, tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    src = next(val_subset.rglob("*.png"))
    shutil.copy(src, flat / "a.png")
    csv = tmp_path / "labels.csv"
    csv.write_text("file,label\na.png,0\nmissing_1.png,1\nmissing_2.png,2\n")
    r = run_cli("eval", eval_results, "--data", flat, "--csv", csv)
    assert r.code == ExitStatus.INPUT
    assert "names 2 file(s) missing" in r.stderr and "missing_1.png" in r.stderr and "hint: fix the paths" in r.stderr


def test_reference_with_other_input_shape(run_cli, eval_results: Path, val_subset: Path, feature_map_tflite: Path) -> None:
    int8 = next(eval_results.glob("*.int8.tflite"))
    r = run_cli("eval", int8, "--reference", feature_map_tflite, "--data", val_subset)
    assert r.code == ExitStatus.INPUT
    assert "takes input [1, 32, 32, 3]" in r.stderr and "hint: pass a --reference converted from the same model" in r.stderr


def test_top_k_on_a_model_that_is_not_a_classifier(run_cli, val_subset: Path, feature_map_tflite: Path) -> None:
    r = run_cli("eval", feature_map_tflite, "--data", val_subset, "--top-k", "5")
    assert r.code == ExitStatus.USAGE
    assert "--top-k 5 needs class scores" in r.stderr and "hint: drop --top-k" in r.stderr


def test_missing_data_folder_and_non_tflite(run_cli, eval_results: Path, tmp_path: Path, example) -> None:
    r = run_cli("eval", eval_results, "--data", tmp_path / "nope")
    assert r.code == ExitStatus.INPUT and "does not exist" in r.stderr
    r = run_cli("eval", example.model, "--data", example.val)
    assert r.code == ExitStatus.INPUT and "is not a .tflite model" in r.stderr


def test_analyze_results_folder_with_csv(run_cli, eval_results: Path, val_subset: Path, tmp_path: Path) -> None:
    csv = tmp_path / "layers.csv"
    r = run_cli("analyze", eval_results, "--data", val_subset, "--csv", csv, "--json", "--num-samples", "16")
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["__meta__"]["kind"] == "analyze" and doc["model"].endswith(".int8.tflite")
    assert doc["reference"].endswith(".float32.tflite") and doc["data"]["samples"] == 16
    layers = doc["layers"]
    assert {"CONV_2D", "FULLY_CONNECTED"} <= {l["op_name"] for l in layers}
    conv = [l for l in layers if l["op_name"] == "CONV_2D"]
    assert all(l["scaled_rmse"] > 0 and l["rmse"] > 0 and l["sqnr_db"] > 10 for l in conv)
    ranked = [l["local_sqnr_db"] for l in layers if isinstance(l["local_sqnr_db"], float)]
    assert ranked == sorted(ranked), "most sensitive (lowest own SQNR) first"
    (quant,) = [l for l in layers if l["op_name"] == "QUANTIZE"]
    assert quant["local_sqnr_db"] == quant["sqnr_db"], "the input quantizer's error is all its own"
    lines = csv.read_text().splitlines()
    assert lines[0].startswith("op_index,op_name,tensor,rmse,scaled_rmse,sqnr_db") and len(lines) == len(layers) + 1
    assert next((eval_results / "runs").glob("analyze-*.json"))
    again = run_cli("analyze", eval_results, "--data", val_subset, "--csv", csv)
    assert again.code == ExitStatus.OUTPUT and "--overwrite" in again.stderr


def test_analyze_keras_model_converts_in_memory(run_cli, example, val_subset: Path) -> None:
    r = run_cli("analyze", example.model, "--calib", example.calib, "--num-calib", "50", "--data", val_subset,
                "--preprocess", "unit", "--num-samples", "8", "--top", "5")
    assert r.code == 0, r.stderr
    assert "most sensitive first" in r.stdout and "CONV_2D" in r.stdout


def test_analyze_keras_without_calib(run_cli, example) -> None:
    r = run_cli("analyze", example.model)
    assert r.code == ExitStatus.USAGE and "hint: pass --calib FOLDER" in r.stderr


def test_analyze_defaults_to_the_calibration_images(run_cli, eval_results: Path) -> None:
    r = run_cli("analyze", eval_results, "--num-samples", "4", "--no-save", "--json")
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    manifest = json.loads((eval_results / "manifest.json").read_text())
    assert doc["data"]["folder"] == manifest["calibration"]["folder"] and doc["data"]["samples"] == 4
