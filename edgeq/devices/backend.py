"""Device backends: what runs a model on a device, over a transport.

* :class:`RunnerBackend` (local and SSH devices) pushes the self-contained ``runner.py`` and the
  model to a ``mktemp -d`` folder under the profile's ``work_dir`` and streams its JSON lines.
* :class:`AndroidBackend` (adb) pushes the profile's ``benchmark_model`` binary and parses its log.

Both remove what they pushed when closed, also after a failure; if the connection is gone by
then, the runner removes its own folder when it notices its stdin closing.
"""

from __future__ import annotations

import enum
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from edgeq.devices.diagnose import runner_error
from edgeq.devices.profiles import DeviceProfile
from edgeq.devices.transport import BaseTransport, RemoteProcess
from edgeq.errors import Cancelled, DeviceCommandFailed, DeviceError, EdgeqError, RuntimeMissing, UsageError
from edgeq.events import CancelToken, Done, Event, Log, LogLevel, Progress, RunType, Samples, Stage

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

RUNNER = Path(__file__).with_name("runner.py")
FACT_KEYS = ("os", "machine", "cpu_model", "governor", "python", "runtime", "runtime_version", "numpy", "delegates_available")


class TransportKind(enum.StrEnum):
    LOCAL = "local"
    SSH = "ssh"
    ADB = "adb"


@dataclass(frozen=True)
class BenchSettings:
    """Every setting that changes a measurement; recorded verbatim in the results document."""

    threads: int = 1
    delegate: str = "xnnpack"
    delegate_path: str = ""
    delegate_options: dict[str, str] = field(default_factory=dict)
    affinity: tuple[int, ...] = ()
    warmup: int = 1
    runs: int = 50
    min_secs: float = 1.0
    max_secs: float = 150.0
    env: dict[str, str] = field(default_factory=dict)
    runtime: str = "ai_edge_litert"
    op_profiling: bool = False

    def to_record(self, actual_runtime: str | None = None) -> dict[str, Any]:
        """The results document's ``settings`` block (``runtime`` is the one the device really used)."""
        return {
            "threads": self.threads, "delegate": self.delegate, "delegate_path": self.delegate_path or None,
            "delegate_options": dict(self.delegate_options), "affinity": list(self.affinity), "warmup_runs": self.warmup,
            "min_runs": self.runs, "min_secs": self.min_secs, "max_secs": self.max_secs,
            "runtime": actual_runtime or self.runtime, "env": dict(self.env), "op_profiling": self.op_profiling,
        }


@dataclass
class RunOutcome:
    """What one model × device benchmark produced so far (kept when a run is cut short)."""

    facts: dict[str, Any] = field(default_factory=dict)
    init_ms: float | None = None
    samples_us: list[float] = field(default_factory=list)
    warmup_samples_us: list[float] = field(default_factory=list)
    memory: dict[str, Any] = field(default_factory=lambda: {"peak_rss_mb": None, "measured": False, "note": "not measured"})
    coverage: dict[str, Any] = field(default_factory=lambda: {"delegated_nodes": None, "total_nodes": None, "note": "not reported"})
    op_profile: dict[str, Any] | None = None
    aggregates: dict[str, Any] | None = None  # benchmark_model's printed stats (no samples)
    stopped_by: str | None = None
    status: str = "ok"
    error: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    def cut_short(self, reason: str, hint: str = "") -> None:
        """Marks the run partial (samples kept) or failed (nothing measured)."""
        self.status = "partial" if (self.samples_us or self.aggregates) else "failed"
        self.error = {"message": reason, "hint": hint}


def facts_from_hello(msg: dict[str, Any], transport: str) -> dict[str, Any]:
    """Device facts (the document's ``device.facts``) from the runner's ``hello`` line."""
    facts = {k: msg.get(k) for k in FACT_KEYS}
    facts["delegates_available"] = list(msg.get("delegates_available") or [])
    facts["edgetpu_devices"] = list(msg.get("edgetpu_devices") or [])
    facts["cpu_count"] = msg.get("cpu_count")
    return facts


