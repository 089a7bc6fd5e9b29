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

from edgeq.errors import (Cancelled, DelegateMissing, DeviceUnreachable, EdgeqError, InputError, ModelLoadError, OutputExists,
                          ProfileInvalid, RuntimeMissing, UsageError)
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
        out: results document path (one document with every run); default one
            ``runs/profile-*.json`` per results folder (a folder with a manifest.json) holding the
            runs of that folder's models; runs of models outside a results folder are not written.
        overwrite: allow replacing an existing ``out``.
        write: False to write no document at all (``--no-save``).
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
    write: bool = True


@dataclass
class ProfileResult:
    """The results document (every run) and where its runs were written.

    ``paths`` holds one document per results folder (or just ``out``); ``unsaved`` names the models
    whose runs were written nowhere (not in a results folder, or ``write`` was False).
    """

    doc: dict[str, Any]
    path: Path | None = None
    paths: list[Path] = field(default_factory=list)
    unsaved: list[str] = field(default_factory=list)

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

def expand_models(models: list[str]) -> list[str]:
    """Models as given, with each results folder replaced by its ``.tflite`` files.

    A folder's variants come in its manifest's order (float32 first, as converted), then any
    other ``.tflite`` in it (e.g. a mixed-precision model) by name.

    Raises:
        InputError: a folder that holds no ``.tflite`` file.
    """
    from edgeq.fsio import MANIFEST

    out: list[str] = []
    for m in models:
        folder = Path(m)
        if not folder.is_dir():
            out.append(m)
            continue
        files = sorted(folder.glob("*.tflite"))
        if not files:
            raise InputError(f"{folder} is a folder with no .tflite files",
                             hint="pass .tflite files, or the --out folder of edgeq convert")
        try:
            listed = [v["file"] for v in json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["variants"]]
        except (OSError, ValueError, KeyError, TypeError):
            listed = []
        rank = {name: i for i, name in enumerate(listed)}
        files.sort(key=lambda f: (rank.get(f.name, len(rank)), f.name))
        out += [str(f) for f in files]
    return out  # a model named twice runs twice (a repeat measurement), as before


def _validate(req: ProfileRequest) -> list[Any]:
    from edgeq.devices.profiles import DELEGATES, get_profile

    if not req.models:
        raise UsageError("no model given", hint="edgeq profile MODEL.tflite --device NAME")
    if req.runs < 1:
        raise UsageError(f"--runs must be at least 1 (got {req.runs})", hint="e.g. --runs 50 (the default)")
    if req.warmup < 0:
        raise UsageError(f"--warmup must be 0 or more (got {req.warmup})", hint="e.g. --warmup 1 (the default), or --warmup 0 for none")
    if req.min_secs < 0:
        raise UsageError(f"--min-secs must be 0 or more (got {req.min_secs:g})", hint="e.g. --min-secs 1 (the default), or --min-secs 0")
    if req.max_secs <= 0:
        raise UsageError(f"--max-secs must be more than 0 (got {req.max_secs:g})", hint="e.g. --max-secs 150 (the default)")
    if req.max_secs < req.min_secs:
        raise UsageError(f"--max-secs {req.max_secs:g} is shorter than --min-secs {req.min_secs:g}",
                         hint=f"raise --max-secs to at least {req.min_secs:g}, or lower --min-secs")
    if req.threads is not None and req.threads < 1:
        raise UsageError(f"--threads must be at least 1 (got {req.threads})", hint="e.g. --threads 1, or leave it out to use the device profile's")
    if req.delegate is not None and req.delegate not in DELEGATES:
        raise UsageError(f"unknown delegate {req.delegate!r}", hint=f"--delegate must be one of {', '.join(DELEGATES)}")
    if req.affinity is not None and any(c < 0 for c in req.affinity):
        raise UsageError("--affinity CPU numbers must be 0 or more", hint="e.g. --affinity 0,1")
    if not req.devices:
        raise UsageError("no device given", hint="--device NAME (see 'edgeq devices list'), or leave it out for this host")
    if len(set(req.devices)) != len(req.devices):
        dup = next(d for d in req.devices if req.devices.count(d) > 1)
        raise UsageError(f"device '{dup}' is named more than once", hint="name each device once (--device NAME)")
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


