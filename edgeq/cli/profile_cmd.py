"""``edgeq profile``: latency and memory of .tflite models on devices, measured like benchmark_model."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from edgeq.cli.argtypes import non_negative_float, non_negative_int, positive_float, positive_int
from edgeq.cli.context import Env
from edgeq.errors import Cancelled, ExitStatus, UsageError
from edgeq.fsio import dumps_json


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Adds ``edgeq profile``'s arguments to ``p``."""
    p.add_argument("models", nargs="+", metavar="MODEL", help=".tflite files or a results folder (edgeq convert --out: all its variants); each runs on every device")
    p.add_argument("--device", "-d", action="append", metavar="NAME",
                   help="device profile, repeatable; devices run concurrently (default: local). See 'edgeq devices list'")
    g = p.add_argument_group("measurement (defaults as TFLite's benchmark_model)")
    g.add_argument("--runs", type=positive_int, default=50, help="at least this many regular runs, and runs go on until --min-secs has passed (default 50)")
    g.add_argument("--warmup", type=non_negative_int, default=1, help="warmup runs, reported apart (default 1)")
    g.add_argument("--min-secs", type=non_negative_float, default=1.0, help="regular runs last at least this long (default 1; 0 to stop right after --runs)")
    g.add_argument("--max-secs", type=positive_float, default=150.0, help="...and stop after this long (default 150)")
    s = p.add_argument_group("settings (override the device profile)")
    s.add_argument("--threads", "-t", type=positive_int, help="interpreter threads")
    s.add_argument("--delegate", choices=["none", "xnnpack", "edgetpu", "external", "gpu", "nnapi"], help="delegate to use")
    s.add_argument("--delegate-path", help="delegate library on the device (external/edgetpu)")
    s.add_argument("--affinity", help="pin to these CPUs, e.g. 2,3 or 0-3 (Linux: sched_setaffinity; Android: taskset)")
    s.add_argument("--op-profiling", action="store_true", help="per-op timings (Android benchmark_model)")
    p.add_argument("--out", "-o", metavar="FILE",
                   help="write one results JSON here (default: runs/profile-*.json in each model's results folder; "
                        "models outside a results folder are not saved)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--no-save", action="store_true", help="write no results document (not even --out)")
    p.add_argument("--json", action="store_true", help="print the results document on stdout instead of a table")
    p.add_argument("--verbose", "-v", action="store_true", help="show the device's own output")


def _affinity(text: str | None) -> list[int] | None:
    if not text:
        return None
    cpus: list[int] = []
    try:
        for part in (c.strip() for c in text.split(",")):
            if "-" in part.lstrip("-"):
                lo, hi = (int(x) for x in part.split("-", 1))
                cpus += range(lo, hi + 1)
            elif part:
                cpus.append(int(part))
    except ValueError:
        raise UsageError(f"--affinity {text!r} is not a comma-separated list of CPU numbers", hint="e.g. --affinity 2,3 or --affinity 0-3") from None
    if not cpus or any(c < 0 for c in cpus):
        raise UsageError(f"--affinity {text!r}: CPU numbers must be 0 or more", hint="e.g. --affinity 2,3")
    return cpus


def run(args: argparse.Namespace, env: Env) -> int:
    """Runs the profile job; prints the table (or ``--json``); 0 ok, 7 partial."""
    from edgeq import api
    from edgeq.cli.progress import cancelled_with_results, consume
    from edgeq.events import CancelToken

    req = api.ProfileRequest(
        models=list(args.models), devices=args.device or ["local"], threads=args.threads, runs=args.runs,
        warmup=args.warmup, min_secs=args.min_secs, max_secs=args.max_secs, delegate=args.delegate,
        delegate_path=args.delegate_path, affinity=_affinity(args.affinity), op_profiling=args.op_profiling,
        out=args.out, overwrite=args.overwrite, write=not args.no_save,
        command="edgeq " + shlex.join(getattr(args, "_argv", ["profile", *args.models])),
    )
    cancel = CancelToken()
    try:
        result = consume(api.profile(req, cancel=cancel), env, cancel, verbose=args.verbose)
    except Cancelled as exc:
        raise cancelled_with_results(exc, cancel) from None
    doc = result.to_dict()
    if args.json:
        env.out(dumps_json(doc))
    else:
        print_table(doc, env)
    _say_where(args, result, env)
    if doc["partial"]:
        env.err(f"edgeq: warning: partial result: {doc['partial_reason']}")
        return ExitStatus.PARTIAL
    return ExitStatus.OK


