"""``edgeq profile`` and ``edgeq devices check``: the jobs behind them, as event generators.

Several devices run concurrently, one worker thread per device (each device runs its models
one after the other, so measurements on one device never compete); their events merge into
one stream. Everything that can be checked on the host is checked before any device is
touched. If a connection drops, a run stalls, or the user cancels, the samples measured so far
are kept, the run is marked partial with the reason, and the results document is still written.
"""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from edgeq.errors import Cancelled, DeviceUnreachable, EdgeqError, InputError, ModelLoadError, OutputExists, UsageError
from edgeq.events import CancelToken, Done, Event, Log, LogLevel, Progress, Stage

DOC_SCHEMA = 1


@dataclass
class ProfileRequest:
    """What to profile where, and the settings that override the device profiles.

    Args:
        models: .tflite paths (as given; recorded verbatim).
        devices: device profile names; each runs every model.
        threads / delegate / delegate_path / affinity: override the profile when not None.
        runs / min_secs / max_secs: regular runs continue until ``runs`` runs and ``min_secs``
            seconds, and stop at ``max_secs`` (benchmark_model's rule).
        warmup: warmup runs, reported apart.
        op_profiling: per-op timings (Android benchmark_model only).
        out: results document path; default a ``runs/profile-*.json`` in the models' results
            folder when it has a manifest.json, else not written.
        overwrite: allow replacing an existing ``out``.
        command: the command line, recorded in the document.
    """

    models: list[str]
    devices: list[str] = field(default_factory=lambda: ["local"])
    threads: int | None = None
    runs: int = 50
    warmup: int = 1
    min_secs: float = 1.0
    max_secs: float = 150.0
    delegate: str | None = None
    delegate_path: str | None = None
    affinity: list[int] | None = None
    op_profiling: bool = False
    out: str | None = None
    overwrite: bool = False
    command: str = ""


@dataclass
class ProfileResult:
    """The results document and where it was written."""

    doc: dict[str, Any]
    path: Path | None = None

    @property
    def partial(self) -> bool:
        return bool(self.doc.get("partial"))

    def to_dict(self) -> dict[str, Any]:
        return self.doc


@dataclass
class CheckResult:
    """What ``edgeq devices check`` found: facts, and each problem with its fix."""

    name: str
    transport: str
    where: str
    facts: dict[str, Any]
    problems: list[dict[str, str]]
    notes: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.name, "transport": self.transport, "where": self.where, "ok": self.ok,
                "facts": self.facts, "problems": self.problems, "notes": self.notes}


# -- host-side checks ------------------------------------------------------------------------

def _validate(req: ProfileRequest) -> list[Any]:
    from edgeq.devices.profiles import DELEGATES, get_profile

    if not req.models:
        raise UsageError("no model given", hint="edgeq profile MODEL.tflite --device NAME")
    if req.runs < 1 or req.warmup < 0:
        raise UsageError("--runs must be >= 1 and --warmup >= 0")
    if req.min_secs < 0 or req.max_secs <= 0 or req.max_secs < req.min_secs:
        raise UsageError(f"need 0 <= --min-secs <= --max-secs and --max-secs > 0 (got {req.min_secs:g}, {req.max_secs:g})")
    if req.threads is not None and req.threads < 1:
        raise UsageError("--threads must be >= 1")
    if req.delegate is not None and req.delegate not in DELEGATES:
        raise UsageError(f"--delegate must be one of {', '.join(DELEGATES)}")
    if len(set(req.devices)) != len(req.devices) or not req.devices:
        raise UsageError("name each device once (--device NAME)")
    for m in req.models:
        p = Path(m)
        if not p.is_file():
            raise InputError(f"model file {m} not found", hint="check the path (edgeq convert writes .tflite files into its --out folder)")
        with open(p, "rb") as fh:
            head = fh.read(8)
        if len(head) < 8 or head[4:8] != b"TFL3":
            raise ModelLoadError(f"{m} is not a .tflite model", hint="profile the .tflite files made by edgeq convert")
    profiles = [get_profile(d) for d in req.devices]
    if req.out and Path(req.out).exists() and not req.overwrite:
        raise OutputExists(f"{req.out} already exists", hint="pass --overwrite to replace it, or choose another --out")
    return profiles


