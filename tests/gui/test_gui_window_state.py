"""Window state and recent items persist in QSettings; steps are reachable from the keyboard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from edgeq.gui.wizard import DEFAULT_SIZE


def test_default_size_fits_a_small_laptop(window: Any) -> None:
    assert window.width() <= 1366 and window.height() <= 728
    assert (window.width(), window.height()) == DEFAULT_SIZE
    assert window.minimumWidth() <= 1366 and window.minimumHeight() <= 700


def test_geometry_and_recent_items_persist(make_window: Any, tmp_path: Path) -> None:
    first = make_window()
    first.resize(1000, 640)
    first.recent.add("calib", "/data/one")
    first.recent.add("calib", "/data/two")
    first.recent.add("calib", "/data/one")  # moves to the front, no duplicate
    first.recent.add("devices", "rpi5")
    assert first.close()
    second = make_window()
    assert (second.width(), second.height()) == (1000, 640)
    assert second.recent.get("calib") == ["/data/one", "/data/two"]
    assert second.recent.get("devices") == ["rpi5"]
    combo = second.pages[1].folder
    assert [combo.itemText(i) for i in range(combo.count())] == ["/data/one", "/data/two"]


def test_keyboard_navigation_validates_each_step(qtbot: Any, window: Any, tmp_path: Path) -> None:
    qtbot.keyClick(window, Qt.Key.Key_PageDown, Qt.KeyboardModifier.ControlModifier)
    assert window.current == 0, "Next without a model stays on the Model page"
    assert "Choose a model" in window.pages[0].message.text()
    window.steps.setFocus()
    qtbot.keyClick(window.steps, Qt.Key.Key_Down)
    assert window.current == 1
    qtbot.keyClick(window, Qt.Key.Key_PageUp, Qt.KeyboardModifier.ControlModifier)
    assert window.current == 0
    # every label of a field names its buddy, so Alt+letter reaches the field
    from PySide6.QtWidgets import QLabel

    for page in window.pages:
        for label in page.findChildren(QLabel):
            if "&" in label.text() and not label.text().startswith("<"):
                assert label.buddy() is not None, f"{type(page).__name__}: {label.text()}"


def test_edgeq_gui_command_opens_and_closes_the_window(qtbot: Any, tmp_path: Path, run_cli: Any) -> None:
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from edgeq.gui.app import application
    from edgeq.gui.wizard import MainWindow

    application()
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path))  # keep the user's settings untouched
    seen: list[Any] = []

    def close_it() -> None:
        wins = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        seen.extend(wins)
        for w in wins:
            w.close()

    QTimer.singleShot(300, close_it)
    res = run_cli("gui")
    assert res.code == 0, res.stderr
    assert len(seen) == 1 and seen[0].windowTitle().startswith("edgeq")
