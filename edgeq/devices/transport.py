"""One way to run commands and move files on a device, whatever connects us to it.

``local``, ``ssh`` and ``adb`` implement :class:`Transport` (the fabric shape: ``run()`` returns
a :class:`CommandResult` with argv, exit status, stdout and stderr). Commands are argv lists;
where a shell is unavoidable (ssh, adb shell) they are quoted with :func:`shlex.join`, never
pasted from user text. Long commands (the runner, ``benchmark_model``) are started with
``start()`` and their stdout is read line by line, so samples stream while they are measured.
"""

from __future__ import annotations

import queue
import shlex
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Mapping, Protocol, runtime_checkable

from edgeq.errors import DeviceCommandFailed

# The shell wrapper used by remote start(): prints the PID first so cancel can kill the process
# over a second channel (closing an SSH channel does not signal a process without a pty).
PID_MARK = "edgeq-pid"
_PID_WRAPPER = f'echo "{PID_MARK} $$"; exec "$@"'


@dataclass(frozen=True)
class CommandResult:
    """What a finished command left behind (fabric's ``Result``)."""

    argv: tuple[str, ...]
    exited: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exited == 0

    def tail(self, lines: int = 5) -> str:
        """The last lines of stderr (or stdout), for error messages."""
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return " | ".join(text[-lines:])


@runtime_checkable
class RemoteProcess(Protocol):
    """A command still running on the device."""

    def readline(self, timeout: float) -> str | None:
        """The next stdout line (without newline); None if none arrived within ``timeout``.

        Raises:
            EOFError: stdout is closed (the process ended or the connection dropped).
        """

    def terminate(self) -> None:
        """Stops the process (TERM, then KILL) and releases the channel; safe to call twice."""

    def wait(self, timeout: float) -> CommandResult:
        """Waits for the exit; the result holds the exit code and the collected stderr.

        Raises:
            DeviceUnreachable: the connection dropped before an exit status arrived.
        """


@runtime_checkable
class Transport(Protocol):
    """The one transport API over local, SSH and adb devices."""

    kind: str
    label: str

    def open(self) -> None: ...

    def run(self, argv: list[str], timeout: float | None = None, *, env: Mapping[str, str] | None = None) -> CommandResult: ...

    def start(self, argv: list[str], *, env: Mapping[str, str] | None = None) -> RemoteProcess: ...

    def put(self, local: Path, remote: str) -> None: ...

    def get(self, remote: str, local: Path) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> "Transport": ...

    def __exit__(self, *exc: Any) -> None: ...


class BaseTransport:
    """Lazy opening and the context manager, shared by the implementations."""

    kind = "base"
    label = ""

    def __init__(self) -> None:
        self._opened = False
        self._lock = threading.RLock()

    def _connect(self) -> None:  # pragma: no cover - overridden
        pass

    def _disconnect(self) -> None:  # pragma: no cover - overridden
        pass

    def open(self) -> None:
        """Connects now (otherwise the first command connects)."""
        with self._lock:
            if not self._opened:
                self._connect()
                self._opened = True

    def close(self) -> None:
        with self._lock:
            if self._opened:
                self._opened = False
                self._disconnect()

    def __enter__(self) -> "BaseTransport":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def check(self, result: CommandResult, what: str, hint: str = "") -> CommandResult:
        """Raises :class:`DeviceCommandFailed` (carrying ``result``) unless the command succeeded."""
        if not result.ok:
            raise DeviceCommandFailed(
                f"{what} failed on {self.label} (exit {result.exited}): {result.tail() or 'no output'}",
                result=result,
                hint=hint or f"run it by hand on the device to see why: {shlex.join(result.argv)}",
            )
        return result


def env_argv(argv: list[str], env: Mapping[str, str] | None) -> list[str]:
    """Prefixes ``env K=V …`` so a remote shell gets the variables without any string pasting."""
    if not env:
        return list(argv)
    return ["env", *[f"{k}={v}" for k, v in env.items()], *argv]


def pid_wrapped(argv: list[str]) -> list[str]:
    """``sh -c 'echo edgeq-pid $$; exec "$@"' sh ARGV…``: the command, announcing its PID first."""
    return ["sh", "-c", _PID_WRAPPER, "sh", *argv]


class PidMarkedOutput:
    """Mixin for remote processes started through :func:`pid_wrapped`: the wrapper's first line
    carries the remote PID (needed to kill it on cancel) and is not passed on as output."""

    pid: int | None = None

    def _pid_line(self, line: str) -> bool:
        if self.pid is None and line.startswith(PID_MARK + " "):
            try:
                self.pid = int(line.split()[1])
            except ValueError:
                pass
            return False
        return True


class LineQueue:
    """Reads a byte stream on a daemon thread into a queue of text lines (one per call)."""

    _EOF = object()

    def __init__(self, stream: IO[bytes] | Iterable[bytes], *, on_line: Callable[[str], None] | None = None) -> None:
        self._q: queue.Queue[Any] = queue.Queue()
        self._on_line = on_line
        self._eof = False
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: Any) -> None:
        try:
            for raw in stream:
                line = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
                line = line.rstrip("\r\n")
                if self._on_line is not None and self._on_line(line) is False:
                    continue
                self._q.put(line)
        except Exception:  # noqa: BLE001 - a dropped connection ends the stream like EOF
            pass
        finally:
            self._q.put(self._EOF)

    def readline(self, timeout: float) -> str | None:
        if self._eof:
            raise EOFError
        try:
            item = self._q.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None
        if item is self._EOF:
            self._eof = True
            raise EOFError
        return item

    def drain(self, timeout: float = 2.0) -> list[str]:
        """All remaining lines until EOF (or ``timeout`` seconds)."""
        out: list[str] = []
        deadline = time.monotonic() + timeout
        while not self._eof and time.monotonic() < deadline:
            try:
                line = self.readline(min(0.1, max(deadline - time.monotonic(), 0.0)))
            except EOFError:
                break
            if line is not None:
                out.append(line)
        return out
