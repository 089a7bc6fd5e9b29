"""A guard against a reference-counting bug in PySide6 6.12 on Python < 3.12.

PySide6/shiboken6 6.12.0 releases one reference too many on the value a Python callback
returns when Qt calls it from inside a Python call to ``QCoreApplication.processEvents()``
(a slot on ``QTimer.timeout`` or ``clicked``, an overridden ``timerEvent``, ...); callbacks run
by ``app.exec()`` are fine. Callbacks return ``None`` (or a bool), so each such call lowers
``None``'s reference count by one; after a few thousand — a test waiting on live plots at
30 Hz, a script driving the window, pyqtgraph's own ``processEvents`` calls — CPython aborts
with "Fatal Python error: none_dealloc: deallocating None". Python 3.12 made these
singletons immortal, and PySide6 6.11.3 does not have the bug (tests/gui/test_gui_qt_guard.py
shows it on an affected install).

Where the bug can bite, the guard gives ``None``, ``True`` and ``False`` a reference count
so large that it cannot reach zero, which is what Python 3.12 does for them. It never frees
or changes anything else.
"""

from __future__ import annotations

import sys
from importlib import metadata

_BOOST = 1 << 40  # ~10^12 callbacks before the count could reach its old value again


def affected() -> bool:
    """True when this interpreter + shiboken6 combination has the over-release bug."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    try:
        version = metadata.version("shiboken6")
    except metadata.PackageNotFoundError:
        return False
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    return parts >= (6, 12)


_applied = False


def apply() -> bool:
    """Makes the singletons effectively immortal when :func:`affected`; returns whether it did."""
    global _applied
    if _applied or not affected():
        return _applied
    import ctypes

    for obj in (None, True, False):
        ctypes.c_ssize_t.from_address(id(obj)).value += _BOOST  # ob_refcnt is the first field
    _applied = True
    return True
