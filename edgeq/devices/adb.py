"""The adb transport: runs the ``adb`` executable (``-s SERIAL shell/push/pull``).

The device is chosen the way adb users expect: the profile's serial, else the only connected
device. ``adb devices`` states that stop a run (none, several without a serial, unauthorized,
offline, no permissions) become one clear error each, naming what to do on the phone or host.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from edgeq.devices.profiles import AdbSettings
from edgeq.devices.transport import BaseTransport, CommandResult, LineQueue, PidMarkedOutput, env_argv, pid_wrapped
from edgeq.errors import DeviceCommandFailed, DeviceUnreachable


@dataclass(frozen=True)
class AdbDevice:
    serial: str
    state: str
    details: str = ""


def find_adb(settings: AdbSettings | None = None) -> str:
    """The adb executable: profile ``adb.adb_path``, then ``$EDGEQ_ADB``, then ``adb`` on PATH.

    Raises:
        DeviceUnreachable: no adb could be found.
    """
    for cand in ((settings.adb_path if settings else ""), os.environ.get("EDGEQ_ADB", "")):
        if cand:
            path = shutil.which(os.path.expanduser(cand))
            if path is None:
                raise DeviceUnreachable(f"adb executable {cand} not found or not executable", hint="fix adb.adb_path in the profile or $EDGEQ_ADB")
            return path
    path = shutil.which("adb")
    if path is None:
        raise DeviceUnreachable(
            "adb is not installed on this host", hint="install Android platform-tools (e.g. apt install adb) or set $EDGEQ_ADB to its path"
        )
    return path


def parse_devices(text: str) -> list[AdbDevice]:
    """``adb devices [-l]`` output into devices (daemon start-up chatter is skipped)."""
    devs: list[AdbDevice] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith(("List of devices", "*", "adb server", "adb: ")):
            continue
        parts = line.split(None, 1)
        if len(parts) < 2:
            continue
        serial, rest = parts
        # "no permissions (…)" is a two-word state; the rest of a -l line is key:value details.
        if rest.startswith("no permissions"):
            state, details = "no permissions", rest[len("no permissions"):].strip()
        else:
            state, _, details = rest.partition(" ")
        devs.append(AdbDevice(serial, state.strip(), details.strip()))
    return devs


def choose_device(devs: list[AdbDevice], serial: str) -> AdbDevice:
    """The device to use, or the error that explains why none can be used.

    Raises:
        DeviceUnreachable: none connected; serial not connected; several and no serial; or the
            chosen one is unauthorized, offline or lacks permissions.
    """
    if not devs:
        raise DeviceUnreachable(
            "no Android device is connected (adb devices lists none)",
            hint="connect the phone by USB with USB debugging on (Settings > Developer options), or run 'adb connect HOST:PORT'",
        )
    if serial:
        match = [d for d in devs if d.serial == serial]
        if not match:
            raise DeviceUnreachable(
                f"Android device {serial} is not connected; connected: {', '.join(d.serial for d in devs)}",
                hint="plug it in, or fix adb.serial in the device profile",
            )
        dev = match[0]
    elif len(devs) > 1:
        raise DeviceUnreachable(
            f"several Android devices are connected ({', '.join(d.serial for d in devs)}) and the profile names no serial",
            hint=f'set serial = "{devs[0].serial}" (one of those) under [adb] in a device profile',
        )
    else:
        dev = devs[0]
    if dev.state == "device":
        return dev
    if dev.state == "unauthorized":
        raise DeviceUnreachable(
            f"Android device {dev.serial} has not authorized this computer",
            hint="unlock the phone and accept the 'Allow USB debugging?' prompt (tick 'Always allow'), then run again",
        )
    if dev.state == "offline":
        raise DeviceUnreachable(
            f"Android device {dev.serial} is offline",
            hint="reconnect the cable or run 'adb reconnect offline' (or 'adb kill-server'), then check 'adb devices'",
        )
    if dev.state == "no permissions":
        raise DeviceUnreachable(
            f"no permission to open USB device {dev.serial} {dev.details}".strip(),
            hint="add a udev rule for the phone (or your user to the plugdev group), replug it, and run 'adb kill-server'",
        )
    raise DeviceUnreachable(f"Android device {dev.serial} is in state '{dev.state}', not ready", hint="boot it normally and check 'adb devices'")


class AdbProcess(PidMarkedOutput):
    """``adb shell`` running a long command; the PID it prints first lets terminate() kill it."""

    def __init__(self, owner: "AdbTransport", argv: list[str]) -> None:
        self._owner = owner
        self.argv = tuple(argv)
        self.pid: int | None = None
        cmd = [*owner.base_argv(), "shell", shlex.join(pid_wrapped(argv))]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)  # noqa: S603
        self._out = LineQueue(self._proc.stdout, on_line=self._pid_line)  # type: ignore[arg-type]
        self._err: list[str] = []
        self._t = threading.Thread(target=lambda: self._err.extend(b.decode("utf-8", "replace") for b in self._proc.stderr), daemon=True)  # type: ignore[union-attr]
        self._t.start()

    def readline(self, timeout: float) -> str | None:
        return self._out.readline(timeout)

    def terminate(self) -> None:
        if self._proc.poll() is None and self.pid is not None:
            try:
                self._owner.run(["kill", "-9", str(self.pid)], timeout=10)
            except (DeviceUnreachable, DeviceCommandFailed):
                pass
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait(5)

    def wait(self, timeout: float) -> CommandResult:
        try:
            code = self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.terminate()
            code = self._proc.returncode
        self._t.join(2)
        rest = self._out.drain(1.0)
        err = "".join(self._err)
        if code != 0 and ("device offline" in err or "no devices" in err or "not found" in err and "device" in err):
            raise DeviceUnreachable(f"the Android device of {self._owner.label} went away during the run: {err.strip()}", hint="reconnect it and run again")
        return CommandResult(self.argv, code, "\n".join(rest), err)


class AdbTransport(BaseTransport):
    """Commands via ``adb shell`` (through the device's sh), files via ``adb push/pull``."""

    kind = "adb"

    def __init__(self, settings: AdbSettings, name: str = "android") -> None:
        super().__init__()
        self.settings = settings
        self.name = name
        self.label = f"device '{name}' (adb)"
        self.adb = ""
        self.serial = settings.serial

    def base_argv(self) -> list[str]:
        return [self.adb, "-s", self.serial] if self.serial else [self.adb]

    def _adb(self, args: list[str], timeout: float | None) -> subprocess.CompletedProcess[bytes]:
        try:
            return subprocess.run([*self.base_argv(), *args], capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)  # noqa: S603
        except subprocess.TimeoutExpired:
            raise DeviceCommandFailed(f"adb {args[0]} did not finish within {timeout:g} s on {self.label}", hint="check the USB connection; raise command_timeout in the profile") from None

    def _connect(self) -> None:
        self.adb = find_adb(self.settings)
        p = subprocess.run([self.adb, "devices", "-l"], capture_output=True, timeout=60, stdin=subprocess.DEVNULL)  # noqa: S603
        if p.returncode != 0:
            raise DeviceUnreachable(f"'adb devices' failed: {p.stderr.decode(errors='replace').strip()}", hint="run 'adb kill-server' and try again")
        dev = choose_device(parse_devices(p.stdout.decode("utf-8", "replace")), self.settings.serial)
        self.serial = dev.serial
        self.label = f"device '{self.name}' (adb {dev.serial})"

    def run(self, argv: list[str], timeout: float | None = None, *, env: Mapping[str, str] | None = None) -> CommandResult:
        self.open()
        p = self._adb(["shell", shlex.join(env_argv(argv, env))], timeout)
        err = p.stderr.decode("utf-8", "replace")
        if p.returncode != 0 and err.startswith("adb: ") and ("offline" in err or "not found" in err or "no devices" in err):
            raise DeviceUnreachable(f"lost the Android device of {self.label}: {err.strip()}", hint="reconnect it and check 'adb devices'")
        return CommandResult(tuple(argv), p.returncode, p.stdout.decode("utf-8", "replace"), err)

    def start(self, argv: list[str], *, env: Mapping[str, str] | None = None) -> AdbProcess:
        self.open()
        return AdbProcess(self, env_argv(argv, env))

    def put(self, local: Path, remote: str) -> None:
        self.open()
        p = self._adb(["push", str(local), remote], 600)
        if p.returncode != 0:
            raise DeviceCommandFailed(
                f"adb push of {Path(local).name} to {remote} failed: {p.stderr.decode(errors='replace').strip()}",
                hint="check free space and adb.remote_dir in the profile",
            )

    def get(self, remote: str, local: Path) -> None:
        self.open()
        p = self._adb(["pull", remote, str(local)], 600)
        if p.returncode != 0:
            raise DeviceCommandFailed(f"adb pull of {remote} failed: {p.stderr.decode(errors='replace').strip()}",
                                      hint=f"check the phone is still connected ('adb devices') and run 'edgeq devices check {self.name}'")
