"""Runs edgeq.api jobs off the UI thread and hands their events to the UI as Qt signals.

A job is either an event generator (convert, evaluate, profile, check) or a plain call
(inspect a model, compute a preview). The worker thread iterates the generator and emits the
events in small batches: a profile streams thousands of samples a second, and one queued
signal per batch keeps the UI thread's queue short while adding at most ~15 ms of latency.
Cancel sets the job's :class:`CancelToken` and closes the generator, so its ``finally`` blocks
keep partial results (napari's ``GeneratorWorker`` + ``cancelable_progress`` do the same).
"""

from __future__ import annotations

import time
import traceback
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from PySide6.QtCore import QObject, QThread, Signal

from edgeq.errors import Cancelled
from edgeq.events import CancelToken, Done, Event, Samples

_BATCH_SECONDS = 0.015


@dataclass(frozen=True)
class SampleBlock:
    """Consecutive samples of one series, packed into arrays by the worker thread.

    A local profile of a small model yields tens of thousands of samples a second; packing
    them off the UI thread leaves the UI one array append per series and batch.
    """

    variant: str
    device: str
    run_type: str
    index: np.ndarray
    latency_us: np.ndarray


def pack_samples(batches: list[Samples]) -> list[SampleBlock]:
    """Groups batches by (variant, device, run type), keeping their order within each group."""
    groups: dict[tuple[str, str, str], list[Samples]] = {}
    for b in batches:
        groups.setdefault((b.variant, b.device, str(b.run_type)), []).append(b)
    return [SampleBlock(v, d, r,
                        np.concatenate([np.arange(b.first_index, b.end, dtype=np.int64) for b in bs]),
                        np.concatenate([np.asarray(b.latencies_us, dtype=np.float64) for b in bs]))
            for (v, d, r), bs in groups.items()]


class _Thread(QThread):
    events = Signal(object)
    succeeded = Signal(object)
    failed = Signal(object)
    cancelled = Signal(str)

    def __init__(self, target: Callable[[CancelToken], Any], cancel: CancelToken) -> None:
        super().__init__()
        self._target = target
        self._cancel = cancel

    def run(self) -> None:  # the worker thread
        try:
            produced = self._target(self._cancel)
            if isinstance(produced, Iterator):
                result = self._iterate(produced)
            else:
                result = produced
            if self._cancel.cancelled:
                self.cancelled.emit(self._cancel.reason or "cancelled")
            else:
                self.succeeded.emit(result)
        except Cancelled as exc:
            self.cancelled.emit(exc.message)
        except BaseException as exc:  # noqa: BLE001 - every failure goes to the one error sink
            exc.__traceback_text__ = traceback.format_exc()  # type: ignore[attr-defined]
            if self._cancel.cancelled:
                self.cancelled.emit(self._cancel.reason or "cancelled")
            else:
                self.failed.emit(exc)

    def _iterate(self, gen: Iterator[Event]) -> Any:
        result = None
        samples: list[Samples] = []
        last = time.monotonic()
        try:
            for ev in gen:
                if isinstance(ev, Done):
                    result = ev.result
                    continue
                if isinstance(ev, Samples):
                    samples.append(ev)
                    if time.monotonic() - last >= _BATCH_SECONDS:
                        self.events.emit(pack_samples(samples))
                        samples, last = [], time.monotonic()
                else:  # a stage, a log line, a metric: at once, after the samples before it
                    self.events.emit([*pack_samples(samples), ev])
                    samples, last = [], time.monotonic()
                if self._cancel.cancelled:
                    break
        finally:
            if samples:
                self.events.emit(pack_samples(samples))
            gen.close()
        return result


class Job(QObject):
    """One job in a worker thread.

    Signals:
        events(list): a batch of events, in order.
        succeeded(object): the job's result (``Done.result`` or the call's return value).
        failed(object): the exception that ended the job (goes to the error sink).
        cancelled(str): the job stopped because :meth:`cancel` was called.
        finished(): after any of the three above.
    """

    events = Signal(object)
    succeeded = Signal(object)
    failed = Signal(object)
    cancelled = Signal(str)
    finished = Signal()

    def __init__(self, name: str, target: Callable[[CancelToken], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.token = CancelToken()
        self._thread = _Thread(target, self.token)
        self._thread.events.connect(self.events)
        self._thread.succeeded.connect(self.succeeded)
        self._thread.failed.connect(self.failed)
        self._thread.cancelled.connect(self.cancelled)
        self._thread.finished.connect(self._on_finished)
        self._done = False

    def start(self) -> "Job":
        self._thread.start()
        return self

    def cancel(self, reason: str = "cancelled by user") -> None:
        self.token.cancel(reason)

    @property
    def running(self) -> bool:
        # The thread's own state, not the queued finished signal: closeEvent asks right after wait().
        try:
            return self._thread.isRunning()
        except RuntimeError:  # already disposed: it finished
            return False

    def wait(self, ms: int = 30000) -> bool:
        """Blocks until the thread ends (used when the window closes)."""
        try:
            return self._thread.wait(ms)
        except RuntimeError:  # already disposed: it finished
            return True

    def _on_finished(self) -> None:
        self._done = True
        self.finished.emit()

    def dispose(self) -> None:
        """Disconnects everything and deletes the Qt objects on the UI thread.

        The lambdas connected to a job refer back to it; left to the cycle collector, the
        QThread/QObject could be destroyed by whichever thread collects next.
        """
        with warnings.catch_warnings():  # PySide warns when a signal had no connection
            warnings.simplefilter("ignore", RuntimeWarning)
            for sig in (self.events, self.succeeded, self.failed, self.cancelled, self.finished):
                try:
                    sig.disconnect()
                except (RuntimeError, TypeError):
                    pass
        self._thread.deleteLater()
        self.deleteLater()