def _cpu_list(cpus: Any) -> str:
    """``[0, 1, 2, 5]`` → ``"0-2,5"``."""
    spans: list[list[int]] = []
    for c in sorted(set(cpus)):
        if spans and spans[-1][1] == c - 1:
            spans[-1][1] = c
        else:
            spans.append([c, c])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def _check_settings(profile: Any, s: Any, req: ProfileRequest) -> None:
    """Settings errors found on the host, before any model is copied (raises UsageError)."""
    import os

    if s.delegate in ("gpu", "nnapi") and profile.transport != "adb":
        raise UsageError(f"--delegate {s.delegate} exists only on Android devices ('{profile.name}' is {profile.transport})",
                         hint="use --delegate xnnpack or none here, or profile on an Android device (--device NAME with transport adb)")
    if s.delegate == "external" and not s.delegate_path and profile.transport != "adb":
        from_cli = req.delegate == "external"
        raise UsageError(f"the external delegate needs a library path (device '{profile.name}')",
                         hint="add --delegate-path /path/on/device/libdelegate.so" if from_cli
                         else f"set delegate_path in {profile.source}, or pass --delegate-path")
    if s.affinity and profile.transport == "local" and hasattr(os, "sched_getaffinity"):
        have = os.sched_getaffinity(0)  # the CPUs this process may run on: what the runner can pin to
        missing = [c for c in s.affinity if c not in have]
        if missing:
            from_cli = req.affinity is not None
            where = "--affinity" if from_cli else f"'affinity' in {profile.source}"
            raise UsageError(
                f"CPU{'s' if len(missing) > 1 else ''} {_cpu_list(missing)} "
                f"{'do' if len(missing) > 1 else 'does'} not exist on {profile.name} (it has CPUs {_cpu_list(have)})",
                hint=f"choose CPUs from {_cpu_list(have)} in {where}" + (f", e.g. --affinity {min(have)}" if from_cli else ""),
            )


def _write_documents(req: ProfileRequest, order: list[tuple[str, str]], records: dict[int, dict[str, Any]],
                     profiles: list[Any], stop: CancelToken) -> tuple[list[Path], list[str]]:
    """Writes the results: ``out`` (every run), else one ``runs/profile-*.json`` per results folder
    holding its own models' runs. Returns (paths written, models whose runs were not written)."""
    from edgeq.fsio import MANIFEST, run_document_path, write_json_atomic

    def measured(idx: list[int]) -> bool:
        return any((records.get(i) or {}).get("status") in ("ok", "partial") for i in idx)

    if not req.write:
        return [], list(dict.fromkeys(req.models))
    if req.out:
        if not measured(list(range(len(order)))):
            return [], []
        path = Path(req.out)
        write_json_atomic(path, _document(req, order, records, profiles, stop))
        return [path], []
    groups: dict[Path, tuple[Path, list[int]]] = {}
    unsaved: list[str] = []
    for i, (model, _dev) in enumerate(order):
        folder = Path(model).parent
        if (folder / MANIFEST).is_file():
            groups.setdefault(folder.resolve(), (folder, []))[1].append(i)
        elif model not in unsaved:
            unsaved.append(model)
    paths = []
    for folder, idx in groups.values():
        if measured(idx):
            path = run_document_path(folder, "profile")  # named now: the name carries the time it was written
            write_json_atomic(path, _document(req, order, records, profiles, stop, idx))
            paths.append(path)
    return paths, unsaved


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
                if isinstance(exc, (DeviceUnreachable, RuntimeMissing, DelegateMissing, ProfileInvalid)):
                    dead = exc  # unreachable, no Python/runtime/delegate, no key: the other models cannot run either
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
    import dataclasses

    from edgeq.devices.backend import settings_for

    request = dataclasses.replace(request, models=expand_models(request.models))
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
            _check_settings(p, s, request)
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
    yield Stage("profile", f"Profiling {len(request.models)} model(s) on {len(profiles)} device(s)", total=total)
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
        paths, unsaved = _write_documents(request, order, records, profiles, stop)
        for path in paths:
            cancel.wrote(path)
        result = ProfileResult(doc, paths[0] if paths else None, paths, unsaved)
    if crash is not None:
        raise crash
    if stop.cancelled:
        where = f"; partial results written to {', '.join(map(str, paths))}" if paths else ""
        raise Cancelled(f"{stop.reason}{where}")
    if not any(r["status"] in ("ok", "partial") for r in records.values()) and errors:
        raise errors[min(errors)]
    yield Done(result)


def _document(req: ProfileRequest, order: list[tuple[str, str]], records: dict[int, dict[str, Any]], profiles: list[Any],
              stop: CancelToken, only: list[int] | None = None) -> dict[str, Any]:
    from edgeq.fsio import meta

    runs = []
    by_name = {p.name: p for p in profiles}
    for i, (model, dev) in enumerate(order):
        if only is not None and i not in only:
            continue
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
    yield Stage("connect", f"Connecting to {profile.name} ({profile.connection_label()})")
    try:
        backend.transport.open()
        cancel.raise_if_cancelled()
        yield Stage("probe", f"Probing {profile.name}")
        info = backend.probe(settings_for(profile))
    finally:
        backend.close()
    facts = info["facts"]
    problems, notes = diagnose(profile, facts, info)
    yield Done(CheckResult(profile.name, profile.transport, getattr(backend.transport, "label", profile.connection_label()), facts, problems, notes))
