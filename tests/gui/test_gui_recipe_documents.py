"""Recipe documents: TOML round trip, strict validation, versions, and loading one into the window."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from edgeq.errors import OutputExists, RecipeInvalid
from edgeq.recipes import RECIPE_SCHEMA, Recipe, dumps, load, loads, save, toml_dumps


def test_round_trip_keeps_every_choice(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    r = Recipe(model=str(tmp_path / "m.keras"), preprocess={"preset": "custom", "color": "rgb", "resize": "crop",
               "mean": [127.5], "std": [127.5]}, calib=str(tmp_path / "imgs"), num_calib=64, seed=3,
               modes=["float32", "int8"], io="uint8", per_tensor=True, strict_int=True, eval_data="/data/val",
               max_drop_pp=0.5, devices=["local", "rpi5"], threads=4, runs=100, min_secs=0.25,
               report_formats=["html", "json"], title='say "hi"', out=str(tmp_path / "out"))
    path = save(r, tmp_path / "r.toml")
    text = path.read_text()
    assert 'path = "m.keras"' in text and 'folder = "imgs"' in text  # relative to the recipe
    doc = tomllib.loads(text)
    assert doc["recipe"]["schema_version"] == RECIPE_SCHEMA and doc["recipe"]["edgeq_version"]
    back = load(path)
    for key in ("model", "preprocess", "calib", "num_calib", "seed", "modes", "io", "per_tensor", "strict_int",
                "eval_data", "max_drop_pp", "devices", "threads", "runs", "min_secs", "report_formats", "title", "out"):
        assert getattr(back, key) == getattr(r, key), key


def test_save_refuses_to_overwrite(tmp_path: Path) -> None:
    r = Recipe(example=True)
    save(r, tmp_path / "r.toml")
    with pytest.raises(OutputExists):
        save(r, tmp_path / "r.toml")
    save(r, tmp_path / "r.toml", overwrite=True)
    assert load(tmp_path / "r.toml").example


@pytest.mark.parametrize("body, needle", [
    ("[model]\nexample = true\nfoo = 1\n", "unknown key 'model.foo'"),
    ("[model]\nexample = true\n[extras]\na = 1\n", "unknown table [extras]"),
    ("[model]\nexample = true\n[profile]\nthreads = \"four\"\n", "key 'profile.threads' must be int"),
    ("[model]\nexample = true\n[convert]\nmodes = [\"int4\"]\n", "unknown mode 'int4'"),
    ("[model]\ntrust = true\n", "[model] needs 'path' or 'example = true'"),
])
def test_invalid_recipes_name_file_and_key(tmp_path: Path, body: str, needle: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[recipe]\nschema_version = 1\n" + body)
    with pytest.raises(RecipeInvalid) as info:
        load(path)
    assert str(path) in info.value.message and needle in info.value.message
    assert info.value.hint


def test_not_a_recipe_and_bad_toml() -> None:
    with pytest.raises(RecipeInvalid, match="not an edgeq recipe"):
        loads("[model]\nexample = true\n", source="x.toml")
    with pytest.raises(RecipeInvalid, match="not valid TOML"):
        loads("[recipe\n", source="x.toml")


def test_newer_recipe_is_refused_by_edgeq_run(tmp_path: Path, run_cli: Any) -> None:
    path = tmp_path / "future.toml"
    path.write_text('[recipe]\nschema_version = 2\nedgeq_version = "2.0.0"\n[model]\nexample = true\n[hologram]\nx = 1\n')
    res = run_cli("run", str(path))
    assert res.code == 3
    assert "recipe schema version 2" in res.stderr and "upgrade edgeq" in res.stderr


def test_toml_writer_output_is_valid_toml() -> None:
    doc = {"t": {"s": 'quote " backslash \\ newline \n tab \t é', "i": -3, "f": 0.1, "b": False,
                 "l": ["a", "b"], "n": [1.5, 2.0], "inf": float("inf")}}
    assert tomllib.loads(toml_dumps(doc)) == doc


def test_loading_a_recipe_fills_the_pages(window: Any, tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    (tmp_path / "val").mkdir()
    (tmp_path / "m.keras").write_bytes(b"PK\x03\x04")
    r = Recipe(model=str(tmp_path / "m.keras"), calib=str(tmp_path / "imgs"), eval_data=str(tmp_path / "val"),
               preprocess={"preset": "symmetric", "color": "bgr", "resize": "letterbox"}, modes=["dynamic", "int8"],
               io="int8", strict_int=True, devices=["local"], threads=2, runs=7, report_formats=["md"],
               out=str(tmp_path / "o"))
    path = tmp_path / "r.toml"
    path.write_text(dumps(r, base=tmp_path))
    assert window.open_recipe(str(path)), window.errors.text
    calib, quant, prof, rep = window.pages[1], window.pages[2], window.pages[5], window.pages[6]
    assert calib.folder.currentText() == str(tmp_path / "imgs")
    assert (calib.preset.currentText(), calib.color.currentText(), calib.resize_box.currentText()) == ("symmetric", "bgr", "letterbox")
    assert quant.selected_modes() == ["dynamic", "int8"] and quant.io.currentText() == "int8" and quant.strict.isChecked()
    assert quant.out.text() == str(tmp_path / "o")
    assert (prof.threads.value(), prof.runs.value()) == (2, 7)
    assert rep.selected_formats() == ["md"]
    assert window.state.to_recipe().modes == ["dynamic", "int8"]


def test_edgeq_run_json_keeps_going_after_a_failed_step(gui_example: Any, tmp_path: Path, run_cli: Any) -> None:
    import json

    r = Recipe(model=str(gui_example.model), preprocess=dict(gui_example.preprocess), modes=["float32"],
               devices=["no-such-device"], report_formats=["json", "md"], out=str(tmp_path / "out"))
    path = save(r, tmp_path / "r.toml")
    res = run_cli("run", str(path), "--json")
    assert res.code == 7, res.stderr  # partial: the profile step failed, the rest was done
    doc = json.loads(res.stdout)
    assert doc["manifest"]["status"] == "ok" and [v["mode"] for v in doc["manifest"]["variants"]] == ["float32"]
    assert "no-such-device" in doc["errors"]["profile"]["message"]
    assert doc["errors"]["profile"]["hint"]
    assert sorted(Path(f).name for f in doc["report_files"]) == ["report.json", "report.md"]
    assert "recipe step 'profile' failed" in res.stderr
    again = run_cli("run", str(path))
    assert again.code == 6 and "--overwrite" in again.stderr  # never overwrites silently


def test_engine_and_calibration_survive_a_recipe_round_trip() -> None:
    from edgeq import recipes

    r = recipes.Recipe(example=True, modes=["int8"], engine="litert-quantizer", calibration="auto")
    again = recipes.loads(recipes.dumps(r))
    assert (again.engine, again.calibration) == ("litert-quantizer", "auto")
    plain = recipes.loads(recipes.dumps(recipes.Recipe(example=True, modes=["int8"])))
    assert plain.engine is None and plain.calibration is None
