"""Screenshots of every wizard page, taken offscreen on the bundled example.

Run: ``python -m edgeq.gui.screenshots OUTDIR`` (e.g. ``docs/images``). The wizard is driven
for real (convert, evaluate, profile on this host, export the report) into a temporary results
folder, and each page is saved as ``OUTDIR/gui-<page>.png`` once its step has finished.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

NAMES = ("model", "calibration", "quantization", "convert", "evaluate", "profile", "report")


def _wait(condition: Callable[[], Any], timeout: float, what: str) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    end = time.monotonic() + timeout
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(30)
    timer.timeout.connect(lambda: loop.quit() if condition() or time.monotonic() > end else None)
    timer.start()
    loop.exec()
    timer.stop()
    if not condition():
        raise SystemExit(f"screenshots: timed out waiting for {what}")


def _settle(seconds: float = 0.3) -> None:
    """Lets the event loop run (plots refresh, layouts settle) before a screenshot."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def take(outdir: Path, *, runs: int = 30, min_secs: float = 0.3) -> list[Path]:
    """Drives the wizard on the bundled example and saves one PNG per page; returns the paths."""
    from PySide6.QtCore import QSettings

    from edgeq.gui.app import application, create_window

    app = application(["edgeq-screenshots"])
    app.setStyle("Fusion")
    outdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="edgeq-screens-"))
    win = create_window(QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    win.confirm = lambda title, text: True
    win.show()
    shots: list[Path] = []

    def shot(index: int) -> None:
        win.go(index)
        _settle(0.4)
        path = outdir / f"gui-{NAMES[index]}.png"
        win.grab().save(str(path))
        shots.append(path)

    model = win.pages[0]
    model.use_example()
    _wait(lambda: win.state.model_info is not None or not model.busy(), 180, "the model description")
    if win.state.model_info is None:
        raise SystemExit(f"screenshots: the bundled example cannot be read: {model.message.text()}")
    shot(0)
    calib = win.pages[1]
    win.go(1)
    calib.refresh_preview()
    _wait(lambda: calib.last_preview is not None, 60, "the calibration preview")
    shot(1)
    quant = win.pages[2]
    win.go(2)
    quant.out.setText(str(work / "results"))
    shot(2)
    if not win.go_next():
        raise SystemExit("screenshots: the Quantization page refused its input")
    conv = win.pages[3]
    conv.start()
    _wait(lambda: win.state.manifest is not None and not conv.busy(), 600, "the conversion")
    shot(3)
    ev = win.pages[4]
    win.go(4)
    ev.start()
    _wait(lambda: win.state.evaluation is not None and not ev.busy(), 600, "the evaluation")
    shot(4)
    prof = win.pages[5]
    win.go(5)
    prof.runs.setValue(runs)
    prof.min_secs.setValue(min_secs)
    prof.check_selected()
    _wait(lambda: prof.check_button.isEnabled() and "checking" not in prof.device_message.text(), 120, "the device check")
    prof.start()
    _wait(lambda: win.state.profile is not None and not prof.busy(), 600, "profiling")
    shot(5)
    for tab, name in ((1, "profile-histogram"), (2, "profile-scatter")):
        prof.tabs.setCurrentIndex(tab)
        _settle(0.4)
        path = outdir / f"gui-{name}.png"
        win.grab().save(str(path))
        shots.append(path)
    prof.tabs.setCurrentIndex(0)
    rep = win.pages[6]
    win.go(6)
    rep.export()
    rep.save_recipe(str(work / "results" / "recipe.toml"), overwrite=True)
    shot(6)
    win.close()
    app.processEvents()
    return shots


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edgeq.gui.screenshots", description=__doc__.splitlines()[0])
    ap.add_argument("outdir", help="folder for the PNG files (e.g. docs/images)")
    args = ap.parse_args(argv)
    for p in take(Path(args.outdir)):
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