def _preflight(model: Path, profile: Any, delegate: str) -> list[str]:
    """Model-vs-device expectations checked offline; returns warnings, raises for hard mismatches."""
    from edgeq.devices import edgetpu

    needs_int = delegate == "edgetpu" or profile.expect.full_integer
    report = edgetpu.check_compatibility(model)
    if report["already_compiled"] and delegate != "edgetpu":
        raise InputError(
            f"{model.name} was compiled for the Edge TPU, but device '{profile.name}' uses the {delegate} delegate",
            hint="profile it on an Edge TPU device (e.g. --device coral-usb-rpi), or profile the uncompiled int8 model here",
        )
    if not needs_int:
        return []
    if not report["full_integer"]:
        raise InputError(
            f"{model.name} is not a full-integer model; device '{profile.name}' ({'Edge TPU' if delegate == 'edgetpu' else 'integer-only'}) needs int8 throughout",
            hint="convert with 'edgeq convert MODEL --mode int8 --target edgetpu' and profile the *_edgetpu.tflite it writes",
        )
    warnings = []
    if delegate == "edgetpu" and not report["already_compiled"]:
        warnings.append(f"{model.name} is not compiled by edgetpu_compiler: the Edge TPU delegate will leave every op on the CPU "
                        f"(compile it: edgeq convert --mode int8 --target edgetpu)")
    return warnings


def _variant(model: Path) -> str:
    manifest = model.parent / "manifest.json"
    if manifest.is_file():
        try:
            for v in json.loads(manifest.read_text()).get("variants", []):
                if v.get("file") == model.name and v.get("mode"):
                    return str(v["mode"])
        except (ValueError, OSError, AttributeError):
            pass
    return model.stem


def _doc_path(req: ProfileRequest) -> Path | None:
    from edgeq.fsio import MANIFEST, run_document_path

    if req.out:
        return Path(req.out)
    folder = Path(req.models[0]).parent
    return run_document_path(folder, "profile") if (folder / MANIFEST).is_file() else None


# -- records ---------------------------------------------------------------------------------

def _record(model: str, profile: Any, settings: Any, outcome: Any, error: EdgeqError | None, warnings: list[str]) -> dict[str, Any]:
    from edgeq.devices.backend import FACT_KEYS
    from edgeq.devices.stats import from_aggregates, summarize
    from edgeq.fsio import sha256_file

    p = Path(model)
    facts: dict[str, Any] = dict.fromkeys(FACT_KEYS)
    facts.update(outcome.facts if outcome else {})  # extra facts (device_model, cpu_count…) are kept too
    facts["delegates_available"] = facts["delegates_available"] or []
    rec: dict[str, Any] = {
        "model": model, "model_file": p.name, "model_sha256": sha256_file(p), "variant": _variant(p),
        "device": {"name": profile.name, "transport": profile.transport, "facts": facts},
        "settings": settings.to_record(facts.get("runtime")),
        "status": "failed", "error": None, "stats": summarize([]), "memory": {"peak_rss_mb": None, "measured": False, "note": "not measured"},
        "delegate_coverage": {"delegated_nodes": None, "total_nodes": None, "note": "not measured"},
        "samples_us": [], "warmup_samples_us": [], "op_profile": None, "warnings": list(warnings),
    }
    if outcome is not None:
        if outcome.aggregates is not None:
            a = outcome.aggregates
            rec["stats"] = from_aggregates(a["regular"] or {}, init_us=a["init_us"], first_us=a["first_inference_us"], warmup_avg_us=a["warmup_avg_us"])
            rec["warnings"].append("benchmark_model reports aggregates only: no per-run samples; p90/p99 not available")
        else:
            rec["stats"] = summarize(outcome.samples_us, outcome.warmup_samples_us, init_ms=outcome.init_ms)
        rec.update(status=outcome.status, error=outcome.error, memory=outcome.memory, delegate_coverage=outcome.coverage,
                   samples_us=[round(x, 3) for x in outcome.samples_us], warmup_samples_us=[round(x, 3) for x in outcome.warmup_samples_us],
                   op_profile=outcome.op_profile)
        rec["warnings"] += outcome.warnings
    if error is not None:
        rec["error"] = {"message": error.message, "hint": error.hint}
    return rec


