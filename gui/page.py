"""The base of every wizard page: a thin view that validates its input next to each field."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget)

if TYPE_CHECKING:  # pragma: no cover
    from edgeq.gui.wizard import MainWindow

ERROR_STYLE = "color: #b00020;"
WARN_STYLE = "color: #8a5300;"
OK_STYLE = "color: #1b5e20;"


class FieldMessage(QLabel):
    """The line under a field that says what is wrong with it (hidden when nothing is)."""

    def __init__(self) -> None:
        super().__init__()
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setVisible(False)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

    def error(self, text: str) -> None:
        self._set(text, ERROR_STYLE)

    def warn(self, text: str) -> None:
        self._set(text, WARN_STYLE)

    def ok(self, text: str) -> None:
        self._set(text, OK_STYLE)

    def clear(self) -> None:  # type: ignore[override]
        super().clear()
        self.setVisible(False)

    def _set(self, text: str, style: str) -> None:
        self.setText(text)
        self.setStyleSheet(style)
        self.setVisible(bool(text))


BARE_TFLITE_SKIP = ("Not applicable: the model is a bare .tflite file, which is already converted. Calibration, "
                    "quantization and conversion need the Keras/SavedModel source; Evaluate and Profile run on the file itself.")


class Page(QWidget):
    """One step of the wizard.

    Subclasses build their widgets in ``__init__``, refresh from the state in :meth:`on_enter`,
    and return False from :meth:`validate` (after saying why next to the field) to stop Next.
    """

    title = ""
    subtitle = ""

    def __init__(self, window: "MainWindow") -> None:
        super().__init__()
        self.window_ = window
        self.state = window.state
        self.body = QVBoxLayout(self)
        self.body.setContentsMargins(16, 12, 16, 12)
        heading = QLabel(f"<h2 style='margin:0'>{self.title}</h2><span>{self.subtitle}</span>")
        heading.setWordWrap(True)
        self.body.addWidget(heading)
        self.na_note = FieldMessage()  # why this step does not apply (see not_applicable)
        self.body.addWidget(self.na_note)

    # hooks
    def on_enter(self) -> None:
        """Called each time the page is shown."""

    def validate(self) -> bool:
        """Checks the page's input before moving on; says what is wrong next to the field."""
        return True

    def busy(self) -> bool:
        return False

    def not_applicable(self) -> str:
        """Why this step does not apply to the chosen model ('' when it does); Next/Back skip such steps."""
        return ""

    # helpers
    def run_job(self, name: str, target: Callable[..., Any], **handlers: Callable[..., Any]) -> Any:
        return self.window_.jobs.start(name, target, **handlers)

    def remember(self, key: str, value: str) -> None:
        self.window_.recent.add(key, value)

    def recent_combo(self, key: str, placeholder: str) -> QComboBox:
        """An editable combo box listing the recent values of ``key`` (paths, devices)."""
        box = QComboBox()
        box.setEditable(True)
        box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        box.addItems(self.window_.recent.get(key))
        box.setCurrentIndex(-1)
        box.lineEdit().setPlaceholderText(placeholder)
        box.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        box.setMinimumContentsLength(30)
        return box


def label_for(text: str, buddy: QWidget) -> QLabel:
    """A field label whose Alt+letter mnemonic focuses ``buddy`` (needed when the field is a layout)."""
    lab = QLabel(text)
    lab.setBuddy(buddy)
    return lab


def row(*widgets: QWidget, stretch_first: bool = True) -> QHBoxLayout:
    lay = QHBoxLayout()
    for i, w in enumerate(widgets):
        lay.addWidget(w, 1 if (i == 0 and stretch_first) else 0)
    if not stretch_first:
        lay.addStretch(1)
    return lay


class JobControls(QWidget):
    """Start/Cancel buttons, a status line and a log for a page's long job."""

    def __init__(self, start_text: str) -> None:
        from PySide6.QtWidgets import QPlainTextEdit, QPushButton

        super().__init__()
        self.start = QPushButton(start_text)
        self.cancel = QPushButton("&Cancel")
        self.cancel.setEnabled(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        self.log.setMaximumHeight(64)
        self.log.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.log.setVisible(False)  # shown with the first message: an empty box only takes room
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start)
        buttons.addWidget(self.cancel)
        buttons.addWidget(self.status, 1)
        lay.addLayout(buttons)
        lay.addWidget(self.log)
        self.job: Any = None

    def running(self, job: Any) -> None:
        self.job = job
        self.start.setEnabled(False)
        self.cancel.setEnabled(True)
        self.cancel.clicked.connect(self._cancel)

    def stopped(self, status: str) -> None:
        try:
            self.cancel.clicked.disconnect(self._cancel)
        except (RuntimeError, TypeError):
            pass
        self.job = None
        self.start.setEnabled(True)
        self.cancel.setEnabled(False)
        self.status.setText(status)

    def _cancel(self) -> None:
        if self.job is not None:
            self.job.cancel("cancelled by user")
            self.status.setText("cancelling…")

    @property
    def busy(self) -> bool:
        return self.job is not None

    def add_log(self, events: list) -> None:
        from edgeq.events import Log, LogLevel, Stage

        for ev in events:
            if isinstance(ev, Log) and ev.level != LogLevel.DEBUG:
                self.log.setVisible(True)
                self.log.appendPlainText(("warning: " if ev.level == LogLevel.WARNING else "") + ev.message)
            elif isinstance(ev, Stage):
                self.status.setText(ev.label or ev.name)
