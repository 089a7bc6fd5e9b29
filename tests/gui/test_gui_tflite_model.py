"""A bare .tflite picked on the Model page: the conversion steps are skipped, Evaluate and Profile run on the file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest


def wait_until(qtbot: Any, condition: Any, timeout: float = 60.0) -> None:
    qtbot.waitUntil(lambda: bool(condition()), timeout=int(timeout * 1000))


def _left() -> Any:
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


@pytest.fixture(scope="module")
def bare_model(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A float .tflite alone in a folder (its manifest left behind), and labelled images for it."""
    from edgeq import api
    from edgeq.events import drain
    from edgeq_testing import build_tiny_classifier, write_images

    root = tmp_path_factory.mktemp("bare-tflite")
    keras_model = build_tiny_classifier(root / "tiny.keras", input_shape=(16, 16, 3), classes=3)
    converted = root / "converted"
    drain(api.convert(api.ConvertRequest(model=str(keras_model), out=str(converted), modes=["float32"])))
    (src,) = converted.glob("*.float32.tflite")
    alone = root / "alone"
    alone.mkdir()
    model = alone / src.name
    shutil.copy(src, model)
    data = root / "val"
    for i, name in enumerate(["ant", "bee", "cat"]):
        write_images(data / name, 4, size=(20, 20), channels=3, seed=50 + i)
    return {"model": model, "data": data, "root": root}


def test_bare_tflite_skips_conversion_and_evaluates_and_profiles(qtbot: Any, make_window: Any,
                                                                 bare_model: dict[str, Path], tmp_path: Path) -> None:
    model, data = bare_model["model"], bare_model["data"]
    win = make_window()
    page = win.pages[0]
    page.inspect(str(model))
    wait_until(qtbot, lambda: win.state.model_info is not None or page.message.styleSheet().startswith("color: #b0"))
    assert win.state.model_info is not None, page.message.text()
    assert win.state.bare_tflite
    assert "skipped" in page.message.text()
    # Calibration, Quantization and Convert are marked not applicable, with the reason on each page.
    assert [win.steps.item(i).text().endswith("(n/a)") for i in range(7)] == [False, True, True, True, False, False, True]
    assert "bare .tflite" in win.pages[1].na_note.text()

    # Next skips straight to Evaluate; Back returns to the Model page.
    assert win.go_next()
    assert win.current == 4
    qtbot.mouseClick(win.back, _left())
    assert win.current == 0
    assert win.go_next() and win.current == 4

    # Evaluate: the preprocessing must be chosen here (no manifest), checked beside the controls.
    ev = win.pages[4]
    assert ev.bare_box.isVisibleTo(ev)
    ev.data.setEditText(str(data))
    ev.pp_color.setCurrentText("gray")
    assert "channel" in ev.pp_message.text()
    qtbot.mouseClick(ev.controls.start, _left())
    assert not ev.busy() and win.state.evaluation is None
    ev.reference.setEditText(str(tmp_path / "missing.tflite"))
    ev.pp_color.setCurrentText("rgb")
    ev.pp_preset.setCurrentText("unit")
    qtbot.mouseClick(ev.controls.start, _left())
    assert not ev.busy() and "not a .tflite" in ev.reference_message.text()
    ev.reference.setEditText("")  # no reference: accuracy only
    qtbot.mouseClick(ev.controls.start, _left())
    wait_until(qtbot, lambda: win.state.evaluation is not None and not ev.busy())
    doc = win.state.evaluation
    # A float32 file is its own reference in edgeq.evaluation: one variant, nothing to compare with.
    assert doc["reference"] is None or doc["reference"]["file"] == model.name
    assert [v["status"] for v in doc["variants"]] == ["ok"]
    assert doc["data"]["images"] == 12
    top1 = doc["variants"][0]["metrics"]["top1"]
    assert ev.summary.rowCount() == 1
    assert ev.summary.item(0, 2).text() == f"{top1:.1%}"
    assert all(ev.summary.isColumnHidden(c) for c in range(3, 7)) and not ev.summary.isColumnHidden(2)
    assert "accuracy only" in ev.controls.status.text()
    assert ev.per_class.rowCount() == 3
    assert not (model.parent / "runs").exists()  # no results folder: nothing written beside the model

    # Profile on this host: the document goes into the chosen folder, and the page says where.
    assert win.go_next() and win.current == 5
    prof = win.pages[5]
    assert prof.save_box.isVisibleTo(prof)
    assert prof.selected_devices() == ["local"]
    prof.runs.setValue(5)
    prof.min_secs.setValue(0.0)
    target = tmp_path / "profiles"
    prof.save_dir.setText(str(target))
    qtbot.mouseClick(prof.controls.start, _left())
    assert not prof.busy() and "not a folder" in prof.save_message.text()
    target.mkdir()
    qtbot.mouseClick(prof.controls.start, _left())
    wait_until(qtbot, lambda: win.state.profile is not None and not prof.busy())
    runs = win.state.profile["runs"]
    assert len(runs) == 1 and runs[0]["status"] == "ok", runs
    assert runs[0]["stats"]["count"] >= 5
    (written,) = target.glob("profile-*.json")
    saved = json.loads(written.read_text())
    assert [(r["status"], r["stats"]["count"]) for r in saved["runs"]] == [("ok", runs[0]["stats"]["count"])]
    assert str(written) in prof.saved_to.text()
    assert prof.stats.rowCount() == 1
    assert not prof.save_message.isVisibleTo(prof)

    # Report is skipped for a bare model, and says so (and where the profile went).
    assert win.go_next() and win.current == 6
    rep = win.pages[6]
    assert "Skipped for a bare .tflite" in rep.na_note.text() and str(written) in rep.na_note.text()
    assert not rep.export_button.isEnabled()
    assert not rep.save_recipe(str(tmp_path / "run.toml")) and "bare .tflite" in rep.recipe_message.text()
    win.go(3)  # reachable from the step list, but there is nothing to convert
    assert "bare .tflite" in win.pages[3].na_note.text()
    qtbot.mouseClick(win.pages[3].controls.start, _left())
    assert not win.pages[3].busy() and "already a .tflite" in win.pages[3].controls.status.text()
    win.go(6)
    win.go_back()
    assert win.current == 5
    assert win.errors.text == ""
