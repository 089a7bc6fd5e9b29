"""The main window: a list of steps beside a stack of pages, Back/Next, and the error bar.

A sidebar (instead of ``QWizard``) lets a user jump back to any finished step and keeps every
page reachable from the keyboard (Ctrl+PgUp/PgDown, Alt+B/Alt+N, Tab inside a page).
"""

from __future__ import annotations

import gc
from typing import Any, Callable

from PySide6.QtCore import QSettings, QSize
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QListWidget, QMainWindow, QMessageBox, QPushButton,
                               QScrollArea, QStackedWidget, QVBoxLayout, QWidget)

from edgeq.errors import EdgeqError
from edgeq.gui.errors import ErrorBar
from edgeq.gui.state import WizardState
from edgeq.gui.worker import Job

DEFAULT_SIZE = (1200, 720)  # fits a 1366x768 screen with a taskbar
MIN_SIZE = (900, 600)
_RECENT_MAX = 8


class RecentStore:
    """Recent models, folders and devices, kept in QSettings (most recent first)."""

    def __init__(self, settings: QSettings) -> None:
        self.settings = settings

    def get(self, key: str) -> list[str]:
        value = self.settings.value(f"recent/{key}", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or []) if v]

    def add(self, key: str, value: str) -> None:
        if not value:
            return
        items = [value] + [v for v in self.get(key) if v != value]
        self.settings.setValue(f"recent/{key}", items[:_RECENT_MAX])


class JobManager:
    """Starts jobs, routes their failures to the error bar, and knows what is still running."""

    def __init__(self, window: "MainWindow") -> None:
        self.window = window
        self.active: list[Job] = []

    def start(self, name: str, target: Callable[..., Any], *, on_events: Callable[[list], None] | None = None,
              on_done: Callable[[Any], None] | None = None, on_error: Callable[[BaseException], None] | None = None,
              on_cancel: Callable[[str], None] | None = None, on_finished: Callable[[], None] | None = None) -> Job:
        if not self.running:
            # Garbage is collected here, on the UI thread, while no job runs, and automatic
            # collection is off until the last job ends. Otherwise a collection can start on
            # another thread -- TensorFlow's converter calls gc.collect() itself -- and destroy
            # Qt objects (old plot items, widgets) off the UI thread, or a collection on the UI
            # thread can finalize TF objects while a converter thread holds TF's locks: both
            # deadlocked the window in tests. Only the young generations: they hold what the last
            # pages let go of, and a full collection with TensorFlow loaded froze the window for
            # ~190 ms at every Start. The old generation is collected by the automatic collector,
            # which only runs between jobs, on this thread.
            gc.collect(1)
            gc.disable()
        job = Job(name, target, parent=self.window)
        if on_events:
            job.events.connect(on_events)
        if on_done:
            job.succeeded.connect(on_done)
        job.failed.connect(lambda exc: self._failed(job, exc, on_error))
        job.cancelled.connect(lambda why: self.window.statusBar().showMessage(f"{name}: {why}", 8000))
        if on_cancel:
            job.cancelled.connect(on_cancel)
        job.finished.connect(lambda: self._finished(job, on_finished))
        self.active.append(job)
        self.window.statusBar().showMessage(f"{name}…")
        return job.start()

    def _failed(self, job: Job, exc: BaseException, handler: Callable[[BaseException], None] | None) -> None:
        if handler is not None:
            try:
                handler(exc)
            except Exception as inner:  # noqa: BLE001 - a bad handler must not hide the first error
                self.window.errors.show_error(inner)
        self.window.errors.show_error(exc, context=job.name)

    def _finished(self, job: Job, handler: Callable[[], None] | None) -> None:
        if job in self.active:
            self.active.remove(job)
        job.dispose()
        if not self.running:
            gc.enable()
        if handler is not None:
            handler()
        if not self.active:
            self.window.statusBar().showMessage(f"{job.name}: finished", 5000)

    @property
    def running(self) -> bool:
        return any(j.running for j in self.active)

    def cancel_all(self, reason: str = "the window is closing") -> None:
        for job in list(self.active):
            job.cancel(reason)

    def wait_all(self, ms: int = 60000) -> bool:
        done = all(job.wait(ms) for job in list(self.active))
        if not self.running:
            gc.enable()  # the finished signals may never be delivered if the window goes away
        return done