class DeviceBackend:
    """Common shape of a backend: a profile, a lazily opened transport and a remote temp folder."""

    def __init__(self, profile: DeviceProfile, transport: BaseTransport) -> None:
        self.profile = profile
        self.transport = transport
        self.remote_dir: str | None = None
        self._pushed: dict[str, str] = {}

    def __enter__(self) -> "DeviceBackend":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # The operations every backend offers (STYLE.md "Devices"); subclasses implement them.
    def probe(self, settings: "BenchSettings | None" = None) -> dict[str, Any]:
        """Facts about the device: ``{"facts": {...}, "python_ok": bool | None, "error": str | None}``."""
        raise NotImplementedError

    def benchmark(self, model: Path, settings: "BenchSettings", cancel: CancelToken, *, variant: str = "") -> Iterator[Event]:
        """Benchmarks one model; yields events live and ends with ``Done(RunOutcome)``."""
        raise NotImplementedError

    def evaluate_on_device(self, model_path: Path, inputs: "np.ndarray", **kw: Any) -> "np.ndarray":
        """Runs input tensors through the model on the device and returns its (float) outputs."""
        raise NotImplementedError

    def _base_dir(self) -> str:
        return self.profile.work_dir

    def _ensure_dir(self) -> str:
        if self.remote_dir is None:
            t = self.transport
            res = t.check(
                t.run(["mktemp", "-d", f"{self._base_dir().rstrip('/')}/edgeq.XXXXXX"], timeout=self.profile.command_timeout),
                "creating a temporary folder",
                hint=f"make sure {self._base_dir()} exists and is writable on the device (work_dir in the profile)",
            )
            self.remote_dir = res.stdout.strip().splitlines()[-1]
        return self.remote_dir

    def push(self, local: Path, name: str | None = None) -> str:
        """Copies a file into the remote temp folder once; returns its remote path."""
        key = str(Path(local).resolve())
        if key not in self._pushed:
            remote = f"{self._ensure_dir()}/{name or Path(local).name}"
            self.transport.put(Path(local), remote)
            self._pushed[key] = remote
        return self._pushed[key]

    def forget(self, local: Path) -> None:
        """Removes one pushed file (models are removed after their run to spare device storage)."""
        remote = self._pushed.pop(str(Path(local).resolve()), None)
        if remote is not None:
            try:
                self.transport.run(["rm", "-f", remote], timeout=self.profile.command_timeout)
            except DeviceError:
                pass

    def close(self) -> None:
        """Removes the remote temp folder (best effort) and closes the transport."""
        try:
            if self.remote_dir is not None:
                try:
                    self.transport.run(["rm", "-rf", self.remote_dir], timeout=self.profile.command_timeout)
                except DeviceError:
                    pass  # the runner removes its own folder when the connection is gone
                self.remote_dir = None
                self._pushed.clear()
        finally:
            self.transport.close()

    def prepare(self, model: Path) -> str:
        """Pushes ``model`` under its own name (messages then name the user's file); returns its path
        on the device. Models run one at a time per device and are removed after their run."""
        return self.push(Path(model), Path(model).name)

    def _lines(self, proc: RemoteProcess, cancel: CancelToken, what: str, silence: float) -> Iterator[str]:
        """Stdout lines of ``proc`` until EOF; stops the process on cancel, silence or close().

        Raises:
            Cancelled: the token was cancelled (the process is stopped first).
            DeviceCommandFailed: no output for ``silence`` seconds (a run timed out).
        """
        last = time.monotonic()
        finished = False
        try:
            while True:
                if cancel.cancelled:
                    raise Cancelled(cancel.reason or "cancelled")
                try:
                    line = proc.readline(0.2)
                except EOFError:
                    finished = True
                    return
                now = time.monotonic()
                if line is None:
                    if now - last > silence:
                        raise DeviceCommandFailed(
                            f"{what} on device '{self.profile.name}' sent nothing for {silence:g} s (a run timed out)",
                            hint="raise run_timeout in the device profile if single inferences are really that slow",
                        )
                    continue
                last = now
                yield line
        finally:
            if not finished:  # cancelled, timed out, or the consumer closed us (Ctrl-C)
                proc.terminate()


