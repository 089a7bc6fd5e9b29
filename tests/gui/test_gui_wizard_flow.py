"""The whole wizard, driven offscreen on the bundled example, then replayed headless by `edgeq run`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any



def wait_until(qtbot: Any, condition: Any, timeout: float = 120.0) -> None:
    qtbot.waitUntil(lambda: bool(condition()), timeout=int(timeout * 1000))


def choose_example(qtbot: Any, win: Any, ex: Any) -> None:
    """Selects the example the way a user does: the button if it is bundled, else its files."""
    page = win.pages[0]
    if "standin" in ex.info:
        st = win.state
        st.labels, st.calib, st.eval_data = list(ex.labels), str(ex.calib), str(ex.val)
        st.preprocess = {"resize": "stretch", **ex.preprocess}
        for p in win.pages[1:]:
            getattr(p, "load_state", lambda: None)()
        page.inspect(str(ex.model))
    else:
        qtbot.mouseClick(page.example_button, _left())
        assert win.state.example
    wait_until(qtbot, lambda: win.state.model_info is not None or page.message.styleSheet().startswith("color: #b0"))
    assert win.state.model_info is not None, page.message.text()


def _left() -> Any:
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_first_window_shows_without_tensorflow() -> None:
    code = (
        "import sys\n"
        "from PySide6.QtCore import QSettings\n"
        "from edgeq.gui.app import application, create_window\n"
        "app = application(['t'])\n"
        "import tempfile, os\n"
        "w = create_window(QSettings(os.path.join(tempfile.mkdtemp(), 's.ini'), QSettings.Format.IniFormat))\n"
        "w.show(); app.processEvents()\n"
        "assert w.isVisible()\n"
        "print('SIZE', w.width(), w.height())\n"
        "print('TF', 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    env = {**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert "TF False False" in out.stdout, out.stdout
    w, h = (int(v) for v in out.stdout.split("SIZE ")[1].split()[:2])
    assert w <= 1366 and h <= 768 - 40, (w, h)  # fits a 1366x768 screen with a taskbar


def test_wizard_end_to_end_and_recipe_replay(qtbot: Any, make_window: Any, gui_example: Any, tmp_path: Path,
                                             run_cli: Any) -> None:
    win = make_window()
    choose_example(qtbot, win, gui_example)
    model_page = win.pages[0]
    assert model_page.fields["input"].text().replace(" ", "").startswith("[None,28,28,1]")
    assert "layers" in model_page.fields["ops"].text()

    # Calibration: thumbnails and the live tensor preview of the 'unit' preset.
    assert win.go_next()
    calib = win.pages[1]
    assert calib.color.currentText() == "gray" and calib.preset.currentText() == "unit"
    calib.refresh_preview()
    wait_until(qtbot, lambda: calib.last_preview is not None and calib.last_preview["stats"] is not None)
    assert calib.thumbs.count() > 0
    assert calib.stats.rowCount() == 1
    lo, hi = float(calib.stats.item(0, 0).text()), float(calib.stats.item(0, 1).text())
    assert 0.0 <= lo < hi <= 1.0
    calib.count.setValue(100)

    # Quantization: all five modes, results into a fresh folder, labelled data from the example.
    assert win.go_next()
    quant = win.pages[2]
    out = tmp_path / "gui-out"
    quant.out.setText(str(out))
    assert quant.eval_data.currentText() == str(gui_example.val)
    assert win.go_next(), (quant.modes_message.text(), quant.out_message.text(), quant.eval_message.text())

    # Convert, with progress per variant and a results table.
    conv = win.pages[3]
    qtbot.mouseClick(conv.controls.start, _left())
    wait_until(qtbot, lambda: win.state.manifest is not None and not conv.busy(), 240)
    manifest = json.loads((out / "manifest.json").read_text())
    assert [v["mode"] for v in manifest["variants"]] == ["float32", "float16", "dynamic", "int8", "int16x8"]
    assert all(v["status"] == "ok" for v in manifest["variants"])
    assert conv.table.rowCount() == 5
    assert [conv.table.item(r, 1).text() for r in range(5)] == ["ok"] * 5
    assert all(bar.format() == "done" for bar in conv.bars.values())
    assert all((out / v["file"]).is_file() for v in manifest["variants"])

    # Evaluate: live top-1 per variant, then the summary and per-class tables.
    assert win.go_next()
    ev = win.pages[4]
    qtbot.mouseClick(ev.controls.start, _left())
    wait_until(qtbot, lambda: win.state.evaluation is not None and not ev.busy(), 240)
    doc = win.state.evaluation
    assert len(list((out / "runs").glob("eval-*.json"))) == 1
    assert set(ev.plot.buffers) == {"float32", "float16", "dynamic", "int8", "int16x8"}
    assert all(b.total >= 1 for b in ev.plot.buffers.values())
    assert ev.summary.rowCount() == 5
    top1 = {v["mode"]: v["metrics"]["top1"] for v in doc["variants"]}
    assert ev.summary.item(0, 2).text() == f"{top1['float32']:.1%}"
    assert ev.per_class.rowCount() == len(doc["data"]["classes"]) and ev.per_class.columnCount() == 5

    # Profile on this host: samples stream into the live plot and the stats table.
    assert win.go_next()
    prof = win.pages[5]
    assert prof.selected_devices() == ["local"]
    prof.runs.setValue(20)
    prof.min_secs.setValue(0.1)
    qtbot.mouseClick(prof.controls.start, _left())
    wait_until(qtbot, lambda: win.state.profile is not None and not prof.busy(), 240)
    runs = win.state.profile["runs"]
    assert len(runs) == 5 and all(r["status"] == "ok" for r in runs)
    assert len(list((out / "runs").glob("profile-*.json"))) == 1
    assert set(prof.latency.buffers) == {f"{m} @ local" for m in top1}
    for r in runs:
        assert prof.latency.buffers[f"{r['variant']} @ local"].total == r["stats"]["count"]
    assert prof.stats.rowCount() == 5
    assert prof.latency.frames >= 1
    prof.tabs.setCurrentWidget(prof.histogram)  # a hidden plot draws when it is shown
    wait_until(qtbot, lambda: prof.histogram.frames >= 1, 10)
    assert len(prof.scatter.points) == 5

    # Report: export every format and "open" one; save the run as a recipe.
    assert win.go_next()
    rep = win.pages[6]
    opened: list[str] = []
    rep.opener = lambda url: opened.append(url.toLocalFile())
    qtbot.mouseClick(rep.export_button, _left())
    for ext in ("html", "md", "csv", "json"):
        assert (out / f"report.{ext}").stat().st_size > 200, ext
    assert rep.files.count() == 4
    qtbot.mouseClick(rep.open_button, _left())
    assert opened == [str(out / "report.html")]
    report = json.loads((out / "report.json").read_text())
    assert report["__meta__"]["kind"] == "report"
    # What the numbers say: the report's headline and its "why" notes, shown on the page itself.
    wait_until(qtbot, lambda: "reading" not in rep.findings.toPlainText(), 30)
    shown = rep.findings.toPlainText()
    assert report["highlights"][0] in shown
    assert report["explanations"] and report["explanations"][0]["text"] in shown
    recipe = tmp_path / "run.toml"
    assert rep.save_recipe(str(recipe)), rep.recipe_message.text()
    if "standin" not in gui_example.info:  # portable: names the example, not its install path
        text = recipe.read_text()
        assert "example = true" in text and str(gui_example.root) not in text
    assert win.errors.text == ""
    assert str(gui_example.calib) in win.recent.get("calib")
    assert "local" in win.recent.get("devices")

    # The recipe replayed headless gives the same manifest.
    replay = tmp_path / "replay"
    res = run_cli("run", str(recipe), "--out", str(replay))
    assert res.code == 0, res.stderr
    again = json.loads((replay / "manifest.json").read_text())
    assert again["preprocess"] == manifest["preprocess"]
    assert again["options"] == manifest["options"]
    assert again["calibration"]["used"] == manifest["calibration"]["used"]
    assert [(v["mode"], v["status"]) for v in again["variants"]] == [(v["mode"], v["status"]) for v in manifest["variants"]]
    for a, b in zip(again["variants"], manifest["variants"]):
        assert abs(a["bytes"] - b["bytes"]) <= 0.02 * b["bytes"], (a["mode"], a["bytes"], b["bytes"])
    assert len(list((replay / "runs").glob("eval-*.json"))) == 1
    assert len(list((replay / "runs").glob("profile-*.json"))) == 1
    assert sorted(p.name for p in replay.glob("report.*")) == ["report.csv", "report.html", "report.json", "report.md"]
