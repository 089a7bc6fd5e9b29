"""The PySide6 6.12 refcount guard: many Qt callbacks under processEvents() must not free None."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
base = sys.getrefcount(None)   # before the guard (if any) raises it
{guard}
target = base + 2000           # more callbacks than None has references: enough to free it when buggy
count = [0]
def tick():
    count[0] += 1
timer = QTimer()
timer.setInterval(0)
timer.timeout.connect(tick)
timer.start()
while count[0] < target:       # callbacks dispatched from processEvents(), as test helpers do
    app.processEvents()
print("CALLBACKS", count[0])
"""


def _run(guard: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-c", PROBE.format(guard=guard)], capture_output=True, text=True,
                          timeout=120, env=env)


def test_many_qt_callbacks_do_not_free_none() -> None:
    from edgeq.gui import qt_guard

    guarded = _run("import edgeq.gui")
    assert guarded.returncode == 0, guarded.stderr[-2000:]
    assert "CALLBACKS" in guarded.stdout
    if qt_guard.affected():
        # The bug is real on this PySide6: without the guard the same program aborts.
        bare = _run("")
        assert bare.returncode != 0 and "deallocating" in bare.stderr, (bare.returncode, bare.stderr[-500:])
        print(f"\n[qt_guard] PySide6 here over-releases callback results; guard applied: {guarded.stdout.strip()}")
