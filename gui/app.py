"""The desktop application: ``edgeq gui`` and the ``edgeq-gui`` launcher.

Only Qt, pyqtgraph and the light parts of edgeq are imported here: TensorFlow is loaded by the
first worker that needs it (inspecting or converting a model), after the window is on screen.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from edgeq import __version__


def application(argv: Sequence[str] | None = None) -> QApplication:
    """The process's QApplication (created once; high-DPI safe)."""
    app = QApplication.instance()
    if app is None:
        # Fractional scale factors (125 %, 150 %) are used as they are instead of rounded:
        # layouts are in logical pixels and plots redraw at the device pixel ratio.
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        # Workers (profiling reader threads, converters) run Python too; a shorter GIL switch
        # interval lets the UI thread in sooner (p99 stall 105 -> 37 ms at 55k samples/s measured).
        sys.setswitchinterval(0.001)
        app = QApplication(list(argv or ["edgeq-gui"]))
        app.setApplicationName("edgeq")
        app.setOrganizationName("edgeq")
        app.setApplicationVersion(__version__)
    return app  # type: ignore[return-value]


def create_window(settings: QSettings | None = None):  # noqa: ANN201 - MainWindow is imported lazily
    """Builds the main window (not shown)."""
    from edgeq.gui.wizard import MainWindow

    return MainWindow(settings)


def main(argv: Sequence[str] | None = None) -> int:
    """Opens the wizard and runs the event loop until the window closes.

    Args:
        argv: ``[prog, --recipe FILE, --example]``.

    Returns:
        The exit status of the event loop.
    """
    argv = list(sys.argv if argv is None else argv)
    parser = argparse.ArgumentParser(prog="edgeq-gui", description="the edgeq desktop wizard")
    parser.add_argument("--recipe", help="open with the settings of a saved recipe")
    parser.add_argument("--example", action="store_true", help="start with the bundled example selected")
    args, qt_args = parser.parse_known_args(argv[1:])
    app = application([argv[0] if argv else "edgeq-gui", *qt_args])
    window = create_window()
    window.show()
    if args.recipe:
        window.open_recipe(args.recipe)
    elif args.example:
        window.pages[0].use_example()
    return app.exec()


def entry() -> None:
    """The ``edgeq-gui`` console script."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    entry()