# -- the job ---------------------------------------------------------------------------------

def _device_worker(profile: Any, jobs: list[tuple[int, str, Any, list[str]]], q: "queue.Queue[tuple]", stop: CancelToken) -> None:
    """Runs every model on one device, posting events and finished records to ``q``."""
    from edgeq.devices.backend import make_backend

    backend = make_backend(profile)
    try:
        dead: EdgeqError | None = None
        for idx, model, settings, warnings in jobs:
            if dead is not None or stop.cancelled:
                err = dead or Cancelled(stop.reason or "cancelled")
                q.put(("record", idx, _record(model, profile, settings, None, err, warnings), err))
                continue
            for w in warnings:
                q.put(("event", Log(f"{profile.name}: {w}", LogLevel.WARNING, "profile-expectation")))
            outcome = None
            try:
                for ev in backend.benchmark(Path(model), settings, stop, variant=_variant(Path(model))):
                    if isinstance(ev, Done):
                        outcome = ev.result
                    else:
                        q.put(("event", ev))
                q.put(("record", idx, _record(model, profile, settings, outcome, None, warnings), None))
            except EdgeqError as exc:
                if isinstance(exc, DeviceUnreachable):
                    dead = exc  # the remaining models on this device cannot run either
                q.put(("record", idx, _record(model, profile, settings, outcome, exc, warnings), exc))
    except BaseException as exc:  # noqa: BLE001 - a bug must not hang the stream
        q.put(("crash", profile.name, exc))
    finally:
        try:
            backend.close()
        except Exception:  # noqa: BLE001
            pass
        q.put(("worker_done", profile.name, None))


def run_profile(request: ProfileRequest, *, cancel: CancelToken) -> Iterator[Event]:
    """Benchmarks every model on every device; yields Samples live, ends with ``Done(ProfileResult)``.

    Raises:
        UsageError / InputError / ProfileInvalid / OutputExists: bad request (nothing was started).
        EdgeqError: every run failed (the first failure, e.g. DeviceUnreachable, RuntimeMissing).
        Cancelled: after writing the partial document, when ``cancel`` was set.
    """
    from edgeq.devices.backend import settings_for
    from edgeq.fsio import write_json_atomic

    profiles = _validate(request)
    jobs: dict[str, list[tuple[int, str, Any, list[str]]]] = {p.name: [] for p in profiles}
    order: list[tuple[str, str]] = []
    refused: dict[int, tuple[dict[str, Any], EdgeqError]] = {}
    for p in profiles:
        for m in request.models:
            s = settings_for(
                p, threads=request.threads, delegate=request.delegate, delegate_path=request.delegate_path,
                affinity=tuple(request.affinity) if request.affinity is not None else None, warmup=request.warmup,
                runs=request.runs, min_secs=request.min_secs, max_secs=request.max_secs, op_profiling=request.op_profiling,
            )
            if s.delegate in ("gpu", "nnapi") and p.transport != "adb":
                raise UsageError(f"--delegate {s.delegate} exists only on Android devices ('{p.name}' is {p.transport})")
            idx = len(order)
            order.append((m, p.name))
            try:
                warnings = _preflight(Path(m), p, s.delegate)
            except InputError as exc:  # this pair cannot run (e.g. a float model for the Edge TPU)
                refused[idx] = (_record(m, p, s, None, exc, []), exc)
                continue
            jobs[p.name].append((idx, m, s, warnings))
    if refused and not any(jobs.values()):
        raise refused[min(refused)][1]  # nothing can run: the plain error, nothing touched
    total = len(order)
    records: dict[int, dict[str, Any]] = {i: r for i, (r, _) in refused.items()}
    errors: dict[int, EdgeqError] = {i: e for i, (_, e) in refused.items()}
    stop = CancelToken()
    q: queue.Queue[tuple] = queue.Queue()
    yield Stage("profile", f"profiling {len(request.models)} model(s) on {len(profiles)} device(s)", total=total)
    workers = [threading.Thread(target=_device_worker, args=(p, jobs[p.name], q, stop), name=f"edgeq-profile-{p.name}", daemon=True)
               for p in profiles if jobs[p.name]]
    for w in workers:
        w.start()
    running = len(workers)
    crash: BaseException | None = None
    finished = False

    def take(item: tuple) -> Event | None:
        nonlocal running, crash
        kind = item[0]
        if kind == "event":
            return item[1]
        if kind == "record":
            records[item[1]] = item[2]
            if item[3] is not None:
                errors[item[1]] = item[3]
            return Progress("profile", len(records), total)
        if kind == "crash":
            crash = crash or item[2]
        elif kind == "worker_done":
            running -= 1
        return None

    try:
        while running:
            if cancel.cancelled and not stop.cancelled:
                stop.cancel(cancel.reason or "cancelled")
            try:
                item = q.get(timeout=0.1)
            except queue.Empty:
                continue
            ev = take(item)
            if ev is not None:
                yield ev
        finished = True
    finally:
        if not finished:  # closed by the consumer (Ctrl-C) or an error: stop devices, keep what we have
            stop.cancel(cancel.reason or "interrupted")
            for w in workers:
                w.join(30)
            while not q.empty():
                take(q.get_nowait())
        doc = _document(request, order, records, profiles, stop)
        written = None
        if any(r["status"] in ("ok", "partial") for r in records.values()):
            written = _doc_path(request)  # chosen now: the runs/ name carries the time it was written
            if written is not None:
                write_json_atomic(written, doc)
        result = ProfileResult(doc, written)
    if crash is not None:
        raise crash
    if stop.cancelled:
        where = f"; partial results written to {written}" if written else ""
        raise Cancelled(f"{stop.reason}{where}")
    if not any(r["status"] in ("ok", "partial") for r in records.values()) and errors:
        raise errors[min(errors)]
    yield Done(result)