class MainWindow(QMainWindow):
    """The edgeq wizard window."""

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("edgeq — take a vision model to the edge")
        self.settings = settings or QSettings("edgeq", "edgeq")
        self.recent = RecentStore(self.settings)
        self.state = WizardState()
        self.jobs = JobManager(self)
        self.errors = ErrorBar()
        # Tests replace this to answer the "a job is running" question without a dialog.
        self.confirm: Callable[[str, str], bool] = self._ask
        from edgeq.gui.calibration_page import CalibrationPage
        from edgeq.gui.convert_page import ConvertPage
        from edgeq.gui.evaluate_page import EvaluatePage
        from edgeq.gui.model_page import ModelPage
        from edgeq.gui.profile_page import ProfilePage
        from edgeq.gui.quantization_page import QuantizationPage
        from edgeq.gui.report_page import ReportPage

        self.pages = [cls(self) for cls in (ModelPage, CalibrationPage, QuantizationPage, ConvertPage,
                                            EvaluatePage, ProfilePage, ReportPage)]
        self.steps = QListWidget()
        self.steps.setObjectName("steps")
        self.stack = QStackedWidget()
        for i, page in enumerate(self.pages):
            self.steps.addItem(f"{i + 1}. {page.title}")
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QScrollArea.Shape.NoFrame)
            scroll.setWidget(page)
            self.stack.addWidget(scroll)
        self.steps.setFixedWidth(170)
        self.steps.currentRowChanged.connect(self._show_page)
        self.back = QPushButton("&Back")
        self.next = QPushButton("&Next")
        self.next.setDefault(True)
        self.back.clicked.connect(self.go_back)
        self.next.clicked.connect(self.go_next)
        nav = QHBoxLayout()
        nav.addStretch(1)
        nav.addWidget(self.back)
        nav.addWidget(self.next)
        right = QVBoxLayout()
        right.addWidget(self.stack, 1)
        right.addWidget(self.errors)
        right.addLayout(nav)
        outer = QHBoxLayout()
        outer.addWidget(self.steps)
        outer.addLayout(right, 1)
        central = QWidget()
        central.setLayout(outer)
        self.setCentralWidget(central)
        self._menus()
        self.resize(*DEFAULT_SIZE)
        self.setMinimumSize(*MIN_SIZE)
        self._restore_geometry()
        self.current = -1
        self.steps.setCurrentRow(0)

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        for text, key, slot in (("&Open recipe…", QKeySequence.StandardKey.Open, self.open_recipe_dialog),
                                ("&Save recipe…", QKeySequence.StandardKey.Save, self.save_recipe_dialog),
                                ("&Quit", QKeySequence.StandardKey.Quit, self.close)):
            act = QAction(text, self)
            act.setShortcut(key)
            act.triggered.connect(slot)
            file_menu.addAction(act)
        go = self.menuBar().addMenu("&Go")
        for text, key, step in (("Previous step", "Ctrl+PgUp", -1), ("Next step", "Ctrl+PgDown", 1)):
            act = QAction(text, self)
            act.setShortcut(QKeySequence(key))
            act.triggered.connect(lambda _=False, s=step: self.go_back() if s < 0 else self.go_next())
            go.addAction(act)

    def _restore_geometry(self) -> None:
        geometry, size = self.settings.value("window/geometry"), self.settings.value("window/size")
        if geometry is not None:
            self.restoreGeometry(geometry)  # position, maximized state, screen
        if isinstance(size, QSize) and size.isValid():
            # restoreGeometry shrinks to the screen it finds; re-apply the size, bounded by a screen
            # that is large enough to matter (a laptop after a bigger monitor).
            avail = self.screen().availableGeometry().size() if self.screen() else size
            if avail.width() >= MIN_SIZE[0] and avail.height() >= MIN_SIZE[1]:
                size = size.boundedTo(avail)
            if not self.isMaximized():
                self.resize(size)

    # navigation
    def page(self, cls_name: str) -> Any:
        return next(p for p in self.pages if type(p).__name__ == cls_name)

    def go(self, index: int) -> None:
        if 0 <= index < len(self.pages):
            self.steps.setCurrentRow(index)

    def _step(self, start: int, direction: int) -> int:
        """The nearest step from ``start`` in ``direction`` that applies (or the adjacent one if none does)."""
        i = start + direction
        while 0 <= i < len(self.pages) and self.pages[i].not_applicable():
            i += direction
        return i if 0 <= i < len(self.pages) else start + direction

    def go_back(self) -> None:
        self.go(self._step(self.current, -1))

    def go_next(self) -> bool:
        """Validates the current page and moves on; False (and the page says why) when it is not ready.

        Steps that do not apply to the chosen model (see ``Page.not_applicable``) are skipped.
        """
        page = self.pages[self.current]
        if not page.not_applicable() and not page.validate():
            return False
        self.go(self._step(self.current, 1))
        return True

    def refresh_steps(self) -> None:
        """Marks the steps that do not apply to the chosen model, in the list and on the pages."""
        for i, page in enumerate(self.pages):
            reason = page.not_applicable()
            self.steps.item(i).setText(f"{i + 1}. {page.title}" + (" (n/a)" if reason else ""))
            self.steps.item(i).setToolTip(reason)
            if reason:
                page.na_note.warn(reason)
            else:
                page.na_note.clear()

    def _show_page(self, index: int) -> None:
        self.current = index
        self.stack.setCurrentIndex(index)
        self.back.setEnabled(index > 0)
        self.next.setEnabled(index < len(self.pages) - 1)
        self.refresh_steps()
        self.pages[index].on_enter()

    # recipes
    def open_recipe(self, path: str) -> bool:
        """Loads a recipe into every page; a bad recipe is explained in the error bar."""
        from edgeq.recipes import load

        try:
            recipe = load(path)
            self.state.apply_recipe(recipe)
        except EdgeqError as exc:
            self.errors.show_error(exc, context="open recipe")
            return False
        self.recent.add("recipes", path)
        for page in self.pages:
            reload = getattr(page, "load_state", None)
            if reload:
                reload()
        self.errors.clear()
        self.refresh_steps()
        self.statusBar().showMessage(f"loaded recipe {path}", 8000)
        self.go(0)
        return True

    def open_recipe_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open recipe", "", "edgeq recipes (*.toml);;All files (*)")
        if path:
            self.open_recipe(path)

    def save_recipe_dialog(self) -> None:
        self.go(len(self.pages) - 1)
        self.pages[-1].save_recipe_dialog()

    # closing
    def _ask(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if self.jobs.running:
            names = ", ".join(j.name for j in self.jobs.active)
            if not self.confirm("A job is running",
                                f"{names} is still running. Cancel it and close? Results written so far are kept."):
                event.ignore()
                return
            self.jobs.cancel_all()
            self.jobs.wait_all()
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/size", self.size())
        self.settings.sync()
        event.accept()