class RunnerBackend(DeviceBackend):
    """Local and SSH devices: the Python runner."""

    def _runner(self) -> str:
        return self.push(RUNNER, "runner.py")

    def _runner_argv(self, settings: BenchSettings, model: str | None, mode: str, extra: list[str] | None = None, *, watch: bool = True) -> list[str]:
        argv = [*self.profile.python_argv, self._runner()]
        if model:
            argv.append(model)
        argv += ["--mode", mode, "--runtime", settings.runtime, "--threads", str(settings.threads), "--delegate", settings.delegate]
        if settings.delegate_path:
            argv += ["--delegate-path", settings.delegate_path]
        for k, v in settings.delegate_options.items():
            argv += ["--delegate-option", f"{k}={v}"]
        if settings.affinity:
            argv += ["--affinity", ",".join(str(c) for c in settings.affinity)]
        if watch:  # started processes: exit and clean up if edgeq or the connection goes away
            argv += ["--watch-stdin", "--remove-dir-on-hangup", self._ensure_dir()]
        return [*argv, *(extra or [])]

    def probe(self, settings: BenchSettings | None = None) -> dict[str, Any]:
        """Runs the runner in probe mode: OS, CPU, governor, Python, numpy, runtime, delegates.

        Returns:
            ``{"facts": {...}, "python_ok": bool, "error": str | None}``.
        """
        settings = settings or settings_for(self.profile)
        argv = self._runner_argv(settings, None, "probe", watch=False)
        res = self.transport.run(argv, timeout=self.profile.command_timeout, env=dict(settings.env))
        for line in res.stdout.splitlines():
            msg = _json(line)
            if msg and msg.get("type") == "hello":
                return {"facts": facts_from_hello(msg, self.transport.kind), "python_ok": True, "error": None}
        return {"facts": {}, "python_ok": False, "error": res.tail() or f"exit status {res.exited}"}

    def benchmark(self, model: Path, settings: BenchSettings, cancel: CancelToken, *, variant: str = "") -> Iterator[Event]:
        """Benchmarks one model; yields Samples live and ends with ``Done(RunOutcome)``.

        Raises:
            EdgeqError: the run failed before measuring anything (runtime or delegate missing, …).
        """
        dev = self.profile.name
        out = RunOutcome()
        yield Stage(f"push:{dev}", f"Copying {model.name} to {dev}", variant=variant)
        remote_model = self.prepare(model)
        argv = self._runner_argv(
            settings, remote_model, "benchmark",
            ["--warmup", str(settings.warmup), "--runs", str(settings.runs), "--min-secs", str(settings.min_secs), "--max-secs", str(settings.max_secs)],
        )
        yield Stage(f"bench:{dev}", f"Benchmarking {model.name} on {dev}", total=settings.runs, variant=variant)
        proc = self.transport.start(argv, env=dict(settings.env))
        failure: list[EdgeqError] = []

        def handle(line: str) -> Iterator[Event]:
            msg = _json(line)
            if msg is None:
                if line.strip():
                    yield Log(f"{dev}: {line.strip()}", LogLevel.DEBUG)
                return
            kind = msg.get("type")
            if kind == "runs":
                us = tuple(float(u) for u in msg["us"])
                regular = msg.get("run_type") == "regular"
                (out.samples_us if regular else out.warmup_samples_us).extend(us)
                yield Samples(RunType.REGULAR if regular else RunType.WARMUP, int(msg.get("i", 0)), us, variant, dev)
                if regular:
                    yield Progress(f"bench:{dev}", len(out.samples_us), max(settings.runs, len(out.samples_us)), variant)
            elif kind == "hello":
                out.facts = facts_from_hello(msg, self.transport.kind)
            elif kind == "init":
                out.init_ms = float(msg["ms"])
            elif kind == "delegate":
                note = msg.get("note") or f"{msg.get('partitions', 0)} delegate partition(s), counted from the interpreter's node list"
                out.coverage = {"delegated_nodes": msg.get("delegated_nodes"), "total_nodes": msg.get("total_nodes"), "note": note}
            elif kind == "memory":
                peak = msg.get("peak_rss_mb")
                out.memory = {
                    "peak_rss_mb": peak, "measured": peak is not None,
                    "note": (f"peak RSS of the runner process ({msg.get('source')}; includes Python and the runtime; "
                             f"{msg.get('baseline_rss_mb')} MB before loading the model)") if peak is not None else "not measured: the device reports no peak RSS",
                }
            elif kind == "phase" and msg.get("phase") == "end":
                out.stopped_by = msg.get("stopped_by")
            elif kind == "warning":
                out.warnings.append(str(msg.get("message")))
                yield Log(f"{dev}: {msg.get('message')}", LogLevel.WARNING)
            elif kind == "error":
                failure.append(runner_error(str(msg.get("kind")), str(msg.get("message")), self.profile, settings))

        try:
            for line in self._lines(proc, cancel, f"the runner ({model.name})", self.profile.run_timeout):
                yield from handle(line)
            res = proc.wait(30)
            if failure:
                raise failure[0]
            if res.exited == 127 and not out.facts:
                raise RuntimeMissing(
                    f"'{self.profile.python}' was not found on device '{dev}'",
                    hint="install Python 3 on the device, or set python = \"/path/to/python3\" in the profile",
                )
            if res.exited != 0:
                raise DeviceCommandFailed(f"the runner exited with status {res.exited} on device '{dev}': {res.tail() or 'no output'}", result=res,
                                          hint=f"run 'edgeq devices check {dev}' to diagnose")
        except Cancelled as exc:
            out.cut_short(f"cancelled: {exc.message}")
        except EdgeqError as exc:
            if not out.samples_us:
                raise
            out.cut_short(exc.message, exc.hint)
        finally:
            proc.terminate()
            self.forget(model)
        if out.stopped_by == "max_secs" and out.status == "ok":
            out.warnings.append(f"stopped by max_secs ({settings.max_secs:g} s) after {len(out.samples_us)} of {settings.runs} runs")
        yield Done(out)

    def evaluate_on_device(self, model_path: Path, inputs: "np.ndarray", *, settings: BenchSettings | None = None, cancel: CancelToken | None = None) -> "np.ndarray":
        """Runs ``inputs`` (N, ...) through the model on the device; returns float outputs (N, ...).

        Float inputs are quantized with the model's own input parameters when it has integer
        inputs; integer outputs are dequantized, as on the host.
        """
        import tempfile

        import numpy as np

        settings = settings or settings_for(self.profile)
        cancel = cancel or CancelToken()
        with tempfile.TemporaryDirectory(prefix="edgeq-eval-") as tmp:
            x_path = Path(tmp) / "inputs.npy"
            np.save(x_path, np.asarray(inputs), allow_pickle=False)
            remote_model = self.prepare(Path(model_path))
            remote_x = self.push(x_path, "inputs.npy")
            remote_y = f"{self._ensure_dir()}/outputs.npy"
            argv = self._runner_argv(settings, remote_model, "accuracy", ["--inputs", remote_x, "--outputs", remote_y])
            proc = self.transport.start(argv, env=dict(settings.env))
            errors: list[EdgeqError] = []

            def on_line(line: str) -> None:
                msg = _json(line)
                if msg and msg.get("type") == "error":
                    errors.append(runner_error(str(msg.get("kind")), str(msg.get("message")), self.profile, settings))

            try:
                for line in self._lines(proc, cancel, "the runner (accuracy)", self.profile.run_timeout):
                    on_line(line)
                res = proc.wait(30)
                if errors:
                    raise errors[0]
                self.transport.check(res, "the accuracy run")
                y_local = Path(tmp) / "outputs.npy"
                self.transport.get(remote_y, y_local)
                return np.load(y_local, allow_pickle=False)
            finally:
                self.forget(x_path)
                self.forget(Path(model_path))


