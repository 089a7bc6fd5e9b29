"""Fixtures for the GUI tests: a window with its own settings file, and waiting helpers.

``QT_QPA_PLATFORM=offscreen`` is set by tests/conftest.py before Qt is imported.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import pytest


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    return tmp_path / "edgeq-gui.ini"


@pytest.fixture
def make_window(qtbot: Any, settings_file: Path) -> Callable[..., Any]:
    """Builds shown main windows that read/write ``settings_file``; closes them after the test."""
    from PySide6.QtCore import QSettings

    from edgeq.gui.app import application, create_window

    application()
    made: list[Any] = []

    def _make() -> Any:
        settings = QSettings(str(settings_file), QSettings.Format.IniFormat)
        win = create_window(settings)
        win.confirm = lambda title, text: True  # closing mid-job in teardown: cancel without a dialog
        qtbot.addWidget(win)
        win.show()
        qtbot.waitExposed(win)
        made.append(win)
        return win

    yield _make
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent

    for win in made:
        win.jobs.cancel_all("test finished")
        win.jobs.wait_all(60000)
        win.close()
        win.deleteLater()
    # Destroy the windows now, on this thread: left as cyclic garbage, they could be collected
    # by a worker thread of a later test (TensorFlow's converter calls gc.collect()).
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    made.clear()
    gc.collect()


@pytest.fixture
def window(make_window: Callable[..., Any]) -> Any:
    return make_window()


@pytest.fixture(scope="session")
def gui_example(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The bundled example; while its files are not generated yet, an equivalent stand-in.

    The stand-in has the same shape (28x28x1 classifier, calibration PNGs, one validation
    subfolder per class, 'unit'/'gray' preprocessing) so the wizard is driven the same way.
    """
    from edgeq.errors import EdgeqError
    from edgeq.example import Example, bundled_example

    try:
        ex = bundled_example()
        if ex.model.exists():
            return ex
        reason = f"{ex.model} is missing"
    except EdgeqError as exc:
        reason = exc.message
    from edgeq_testing import build_tiny_classifier, write_images

    print(f"\n[tests/gui] bundled example unavailable ({reason}); using a generated stand-in", file=sys.stderr)
    root = tmp_path_factory.mktemp("example-standin")
    labels = ["0_zero", "1_one", "2_two", "3_three"]
    model = build_tiny_classifier(root / "model.keras", input_shape=(28, 28, 1), classes=len(labels))
    write_images(root / "calib", 40, size=(28, 28), channels=1)
    for i, name in enumerate(labels):
        write_images(root / "val" / name, 6, size=(28, 28), channels=1, seed=100 + i)
    return Example(root=root, model=model, calib=root / "calib", val=root / "val", labels=labels,
                   preprocess={"preset": "unit", "color": "gray"}, info={"standin": True})


@pytest.fixture(scope="session")
def converted(gui_example: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A results folder with the example's float32 variant (for jobs that need a model to run)."""
    from edgeq import api
    from edgeq.events import drain

    out = tmp_path_factory.mktemp("gui-converted") / "out"
    req = api.ConvertRequest(model=str(gui_example.model), out=str(out), modes=["float32"],
                             preset=gui_example.preprocess["preset"], color=gui_example.preprocess["color"])
    result = drain(api.convert(req))
    return {"out": str(out), "manifest": result.to_dict()}
