"""``edgeq profile``: latency and memory of .tflite models on devices, measured like benchmark_model."""

from __future__ import annotations

import argparse
import json
import shlex
from typing import Any

from edgeq.cli.context import Env
from edgeq.errors import ExitStatus, UsageError


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Adds ``edgeq profile``'s arguments to ``p``."""
    p.add_argument("models", nargs="+", metavar="MODEL", help=".tflite files (several: each runs on every device)")
    p.add_argument("--device", "-d", action="append", metavar="NAME",
                   help="device profile, repeatable; devices run concurrently (default: local). See 'edgeq devices list'")
    g = p.add_argument_group("measurement (defaults as TFLite's benchmark_model)")
    g.add_argument("--runs", type=int, default=50, help="at least this many regular runs (default 50)")
    g.add_argument("--warmup", type=int, default=1, help="warmup runs, reported apart (default 1)")
    g.add_argument("--min-secs", type=float, default=1.0, help="regular runs last at least this long (default 1)")
    g.add_argument("--max-secs", type=float, default=150.0, help="...and stop after this long (default 150)")
    s = p.add_argument_group("settings (override the device profile)")
    s.add_argument("--threads", "-t", type=int, help="interpreter threads")
    s.add_argument("--delegate", choices=["none", "xnnpack", "edgetpu", "external", "gpu", "nnapi"], help="delegate to use")
    s.add_argument("--delegate-path", help="delegate library on the device (external/edgetpu)")
    s.add_argument("--affinity", help="pin to these CPUs, e.g. 2,3 (Linux: sched_setaffinity; Android: taskset)")
    s.add_argument("--op-profiling", action="store_true", help="per-op timings (Android benchmark_model)")
    p.add_argument("--out", "-o", help="results JSON (default: runs/profile-*.json in the models' results folder)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--json", action="store_true", help="print the results document on stdout instead of a table")
    p.add_argument("--verbose", "-v", action="store_true", help="show the device's own output")


def _affinity(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        cpus = [int(c) for c in text.split(",") if c.strip()]
    except ValueError:
        raise UsageError(f"--affinity {text!r} is not a comma-separated list of CPU numbers", hint="e.g. --affinity 2,3") from None
    if any(c < 0 for c in cpus):
        raise UsageError("--affinity CPU numbers must be >= 0")
    return cpus


def run(args: argparse.Namespace, env: Env) -> int:
    """Runs the profile job; prints the table (or ``--json``); 0 ok, 7 partial."""
    from edgeq import api
    from edgeq.cli.progress import consume
    from edgeq.events import CancelToken

    req = api.ProfileRequest(
        models=list(args.models), devices=args.device or ["local"], threads=args.threads, runs=args.runs,
        warmup=args.warmup, min_secs=args.min_secs, max_secs=args.max_secs, delegate=args.delegate,
        delegate_path=args.delegate_path, affinity=_affinity(args.affinity), op_profiling=args.op_profiling,
        out=args.out, overwrite=args.overwrite,
        command="edgeq " + shlex.join(getattr(args, "_argv", ["profile", *args.models])),
    )
    cancel = CancelToken()
    result = consume(api.profile(req, cancel=cancel), env, cancel, verbose=args.verbose)
    doc = result.to_dict()
    if args.json:
        env.out(json.dumps(doc, indent=2))
    else:
        print_table(doc, env)
    if result.path is not None:
        env.err(f"profile written to {result.path}")
    if doc["partial"]:
        env.err(f"edgeq: warning: partial result: {doc['partial_reason']}")
        return ExitStatus.PARTIAL
    return ExitStatus.OK


def _ms(us: Any) -> str:
    return f"{us / 1000:.3f}" if isinstance(us, (int, float)) else "–"


def print_table(doc: dict[str, Any], env: Env) -> None:
    """One row per model × device, then each run's error and notes."""
    from rich.console import Console
    from rich.table import Table

    t = Table(title="latency (ms) per model and device", title_justify="left")
    cols = ("model", "device", "status", "runs", "median", "mean ± std", "p90", "p99", "min", "init", "first", "peak MB", "delegated", "threads/delegate")
    for c in cols:
        t.add_column(c, justify="left" if c in ("model", "device", "status", "threads/delegate") else "right")
    for r in doc["runs"]:
        s, m, d, st = r["stats"], r["memory"], r["delegate_coverage"], r["settings"]
        cov = f"{d['delegated_nodes']}/{d['total_nodes']}" if d.get("total_nodes") else "–"
        mean = f"{_ms(s['mean_us'])} ± {_ms(s['std_us'])}" if s.get("mean_us") is not None else "–"
        t.add_row(
            f"{r['variant']} ({r['model_file']})", r["device"]["name"], r["status"], str(s.get("count") or 0),
            _ms(s.get("median_us")), mean, _ms(s.get("p90_us")), _ms(s.get("p99_us")), _ms(s.get("min_us")),
            f"{s['init_ms']:.1f}" if s.get("init_ms") is not None else "–", _ms(s.get("first_inference_us")),
            f"{m['peak_rss_mb']:.1f}" if m.get("measured") else "not measured", cov, f"{st['threads']} / {st['delegate']}",
        )
    console = Console(file=env.stdout, width=160, highlight=False)
    console.print(t)
    for r in doc["runs"]:
        if r.get("error"):
            console.print(f"{r['model_file']} on {r['device']['name']}: {r['status']}: {r['error']['message']}"
                          + (f" (hint: {r['error']['hint']})" if r["error"].get("hint") else ""))
        for w in r.get("warnings", []):
            console.print(f"{r['model_file']} on {r['device']['name']}: note: {w}")
