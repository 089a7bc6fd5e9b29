"""The PySide6 desktop wizard: the only package that imports Qt or pyqtgraph."""

from edgeq.gui import qt_guard as _qt_guard

_qt_guard.apply()  # before any Qt callback runs (see qt_guard: a PySide6 6.12 refcount bug)
