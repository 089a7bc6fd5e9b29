"""The local transport: this host, through :mod:`subprocess` (no shell)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from pathlib import Path
from typing import Mapping

from edgeq.devices.transport import BaseTransport, CommandResult, LineQueue
from edgeq.errors import DeviceCommandFailed, RuntimeMissing


def _merged_env(env: Mapping[str, str] | None) -> dict[str, str]:
    out = dict(os.environ)
    if env:
        out.update(env)
    return out


class LocalProcess:
    """A child process of edgeq in its own session, so terminate() reaches its children too."""

    def __init__(self, argv: list[str], env: Mapping[str, str] | None) -> None:
        self.argv = tuple(argv)
        # stdin stays open: the runner watches it and exits (cleaning up) if edgeq dies.
        self._proc = subprocess.Popen(  # noqa: S603 - argv list, no shell
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_merged_env(env),
            start_new_session=True,
        )
        self._out = LineQueue(self._proc.stdout)  # type: ignore[arg-type]
        self._err: list[str] = []
        self._err_thread = threading.Thread(target=self._pump_err, daemon=True)
        self._err_thread.start()

    def _pump_err(self) -> None:
        assert self._proc.stderr is not None
        for raw in self._proc.stderr:
            self._err.append(raw.decode("utf-8", "replace"))

    def readline(self, timeout: float) -> str | None:
        return self._out.readline(timeout)

    def terminate(self) -> None:
        if self._proc.poll() is None:
            for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
                try:
                    os.killpg(self._proc.pid, sig)
                except (ProcessLookupError, PermissionError):
                    break
                try:
                    self._proc.wait(grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
        for stream in (self._proc.stdin,):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass

    def wait(self, timeout: float) -> CommandResult:
        try:
            code = self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.terminate()
            code = self._proc.wait(5)
        self._err_thread.join(2)
        rest = self._out.drain(1.0)
        try:
            if self._proc.stdin:
                self._proc.stdin.close()
        except OSError:
            pass
        return CommandResult(self.argv, code, "\n".join(rest), "".join(self._err))


class LocalTransport(BaseTransport):
    """Runs commands on this host; ``put``/``get`` are file copies."""

    kind = "local"

    def __init__(self, name: str = "local") -> None:
        super().__init__()
        self.label = f"device '{name}' (this host)"

    def run(self, argv: list[str], timeout: float | None = None, *, env: Mapping[str, str] | None = None) -> CommandResult:
        self.open()
        try:
            p = subprocess.run(  # noqa: S603 - argv list, no shell
                argv, capture_output=True, timeout=timeout, env=_merged_env(env), stdin=subprocess.DEVNULL
            )
        except FileNotFoundError as exc:
            return CommandResult(tuple(argv), 127, "", f"{argv[0]}: command not found ({exc.strerror})")
        except subprocess.TimeoutExpired:
            raise DeviceCommandFailed(
                f"'{argv[0]}' did not finish within {timeout:g} s on {self.label}",
                hint="raise command_timeout in the device profile if the device is just slow",
            ) from None
        return CommandResult(tuple(argv), p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"))

    def start(self, argv: list[str], *, env: Mapping[str, str] | None = None) -> LocalProcess:
        self.open()
        try:
            return LocalProcess(argv, env)
        except FileNotFoundError:
            raise RuntimeMissing(
                f"'{argv[0]}' was not found on {self.label}",
                hint="install Python 3 there, or set python = \"/path/to/python3\" in the device profile",
            ) from None

    def put(self, local: Path, remote: str) -> None:
        self.open()
        Path(remote).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(local, remote)

    def get(self, remote: str, local: Path) -> None:
        self.open()
        shutil.copyfile(remote, local)
