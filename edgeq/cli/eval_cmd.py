"""``edgeq eval``: accuracy of every variant on your labelled images, side by side, with a verdict."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from edgeq.cli.argtypes import non_negative_float, positive_int
from edgeq.cli.context import Env
from edgeq.cli.options import add_preprocess_arguments
from edgeq.errors import Cancelled, ExitStatus
from edgeq.fsio import dumps_json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("models", nargs="+", metavar="MODEL",
                   help="a results folder (edgeq convert --out), or .tflite files")
    p.add_argument("--data", "-d", required=True,
                   help="evaluation images: one subfolder per class, a flat folder with --csv, or unlabelled")
    p.add_argument("--reference", help="float .tflite to compare with (default: the float32 variant)")
    p.add_argument("--csv", help="labels CSV with rows 'file,label' (file relative to --data)")
    p.add_argument("--labels", help="class names, one per line, in model-output order (default: sorted folder names)")
    p.add_argument("--top-k", type=positive_int, metavar="K",
                   help="report top-k accuracy (default 5 when there are ≥ 5 classes)")
    p.add_argument("--max-drop", type=non_negative_float, default=1.0, metavar="PP",
                   help="top-1 drop vs float (percentage points) the recommendation accepts (default 1.0)")
    p.add_argument("--limit", type=positive_int, metavar="N",
                   help="evaluate a random sample of N images (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the --limit sample (default 0)")
    p.add_argument("--workers", type=positive_int, metavar="N", help="worker threads (default: every core)")
    g = p.add_argument_group("preprocessing (default: as recorded in the results folder's manifest)")
    add_preprocess_arguments(g, default_from="the results folder's manifest")
    p.add_argument("--no-drift", action="store_true", help="skip the calibration-vs-evaluation drift check")
    p.add_argument("--no-save", action="store_true", help="do not write runs/eval-*.json into the results folder")
    p.add_argument("--json", action="store_true", help="print the eval document on stdout instead of a table")
    p.add_argument("--verbose", "-v", action="store_true", help="show more progress detail")


def run(args: argparse.Namespace, env: Env) -> int:
    from edgeq import api
    from edgeq.cli.progress import cancelled_with_results, consume
    from edgeq.events import CancelToken

    argv_text = "edgeq " + shlex.join(getattr(args, "_argv", ["eval"]))
    req = api.EvalRequest(
        targets=list(args.models), data=args.data, reference=args.reference, csv=args.csv, labels=args.labels,
        preset=args.preprocess, color=args.color, resize=args.resize, mean=tuple(args.mean), std=tuple(args.std),
        top_k=args.top_k, max_drop=args.max_drop, limit=args.limit, seed=args.seed, workers=args.workers, drift=not args.no_drift,
        write=not args.no_save, command=argv_text,
    )
    cancel = CancelToken()
    try:
        result = consume(api.evaluate(req, cancel=cancel), env, cancel, verbose=args.verbose)
    except Cancelled as exc:
        raise cancelled_with_results(exc, cancel) from None
    doc = result.to_dict()
    if args.json:
        env.out(dumps_json(doc))
    else:
        print_table(doc, env)
        rec = doc.get("recommendation")
        if doc.get("reference") is None:
            env.out("no reference: no float32 variant among the models, so 'drop pp' and 'agree' are not measured "
                    "and nothing is recommended; pass --reference FILE (the float32 .tflite of the same model)")
        if rec:
            env.out(("recommended: " if rec["met"] else "no variant meets the target: ") + rec["reason"])
    if result.path is not None:
        env.err(f"wrote {result.path}")
    return ExitStatus.PARTIAL if result.partial else ExitStatus.OK


def _pct(v: Any) -> str:
    return f"{v:.1%}" if isinstance(v, (int, float)) and not isinstance(v, bool) else "–"


def _num(v: Any, fmt: str) -> str:
    return format(v, fmt) if isinstance(v, (int, float)) else (str(v) if v is not None else "–")


def print_table(doc: dict[str, Any], env: Env) -> None:
    from rich.table import Table

    from edgeq.reports.formatting import small

    d = doc["data"]
    sample = d.get("sample")
    of = f"; random sample of {sample['of']}, seed {sample['seed']}" if sample else ""
    t = Table(title=f"{d['images']} images from {d['folder']} ({d['kind']}{of})", title_justify="left")
    ks = [(v.get("metrics") or {}).get("top_k") for v in doc["variants"]]
    k = next((x["k"] for x in ks if x), None)
    cols = ["variant", "engine/calibration", "KiB", "top-1"] + ([f"top-{k}"] if k else []) + \
        ["drop pp", "agree", "KL", "SQNR dB", "note"]
    for col in cols:
        t.add_column(col, justify="left" if col in ("variant", "engine/calibration", "note") else "right")
    for v in doc["variants"]:
        m = v.get("metrics") or {}
        note = "reference" if v.get("reference") else (v["error"]["message"] if v.get("error") else "")
        top_k = [_pct((m.get("top_k") or {}).get("accuracy"))] if k else []
        t.add_row(v["mode"], "/".join(x for x in (v.get("engine"), v.get("calibration")) if x) or "–",
                  f"{v['bytes'] / 1024:.1f}", _pct(m.get("top1")), *top_k,
                  _num(v.get("drop_pp"), ".2f"), _pct(m.get("agreement_top1")), small(m.get("kl_divergence")),
                  _num(m.get("sqnr_db"), ".1f"), note)
    env.table_console(150).print(t)