def _json(line: str) -> dict[str, Any] | None:
    s = line.strip()
    if not s.startswith("{"):
        return None
    try:
        obj = json.loads(s)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def settings_for(profile: DeviceProfile, **override: Any) -> BenchSettings:
    """The profile's settings with request overrides (None values are ignored)."""
    base = {
        "threads": profile.threads, "delegate": profile.delegate, "delegate_path": profile.effective_delegate_path,
        "delegate_options": dict(profile.delegate_options), "affinity": tuple(profile.affinity),
        "env": dict(profile.env), "runtime": profile.runtime,
    }
    base.update({k: v for k, v in override.items() if v is not None})
    if base["delegate"] not in ("edgetpu", "external"):
        base["delegate_path"] = ""  # a library path means nothing to xnnpack/none/gpu/nnapi
    elif base["delegate"] == "edgetpu" and not base["delegate_path"]:
        from edgeq.devices.profiles import EDGETPU_LIBRARY

        base["delegate_path"] = EDGETPU_LIBRARY
    return BenchSettings(**base)


def make_backend(profile: DeviceProfile) -> DeviceBackend:
    """The backend for a profile's transport (registered by :class:`TransportKind`)."""
    try:
        factory = BACKENDS[TransportKind(profile.transport)]
    except (KeyError, ValueError):  # pragma: no cover - profiles validate transport
        raise UsageError(f"no backend for transport {profile.transport!r}", hint="transport must be local, ssh or adb") from None
    return factory(profile)


def _local(profile: DeviceProfile) -> DeviceBackend:
    from edgeq.devices.local import LocalTransport

    return RunnerBackend(profile, LocalTransport(profile.name))


def _ssh(profile: DeviceProfile) -> DeviceBackend:
    from edgeq.devices.ssh import SshTransport

    assert profile.ssh is not None
    return RunnerBackend(profile, SshTransport(profile.ssh, profile.name))


def _adb(profile: DeviceProfile) -> DeviceBackend:
    from edgeq.devices.adb import AdbTransport
    from edgeq.devices.android import AndroidBackend

    assert profile.adb is not None
    return AndroidBackend(profile, AdbTransport(profile.adb, profile.name))


BACKENDS: dict[TransportKind, Callable[[DeviceProfile], DeviceBackend]] = {
    TransportKind.LOCAL: _local,
    TransportKind.SSH: _ssh,
    TransportKind.ADB: _adb,
}

__all__ = ["BenchSettings", "DeviceBackend", "RunOutcome", "RunnerBackend", "TransportKind", "make_backend", "settings_for"]
