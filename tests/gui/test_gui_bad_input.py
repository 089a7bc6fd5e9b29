"""Bad input in the window: each gets a clear message where the user looks, and nothing is lost."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt


def wait_until(qtbot: Any, condition: Any, timeout: float = 60.0) -> None:
    qtbot.waitUntil(lambda: bool(condition()), timeout=int(timeout * 1000))


def is_error(label: Any) -> bool:
    return label.isVisibleTo(label.window()) and "#b00020" in label.styleSheet()


def test_non_model_file_is_refused_next_to_the_field(window: Any, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a model")
    page = window.pages[0]
    page.inspect(str(notes))
    assert is_error(page.message)
    assert "not a model edgeq can read" in page.message.text()
    assert not window.go_next()
    assert window.current == 0


def test_broken_model_file_reports_the_loader_error_with_hint(qtbot: Any, window: Any, tmp_path: Path) -> None:
    fake = tmp_path / "broken.keras"
    fake.write_bytes(b"PK\x03\x04 this is not really a zip archive")
    page = window.pages[0]
    page.inspect(str(fake))
    wait_until(qtbot, lambda: not page.busy())
    assert is_error(page.message), page.message.text()
    assert window.state.model_info is None
    assert window.errors.text.startswith("inspect model: ")
    assert "Hint: " in window.errors.text
    assert not window.go_next()


def test_folder_without_images(qtbot: Any, window: Any, tmp_path: Path) -> None:
    empty = tmp_path / "docs"
    empty.mkdir()
    (empty / "readme.txt").write_text("no pictures here")
    window.go(1)
    page = window.pages[1]
    page.folder.setEditText(str(empty))
    page.refresh_preview()
    wait_until(qtbot, lambda: page.last_preview is not None)
    assert is_error(page.folder_message)
    assert "No images in this folder" in page.folder_message.text()
    assert "readme.txt" in page.folder_message.text()
    assert page.thumbs.count() == 0
    assert not window.go_next()
    assert window.current == 1


def test_bad_custom_normalization_is_explained_beside_the_controls(window: Any) -> None:
    window.go(1)
    page = window.pages[1]
    page.preset.setCurrentText("custom")
    page.mean.setText("127.5")
    page.std.setText("zero")
    assert page.check_spec() is None
    assert is_error(page.pp_message) and "must be numbers" in page.pp_message.text()
    page.std.setText("0")
    assert page.check_spec() is None and "std must not contain 0" in page.pp_message.text()


def test_unreachable_device_check_says_why(qtbot: Any, make_window: Any, tmp_path: Path, monkeypatch: Any) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    devices = tmp_path / "devices"
    devices.mkdir()
    (devices / "nowhere.toml").write_text(
        'schema_version = 1\nname = "nowhere"\ndescription = "nothing listens here"\ntransport = "ssh"\n'
        f'[ssh]\nhost = "127.0.0.1"\nport = {port}\nconnect_timeout = 3\n')
    monkeypatch.setenv("EDGEQ_DEVICES_DIR", str(devices))
    win = make_window()
    win.go(5)
    page = win.pages[5]
    names = [page.devices.item(i).data(Qt.ItemDataRole.UserRole) for i in range(page.devices.count())]
    assert "nowhere" in names and "local" in names
    page.devices.setCurrentRow(names.index("nowhere"))
    qtbot.mouseClick(page.check_button, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: page.check_button.isEnabled() and "checking" not in page.device_message.text())
    assert is_error(page.device_message), page.device_message.text()
    assert page.device_message.text().startswith("nowhere: ")
    assert "127.0.0.1" in page.device_message.text() or "refused" in page.device_message.text().lower()
    assert "Hint: " in win.errors.text


def test_closing_mid_job_asks_then_cancels_cleanly(qtbot: Any, window: Any, converted: dict[str, Any]) -> None:
    win = window
    win.state.out, win.state.manifest = converted["out"], converted["manifest"]
    win.go(5)
    page = win.pages[5]
    page.runs.setValue(1000000)
    page.min_secs.setValue(120)
    page.start()
    wait_until(qtbot, lambda: sum(b.total for b in page.latency.buffers.values()) > 50)
    asked: list[str] = []
    win.confirm = lambda title, text: (asked.append(text), False)[1]
    assert not win.close()  # "No": the window stays, the job goes on
    assert win.isVisible() and win.jobs.running and len(asked) == 1
    win.confirm = lambda title, text: (asked.append(text), True)[1]
    assert win.close()
    assert len(asked) == 2 and "profile" in asked[1]
    assert not win.jobs.running
    docs = list((Path(converted["out"]) / "runs").glob("profile-*.json"))
    assert len(docs) == 1, "the samples measured before closing are kept"
    doc = json.loads(docs[0].read_text())
    assert doc["partial"] is True
    assert doc["runs"][0]["samples_us"], "partial run keeps its samples"


def test_recipe_from_a_newer_version(window: Any, tmp_path: Path) -> None:
    recipe = tmp_path / "future.toml"
    recipe.write_text('[recipe]\nschema_version = 99\nedgeq_version = "9.0.0"\n\n[model]\nexample = true\n')
    before = dict(vars(window.state))
    assert not window.open_recipe(str(recipe))
    assert "recipe schema version 99" in window.errors.text
    assert "upgrade edgeq" in window.errors.text
    assert vars(window.state) == before, "a refused recipe changes nothing"


def test_engine_choice_is_validated_next_to_the_field(qtbot, make_window) -> None:
    """The Quantization page offers both int8 engines and refuses pairs no engine can make."""
    win = make_window()
    page = next(p for p in win.pages if type(p).__name__ == "QuantizationPage")
    win.state.calib = "somewhere"  # calibrated modes are allowed
    for box in page.mode_boxes.values():
        box.setChecked(False)
    page.mode_boxes["int8"].setChecked(True)
    page.engine.setCurrentIndex(page.engine.findData("tflite-converter"))
    page.calibration.setCurrentIndex(page.calibration.findData("moving-average"))
    assert page._check_modes() is False
    assert "tflite-converter" in page.engine_message.text()
    page.engine.setCurrentIndex(page.engine.findData("litert-quantizer"))
    assert page._check_modes() is True
    assert page.engine_message.text() == ""