def _say_where(args: argparse.Namespace, result: Any, env: Env) -> None:
    """Where the document went, or that (part of) it was not saved and how to save it."""
    for path in result.paths:
        env.err(f"wrote profile to {path}")
    if args.no_save:
        env.err("profile not saved (--no-save)")
    elif result.unsaved:
        which = ", ".join(result.unsaved)
        env.err(f"profile of {which} not saved: {'it is' if len(result.unsaved) == 1 else 'they are'} not in a results folder "
                "(one with a manifest.json from edgeq convert); pass --out FILE to save it")


def _ms(us: Any) -> str:
    return f"{us / 1000:.3f}" if isinstance(us, (int, float)) else "–"


def _labels(runs: list[dict[str, Any]]) -> dict[str, str]:
    """Model path → its table label: the variant name when it names one model, else the file name
    without .tflite (else the path as given), so rows stay short without becoming ambiguous."""
    models = list(dict.fromkeys(r["model"] for r in runs))
    variant = {r["model"]: r["variant"] for r in runs}
    file = {r["model"]: r["model_file"] for r in runs}
    out = {}
    for m in models:
        stem = file[m].rsplit(".", 1)[0]
        if variant[m] != stem and sum(variant[o] == variant[m] for o in models) == 1:
            out[m] = variant[m]  # a manifest named it (int8, float16…)
        elif sum(file[o] == file[m] for o in models) == 1:
            out[m] = stem  # every model is a .tflite: the suffix only costs width
        else:
            out[m] = m
    return out


TABLE_WIDTH = 120


def print_table(doc: dict[str, Any], env: Env) -> None:
    """One table per device, one row per model (fits 120 columns), then each run's error and notes.

    What every row of a table shares goes in its title instead of a column: the device, the threads
    and delegate (when all its runs used the same), and the status (when every run is ok).
    """

    runs = doc["runs"]
    labels = _labels(runs)
    devices = list(dict.fromkeys(r["device"]["name"] for r in runs))
    console = env.table_console(TABLE_WIDTH)
    for i, dev in enumerate(devices):
        if i:
            console.print()
        console.print(_device_table(dev, [r for r in runs if r["device"]["name"] == dev], labels))
    # One line per distinct failure: a device without Python fails every model the same way.
    failures: dict[tuple[str, str, str, str], list[str]] = {}
    for r in runs:
        if r.get("error"):
            key = (r["device"]["name"], r["status"], r["error"]["message"], r["error"].get("hint") or "")
            failures.setdefault(key, []).append(r["model_file"])
    for (dev, status, message, hint), files in failures.items():
        who = files[0] if len(files) == 1 else f"{len(files)} models ({', '.join(files[:3])}{', …' if len(files) > 3 else ''})"
        console.print(f"{who} on {dev}: {status}: {message}" + (f" (hint: {hint})" if hint else ""), soft_wrap=True)
    for r in runs:
        for w in r.get("warnings", []):
            console.print(f"{r['model_file']} on {r['device']['name']}: note: {w}", soft_wrap=True)


def _device_table(device: str, runs: list[dict[str, Any]], labels: dict[str, str]) -> Any:
    from rich.table import Table

    settings = {(r["settings"]["threads"], r["settings"]["delegate"]) for r in runs}
    shared, all_ok = len(settings) == 1, all(r["status"] == "ok" for r in runs)
    title = f"latency (ms) on {device}"
    if shared:
        threads, delegate = next(iter(settings))
        title += f"; {threads} thread{'s' if threads != 1 else ''}, delegate {delegate}"
    t = Table(title=title, title_justify="left")
    cols = ["model", "status", "runs", "median", "mean ± std", "p90", "p99", "min", "init", "first", "peak RSS MB", "delegated", "threads / delegate"]
    drop = ({"threads / delegate"} if shared else set()) | ({"status"} if all_ok else set())
    for c in [c for c in cols if c not in drop]:
        wraps = c in ("model", "peak RSS MB", "threads / delegate")
        t.add_column(c, justify="left" if c in ("model", "status", "threads / delegate") else "right", no_wrap=not wraps, overflow="fold")
    for r in runs:
        s, m, d, st = r["stats"], r["memory"], r["delegate_coverage"], r["settings"]
        cov = f"{d['delegated_nodes']}/{d['total_nodes']}" if d.get("total_nodes") else "–"
        mean = f"{_ms(s['mean_us'])} ± {_ms(s['std_us'])}" if s.get("mean_us") is not None else "–"
        row = [
            labels[r["model"]], r["status"], str(s.get("count") or 0),
            _ms(s.get("median_us")), mean, _ms(s.get("p90_us")), _ms(s.get("p99_us")), _ms(s.get("min_us")),
            f"{s['init_ms']:.1f}" if s.get("init_ms") is not None else "–", _ms(s.get("first_inference_us")),
            f"{m['peak_rss_mb']:.1f}" if m.get("measured") else "not measured", cov, f"{st['threads']} / {st['delegate']}",
        ]
        t.add_row(*[v for c, v in zip(cols, row) if c not in drop])
    return t