def _document(req: ProfileRequest, order: list[tuple[str, str]], records: dict[int, dict[str, Any]], profiles: list[Any], stop: CancelToken) -> dict[str, Any]:
    from edgeq.fsio import meta

    runs = []
    by_name = {p.name: p for p in profiles}
    for i, (model, dev) in enumerate(order):
        rec = records.get(i)
        if rec is None:  # never started (interrupted before its turn)
            from edgeq.devices.backend import settings_for

            rec = _record(model, by_name[dev], settings_for(by_name[dev]), None, Cancelled(stop.reason or "not run"), [])
        runs.append(rec)
    bad = [r for r in runs if r["status"] != "ok"]
    reason = None
    if bad:
        first = bad[0]
        msg = (first.get("error") or {}).get("message") or first["status"]
        reason = f"{len(bad)} of {len(runs)} run(s) not complete; first: {first['model_file']} on {first['device']['name']}: {msg}"
    return {
        "__meta__": meta("profile", DOC_SCHEMA),
        "command": req.command or "edgeq profile " + " ".join(req.models),
        "partial": bool(bad), "partial_reason": reason,
        "runs": runs,
    }


# -- devices check ---------------------------------------------------------------------------

def run_check(name: str, *, cancel: CancelToken) -> Iterator[Event]:
    """Connects to a device, reports its facts, and lists what is missing with the fix for each.

    Raises:
        InputError: unknown device name.
        DeviceUnreachable: cannot connect (unknown host key, auth, network, adb state).
    """
    from edgeq.devices.backend import make_backend, settings_for
    from edgeq.devices.diagnose import diagnose
    from edgeq.devices.profiles import get_profile

    profile = get_profile(name)
    backend = make_backend(profile)
    yield Stage("connect", f"connecting to {profile.name} ({profile.connection_label()})")
    try:
        backend.transport.open()
        cancel.raise_if_cancelled()
        yield Stage("probe", f"probing {profile.name}")
        info = backend.probe(settings_for(profile))
    finally:
        backend.close()
    facts = info["facts"]
    problems, notes = diagnose(profile, facts, info)
    yield Done(CheckResult(profile.name, profile.transport, getattr(backend.transport, "label", profile.connection_label()), facts, problems, notes))
