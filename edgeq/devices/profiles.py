"""Device profiles: where a model runs and with which settings, loaded from TOML into frozen dataclasses.

Built-in profiles ship in the ``edgeq.device_profiles`` package (``device_profiles/*.toml``);
users add or override them in ``~/.config/edgeq/devices/`` (``EDGEQ_DEVICES_DIR`` overrides the
folder, which the tests use). Every key is checked: an unknown key or a wrong type is an error
naming the file and the key, because a typo such as ``thread = 4`` would otherwise silently
benchmark with the default and record wrong settings.
"""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path, PurePosixPath
from typing import Any, Mapping

from edgeq.errors import InputError, ProfileInvalid

SCHEMA_VERSION = 1
TRANSPORTS = ("local", "ssh", "adb")
RUNTIMES = ("ai_edge_litert", "tflite_runtime")
# gpu and nnapi exist only in Android's benchmark_model; the Python runner knows the first four.
DELEGATES = ("none", "xnnpack", "edgetpu", "external", "gpu", "nnapi")
EDGETPU_LIBRARY = "libedgetpu.so.1"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def user_devices_dir() -> Path:
    """The folder of the user's own profiles (``EDGEQ_DEVICES_DIR`` or ``~/.config/edgeq/devices``)."""
    env = os.environ.get("EDGEQ_DEVICES_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "edgeq" / "devices"


@dataclass(frozen=True)
class SshSettings:
    """How to reach an SSH device; unset fields come from ``~/.ssh/config`` then OpenSSH defaults."""

    host: str
    user: str = ""
    port: int = 0  # 0: from ssh config, else 22
    key_file: str = ""
    known_hosts: str = ""  # default ~/.ssh/known_hosts (or UserKnownHostsFile from ssh config)
    config_file: str = ""  # default ~/.ssh/config
    connect_timeout: float = 10.0
    keepalive: float = 5.0


@dataclass(frozen=True)
class AdbSettings:
    """How to reach an Android device and which ``benchmark_model`` binary to push to it."""

    serial: str = ""
    adb_path: str = ""  # default: $EDGEQ_ADB, then `adb` on PATH
    benchmark_model: str = ""  # host path of an Android benchmark_model binary (arm64 build)
    remote_dir: str = "/data/local/tmp"


@dataclass(frozen=True)
class Expectations:
    """What a model must be to make sense on this device (checked before anything is pushed)."""

    full_integer: bool = False
    edgetpu_compiled: bool = False
    note: str = ""


@dataclass(frozen=True)
class DeviceProfile:
    """One device: transport, connection, runtime and the settings that change its numbers."""

    name: str
    transport: str
    description: str = ""
    work_dir: str = "/tmp"
    python: str = "python3"
    runtime: str = "ai_edge_litert"
    delegate: str = "xnnpack"
    delegate_path: str = ""
    delegate_options: Mapping[str, str] = field(default_factory=dict)
    threads: int = 1
    affinity: tuple[int, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    command_timeout: float = 60.0  # one setup command (mktemp, push, probe)
    run_timeout: float = 120.0  # longest silence while benchmarking (model load, one inference)
    ssh: SshSettings | None = None
    adb: AdbSettings | None = None
    expect: Expectations = field(default_factory=Expectations)
    schema_version: int = SCHEMA_VERSION
    source: str = "<memory>"  # the file it came from (not a TOML key)
    builtin: bool = False  # not a TOML key

    def __post_init__(self) -> None:
        where = self.source

        def bad(key: str, why: str, hint: str = "") -> ProfileInvalid:
            return ProfileInvalid(f"{where}: key '{key}': {why}", hint=hint or f"fix '{key}' in {where} (see docs/devices.md)")

        if not _NAME.match(self.name):
            raise bad("name", f"{self.name!r} is not a valid device name", "use lowercase letters, digits, '.', '_' or '-'")
        if self.transport not in TRANSPORTS:
            raise bad("transport", f"{self.transport!r} is not one of {', '.join(TRANSPORTS)}")
        if self.runtime not in RUNTIMES:
            raise bad("runtime", f"{self.runtime!r} is not one of {', '.join(RUNTIMES)}")
        if self.delegate not in DELEGATES:
            raise bad("delegate", f"{self.delegate!r} is not one of {', '.join(DELEGATES)}")
        if self.delegate in ("gpu", "nnapi") and self.transport != "adb":
            raise bad("delegate", f"'{self.delegate}' is only available on Android (transport = \"adb\")")
        if self.delegate == "external" and not self.delegate_path:
            raise bad("delegate_path", "delegate = \"external\" needs the delegate library's path on the device")
        if self.threads < 1 or self.threads > 256:
            raise bad("threads", f"must be between 1 and 256, got {self.threads}")
        if any(c < 0 for c in self.affinity):
            raise bad("affinity", "CPU numbers must be >= 0")
        if not PurePosixPath(self.work_dir).is_absolute():
            raise bad("work_dir", f"must be an absolute path on the device, got {self.work_dir!r}")
        if not self.python.strip() and self.transport != "local":
            raise bad("python", "must name the Python command on the device (\"\" means edgeq's own Python, local devices only)")
        for key in ("command_timeout", "run_timeout"):
            if getattr(self, key) <= 0:
                raise bad(key, "must be a positive number of seconds")
        if self.transport == "ssh":
            if self.ssh is None or not self.ssh.host:
                raise bad("ssh.host", "transport = \"ssh\" needs an [ssh] table with host (an alias from ~/.ssh/config or a host name)")
            if not 0 <= self.ssh.port <= 65535:
                raise bad("ssh.port", f"{self.ssh.port} is not a TCP port")
            if self.ssh.connect_timeout <= 0:
                raise bad("ssh.connect_timeout", "must be a positive number of seconds")
        if self.transport == "adb" and self.delegate == "edgetpu":
            raise bad("delegate", "the Edge TPU delegate runs on Linux boards (transport local or ssh), not through adb")
        if self.expect.edgetpu_compiled and self.delegate != "edgetpu":
            raise bad("expect.edgetpu_compiled", "only makes sense with delegate = \"edgetpu\"")

    @property
    def python_argv(self) -> list[str]:
        """The Python command on the device as an argv list (``"python3 -X utf8"`` → two words);
        ``""`` on a local device is the Python running edgeq (which has ai-edge-litert)."""
        if not self.python.strip():
            import sys

            return [sys.executable]
        return shlex.split(self.python)

    @property
    def effective_delegate_path(self) -> str:
        """The delegate library to load: the profile's, or ``libedgetpu.so.1`` for the Edge TPU."""
        if self.delegate_path:
            return self.delegate_path
        return EDGETPU_LIBRARY if self.delegate == "edgetpu" else ""

    def connection_label(self) -> str:
        """A short human description of where the device is (never includes secrets)."""
        if self.transport == "ssh" and self.ssh:
            user = f"{self.ssh.user}@" if self.ssh.user else ""
            port = f":{self.ssh.port}" if self.ssh.port else ""
            return f"ssh {user}{self.ssh.host}{port}"
        if self.transport == "adb" and self.adb:
            return f"adb {self.adb.serial or '(only device)'}"
        return "this host"

    def to_dict(self) -> dict[str, Any]:
        """The profile as plain data (what ``edgeq devices show --json`` prints)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in ("ssh", "adb", "expect"):
                v = None if v is None else {g.name: getattr(v, g.name) for g in fields(v)}
            elif isinstance(v, Mapping):
                v = dict(v)
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<memory>", builtin: bool = False) -> "DeviceProfile":
        """Validates a parsed TOML document into a profile.

        Args:
            data: the parsed TOML.
            source: the file name, used in every error message.
            builtin: whether it ships with edgeq.

        Raises:
            ProfileInvalid: unknown key, wrong type, or a broken invariant; the message names file and key.
        """
        version = data.get("schema_version")
        if version is None:
            raise ProfileInvalid(f"{source}: key 'schema_version' is missing", hint=f"add 'schema_version = {SCHEMA_VERSION}' at the top of {source}")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ProfileInvalid(f"{source}: key 'schema_version': must be a positive integer",
                                 hint=f"set 'schema_version = {SCHEMA_VERSION}' in {source}")
        if version > SCHEMA_VERSION:
            raise ProfileInvalid(
                f"{source}: schema_version {version} is newer than this edgeq understands ({SCHEMA_VERSION})",
                hint="upgrade edgeq (pip install -U edgeq)",
            )
        top = _check_table(data, _TOP_KEYS, source, "")
        for req in ("name", "transport"):
            if req not in top:
                raise ProfileInvalid(f"{source}: key '{req}' is missing", hint=f"add {req} = \"...\" to {source}")
        kw: dict[str, Any] = dict(top)
        if "ssh" in top:
            kw["ssh"] = SshSettings(**_check_table(top["ssh"], _SSH_KEYS, source, "ssh."))
        if "adb" in top:
            kw["adb"] = AdbSettings(**_check_table(top["adb"], _ADB_KEYS, source, "adb."))
        elif top.get("transport") == "adb":
            kw["adb"] = AdbSettings()
        if "expect" in top:
            kw["expect"] = Expectations(**_check_table(top["expect"], _EXPECT_KEYS, source, "expect."))
        if "affinity" in kw:
            kw["affinity"] = tuple(kw["affinity"])
        for key in ("env", "delegate_options"):
            if key in kw:
                kw[key] = {str(k): _scalar_str(v, source, f"{key}.{k}") for k, v in kw[key].items()}
        return cls(**kw, source=source, builtin=builtin)


_Spec = dict[str, tuple[type | tuple[type, ...], str]]

_TOP_KEYS: _Spec = {
    "schema_version": (int, "an integer"),
    "name": (str, "a string"),
    "transport": (str, "a string"),
    "description": (str, "a string"),
    "work_dir": (str, "a string"),
    "python": (str, "a string"),
    "runtime": (str, "a string"),
    "delegate": (str, "a string"),
    "delegate_path": (str, "a string"),
    "delegate_options": (dict, "a table"),
    "threads": (int, "an integer"),
    "affinity": (list, "a list of CPU numbers"),
    "env": (dict, "a table of strings"),
    "command_timeout": ((int, float), "a number of seconds"),
    "run_timeout": ((int, float), "a number of seconds"),
    "ssh": (dict, "a table"),
    "adb": (dict, "a table"),
    "expect": (dict, "a table"),
}
_SSH_KEYS: _Spec = {
    "host": (str, "a string"),
    "user": (str, "a string"),
    "port": (int, "an integer"),
    "key_file": (str, "a string"),
    "known_hosts": (str, "a string"),
    "config_file": (str, "a string"),
    "connect_timeout": ((int, float), "a number of seconds"),
    "keepalive": ((int, float), "a number of seconds"),
}
_ADB_KEYS: _Spec = {
    "serial": (str, "a string"),
    "adb_path": (str, "a string"),
    "benchmark_model": (str, "a string"),
    "remote_dir": (str, "a string"),
}
_EXPECT_KEYS: _Spec = {
    "full_integer": (bool, "true or false"),
    "edgetpu_compiled": (bool, "true or false"),
    "note": (str, "a string"),
}


def _check_table(table: Any, spec: _Spec, source: str, prefix: str) -> dict[str, Any]:
    if not isinstance(table, Mapping):
        raise ProfileInvalid(f"{source}: key '{prefix.rstrip('.')}' must be a table",
                             hint=f"write it as a section: [{prefix.rstrip('.')}] followed by key = value lines (see docs/devices.md)")
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in spec:
            import difflib

            known = ", ".join(sorted(spec))
            close = difflib.get_close_matches(key, list(spec), n=1)
            guess = f"did you mean '{prefix}{close[0]}'? " if close else ""
            raise ProfileInvalid(f"{source}: unknown key '{prefix}{key}'",
                                 hint=f"{guess}known keys{' in [' + prefix.rstrip('.') + ']' if prefix else ''}: {known}")
        want, words = spec[key]
        # bool is an int in Python; a profile saying threads = true is a mistake, not 1 thread.
        if isinstance(value, bool) and want is not bool:
            ok = False
        else:
            ok = isinstance(value, want)
        if ok and key == "affinity":
            ok = all(isinstance(c, int) and not isinstance(c, bool) for c in value)
        if not ok:
            raise ProfileInvalid(f"{source}: key '{prefix}{key}' must be {words}, got {value!r}",
                                 hint=f"fix '{prefix}{key}' in {source} (see docs/devices.md)")
        out[key] = float(value) if want == (int, float) else value
    return out


def _scalar_str(value: Any, source: str, key: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ProfileInvalid(f"{source}: key '{key}' must be a string or number, got {value!r}", hint=f"fix '{key}' in {source}")


def load_profile_file(path: Path, *, builtin: bool = False) -> DeviceProfile:
    """Parses and validates one profile file.

    Raises:
        ProfileInvalid: the file is not valid TOML or not a valid profile.
    """
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileInvalid(f"{path}: not valid TOML: {exc}", hint="fix the syntax (see docs/devices.md for an example)") from None
    except OSError as exc:
        raise ProfileInvalid(f"{path}: cannot read: {exc.strerror}", hint="check the file's permissions, or remove it") from None
    return DeviceProfile.from_dict(data, source=str(path), builtin=builtin)


def _builtin_files() -> list[tuple[str, str]]:
    from importlib.resources import files

    root = files("edgeq.device_profiles")
    return sorted((p.name, p.read_text(encoding="utf-8")) for p in root.iterdir() if p.name.endswith(".toml"))


@dataclass(frozen=True)
class ProfileProblem:
    """A user profile file that could not be used (the other profiles still are)."""

    path: Path
    name: str | None  # the name the file declares, when it could be read
    error: ProfileInvalid


@dataclass(frozen=True)
class ProfileSet:
    profiles: list[DeviceProfile]
    problems: list[ProfileProblem]


def scan_profiles() -> ProfileSet:
    """Built-in profiles, then the user's; a user profile with a built-in's name replaces it.

    A broken user file does not hide the others: it is returned as a problem (naming its file,
    the key and the fix), and only a request for that device fails on it.
    """
    profiles: dict[str, DeviceProfile] = {}
    for fname, text in _builtin_files():
        src = f"device_profiles/{fname}"
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:  # pragma: no cover - shipped files are tested
            raise ProfileInvalid(f"{src}: not valid TOML: {exc}", hint="reinstall edgeq") from None
        p = DeviceProfile.from_dict(data, source=src, builtin=True)
        if p.name in profiles:
            raise ProfileInvalid(f"{src}: device name '{p.name}' is already defined by {profiles[p.name].source}",
                                 hint="reinstall edgeq")
        profiles[p.name] = p
    user_dir = user_devices_dir()
    seen: dict[str, str] = {}
    problems: list[ProfileProblem] = []
    if user_dir.is_dir():
        for path in sorted(user_dir.glob("*.toml")):
            try:
                p = load_profile_file(path)
                if p.name in seen:
                    raise ProfileInvalid(f"{path}: device name '{p.name}' is already defined by {seen[p.name]}",
                                         hint="rename one of them")
            except ProfileInvalid as exc:
                problems.append(ProfileProblem(path, _declared_name(path), exc))
                continue
            seen[p.name] = str(path)
            profiles[p.name] = p
    return ProfileSet(sorted(profiles.values(), key=lambda p: (not p.builtin, p.name)), problems)


def _declared_name(path: Path) -> str | None:
    try:
        name = tomllib.loads(path.read_text(encoding="utf-8")).get("name")
    except (OSError, ValueError):
        return None
    return name if isinstance(name, str) else None


def load_all_profiles() -> list[DeviceProfile]:
    """Every usable profile (see :func:`scan_profiles`; broken user files are left out)."""
    return scan_profiles().profiles


def get_profile(name: str) -> DeviceProfile:
    """The profile called ``name``.

    Raises:
        ProfileInvalid: the file that defines ``name`` (or is named ``name.toml``) is invalid.
        InputError: no such device; the message lists the known names.
    """
    found = scan_profiles()
    for p in found.profiles:
        if p.name == name:
            return p
    for problem in found.problems:
        if problem.name == name or problem.path.stem == name:
            raise problem.error
    known = ", ".join(p.name for p in found.profiles)
    broken = (f"; unreadable profile file(s): {', '.join(pr.path.name for pr in found.problems)}"
              if found.problems else "")
    raise InputError(
        f"unknown device '{name}'; known devices: {known}{broken}",
        hint=f"run 'edgeq devices list', or add {name}.toml to {user_devices_dir()} (see docs/devices.md)",
    )
