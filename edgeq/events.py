"""Typed events yielded by every long job, and the cancel token they honour.

Both front ends consume the same generators: the CLI drives a rich progress bar, the GUI
re-emits each event as a Qt signal from a worker thread. The core never prints.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass, field
from typing import Any, Generic, Iterator, TypeVar, Union

from edgeq.errors import Cancelled

T = TypeVar("T")


class CancelToken:
    """A thread-safe flag a front end sets to stop a job at its next checkpoint."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""
        self.written: list[Any] = []  # result documents the job wrote (paths), for front ends to name after a stop

    def wrote(self, path: Any) -> None:
        """Records a result document the job has written (a stopped generator cannot return it)."""
        self.written.append(path)

    def cancel(self, reason: str = "cancelled by user") -> None:
        self.reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raises :class:`edgeq.errors.Cancelled` when cancel() was called."""
        if self._event.is_set():
            raise Cancelled(self.reason)

    def wait(self, seconds: float) -> bool:
        """Sleeps up to ``seconds``; returns True early if cancelled."""
        return self._event.wait(seconds)


@dataclass(frozen=True)
class Stage:
    """A named step has started (``name`` is machine-readable, ``label`` for people)."""

    name: str
    label: str = ""
    total: int | None = None
    variant: str | None = None


@dataclass(frozen=True)
class Progress:
    """``done`` of ``total`` units of the current stage are finished."""

    stage: str
    done: int
    total: int | None = None
    variant: str | None = None


class LogLevel(enum.StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"


@dataclass(frozen=True)
class Log:
    """A message for the user; warnings are also collected into results."""

    message: str
    level: LogLevel = LogLevel.INFO
    code: str = ""


class RunType(enum.StrEnum):
    WARMUP = "warmup"
    REGULAR = "regular"


@dataclass(frozen=True)
class Samples:
    """Consecutive timed inferences: run ``first_index + k`` took ``latencies_us[k]`` µs.

    benchmark_model's per-run listener, delivered in batches (the runner packs about 20 ms of
    runs per line), so a model that runs 75 000 times a second costs the host a few events a
    second, not one per run.
    """

    run_type: RunType
    first_index: int
    latencies_us: tuple[float, ...]
    variant: str = ""
    device: str = ""

    @property
    def end(self) -> int:
        """One past the index of the last run in the batch."""
        return self.first_index + len(self.latencies_us)


@dataclass(frozen=True)
class Metric:
    """A running metric value (e.g. top-1 so far) for live plots."""

    name: str
    value: float
    count: int
    variant: str = ""
    device: str = ""


@dataclass(frozen=True)
class VariantDone:
    """One variant of a multi-variant job finished (ok or failed); ``record`` is its JSON record."""

    variant: str
    ok: bool
    record: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Done(Generic[T]):
    """The job finished; ``result`` is its result object (has ``to_dict()``)."""

    result: T


Event = Union[Stage, Progress, Log, Samples, Metric, VariantDone, Done]


def drain(events: Iterator[Event]) -> Any:
    """Runs a job to completion, ignoring intermediate events; returns Done.result."""
    result = None
    for ev in events:
        if isinstance(ev, Done):
            result = ev.result
    return result
