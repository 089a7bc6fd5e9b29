"""The one place in the window where errors are shown: message, hint, and details on demand.

Every worker failure, every rejected input that is not tied to a single field, and every
unexpected exception ends here, so a user always knows where to look and nothing crashes
the application.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout

from edgeq.errors import Cancelled, EdgeqError

_log = logging.getLogger("edgeq.gui")


def describe(exc: BaseException) -> tuple[str, str]:
    """(message, hint) for any exception; non-edgeq errors are bugs and say how to report them."""
    if isinstance(exc, EdgeqError):
        return exc.message, exc.hint
    if isinstance(exc, MemoryError):
        return "out of memory", "use fewer calibration/evaluation images, or close other programs"
    return (f"internal error: {type(exc).__name__}: {exc}",
            "this is a bug in edgeq; please report it with the details below")


class ErrorBar(QFrame):
    """A dismissable banner at the bottom of the window (hidden while there is nothing to say)."""

    shown = Signal(str, str)

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("errorBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#errorBar { background: #fdecea; border: 1px solid #f5c2c0; border-radius: 4px; }"
                           "#errorBar QLabel { color: #611a15; }")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setStyleSheet("font-weight: bold;")
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setVisible(False)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_button = QPushButton("Details")
        self.details_button.setCheckable(True)
        self.details_button.toggled.connect(self.details.setVisible)
        self.close_button = QPushButton("Dismiss")
        self.close_button.clicked.connect(self.clear)
        text = QVBoxLayout()
        text.addWidget(self.message)
        text.addWidget(self.hint)
        text.addWidget(self.details)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 6, 8, 6)
        row.addLayout(text, 1)
        row.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.history: list[tuple[str, str]] = []
        self.setVisible(False)

    def show_error(self, exc: BaseException, *, context: str = "") -> None:
        """Shows ``exc`` (cancellation is not an error and is ignored)."""
        if isinstance(exc, Cancelled):
            return
        message, hint = describe(exc)
        trace = getattr(exc, "__traceback_text__", "")
        if trace and not isinstance(exc, EdgeqError):
            _log.error("%s", trace)
        self.show_message(f"{context}: {message}" if context else message, hint, details=trace if not isinstance(exc, EdgeqError) else "")

    def show_message(self, message: str, hint: str = "", *, details: str = "") -> None:
        self.message.setText(message)
        self.hint.setText(f"Hint: {hint}" if hint else "")
        self.hint.setVisible(bool(hint))
        self.details.setText(details[-4000:])
        self.details_button.setVisible(bool(details))
        self.details_button.setChecked(False)
        self.history.append((message, hint))
        self.setVisible(True)
        self.shown.emit(message, hint)

    def clear(self) -> None:
        self.message.clear()
        self.hint.clear()
        self.setVisible(False)

    @property
    def text(self) -> str:
        """What the bar says now (message and hint), for tests and screen readers."""
        return "\n".join(t for t in (self.message.text(), self.hint.text()) if t) if not self.isHidden() else ""
