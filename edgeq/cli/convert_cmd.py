"""``edgeq convert``: one model in, every variant out, each checked against float."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path
from typing import Any

from edgeq.cli.argtypes import positive_int
from edgeq.cli.context import Env
from edgeq.cli.options import add_preprocess_arguments
from edgeq.errors import Cancelled, ExitStatus, UsageError
from edgeq.fsio import dumps_json

MODES = ("float32", "float16", "dynamic", "int8", "int16x8")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", nargs="?", help=".keras / .h5 file or SavedModel folder")
    p.add_argument("--example", action="store_true", help="use the bundled example model and images")
    p.add_argument("--out", "-o", help="results folder (default: ./edgeq-out/<model name>)")
    p.add_argument("--overwrite", action="store_true", help="replace files a previous run wrote in --out")
    p.add_argument("--mode", "-m", action="append", metavar="MODE",
                   help=f"variant to produce, repeatable: {', '.join(MODES)} "
                        "(default: all five with --calib; float32, float16, dynamic without)")
    g = p.add_argument_group("calibration and preprocessing")
    g.add_argument("--calib", help="folder of your images (searched recursively) for static quantization")
    g.add_argument("--num-calib", type=positive_int, default=None,
                   help="images to sample for calibration (default: 200, or all when the folder has fewer, with a warning; "
                        "an explicit N with fewer images is an error unless --allow-fewer)")
    g.add_argument("--seed", type=int, default=0, help="seed of the calibration sample (default 0)")
    g.add_argument("--allow-fewer", action="store_true", help="calibrate with fewer images than --num-calib")
    g.add_argument("--num-check", type=positive_int, default=100, help="samples the convert-time check compares (default 100)")
    add_preprocess_arguments(g, default_from="from the model, printed at the start", resize_default="stretch")
    q = p.add_argument_group("integer modes")
    q.add_argument("--io", choices=["float32", "int8", "uint8", "int16"], default="float32",
                   help="input/output type of int8/int16x8 models (uint8/int8 for Coral-style integer I/O)")
    q.add_argument("--per-tensor", action="store_true", help="per-tensor instead of per-channel weight scales")
    q.add_argument("--strict-int", action="store_true", help="fail rather than keep float ops (Edge TPU needs this)")
    q.add_argument("--target", choices=["edgetpu"], help="also check Edge TPU compatibility and run edgetpu_compiler")
    q.add_argument("--engine", choices=["tflite-converter", "litert-quantizer"],
                   help="who makes int8: TFLiteConverter (default) or litert-quantizer (from the float32 model)")
    q.add_argument("--calibration", choices=["min-max", "moving-average", "auto"],
                   help="range calibration: min-max (default); litert-quantizer also moving-average, or auto "
                        "(tries both, keeps the one closest to float on your images)")
    mp = p.add_argument_group("automatic mixed precision")
    mp.add_argument("--max-drop", type=float, metavar="PP",
                    help="keep the most sensitive ops in float until int8's top-1 drop vs float on --data is ≤ PP points")
    mp.add_argument("--data", help="labelled images (one subfolder per class) that --max-drop measures accuracy on")
    mp.add_argument("--data-preprocess", choices=["raw", "unit", "symmetric", "imagenet", "caffe"],
                    help="preset for --data when it differs from calibration's (default: the same)")
    p.add_argument("--trust-model", action="store_true", help="allow Lambda layers (runs code stored in the model file)")
    p.add_argument("--json", action="store_true", help="print the manifest JSON on stdout instead of a table")
    p.add_argument("--verbose", "-v", action="store_true", help="show more progress detail")


def build_request(args: argparse.Namespace, argv_text: str) -> Any:
    from edgeq.conversion import ConvertRequest

    labels = None
    model, calib = args.model, args.calib
    preset, color, resize = args.preprocess, args.color, args.resize
    out = args.out
    if args.example:
        from edgeq.example import bundled_example

        ex = bundled_example()
        if model:
            raise UsageError("--example and a model path were both given", hint="drop one of them")
        model, calib = str(ex.model), calib or str(ex.calib)
        preset = preset or ex.preprocess.get("preset")
        color = color or ex.preprocess.get("color")
        labels = ex.labels
        out = out or "edgeq-out/example"
        if args.num_calib is None and calib == str(ex.calib):
            from edgeq.calibration import list_images

            args.num_calib = len(list_images(ex.calib)[0])
    if not model:
        raise UsageError("no model given", hint="pass a model path, or --example to try the bundled one")
    if out is None:
        p = Path(model)
        out = str(Path("edgeq-out") / (p.name if p.is_dir() else p.stem))
    return ConvertRequest(
        model=model, out=out, calib=calib, modes=args.mode or [], preset=preset, color=color, resize=resize,
        mean=tuple(args.mean), std=tuple(args.std), num_calib=args.num_calib or 200, num_check=args.num_check,
        seed=args.seed, allow_fewer=args.allow_fewer or args.num_calib is None, io=args.io, per_tensor=args.per_tensor,
        strict_int=args.strict_int, trust_model=args.trust_model, overwrite=args.overwrite, target=args.target,
        labels=labels, command=argv_text,
        max_drop=getattr(args, "max_drop", None), data=getattr(args, "data", None),
        data_preset=getattr(args, "data_preprocess", None),
        engine=getattr(args, "engine", None), calibration_method=getattr(args, "calibration", None),
    )


def run(args: argparse.Namespace, env: Env) -> int:
    from edgeq import api
    from edgeq.cli.progress import consume
    from edgeq.events import CancelToken

    argv_text = "edgeq " + shlex.join(getattr(args, "_argv", ["convert"]))
    req = build_request(args, argv_text)
    cancel = CancelToken()
    try:
        result = consume(api.convert(req, cancel=cancel), env, cancel, verbose=args.verbose)
    except Cancelled:
        raise Cancelled(_what_was_kept(cancel)) from None
    doc = result.to_dict()
    if args.json:
        env.out(dumps_json(doc))
    else:
        print_table(doc, env)
        env.err(f"wrote {sum(1 for v in doc['variants'] if v['status'] == 'ok')} model(s) and manifest.json to {result.out}")
    return ExitStatus.OK if result.ok else ExitStatus.PARTIAL


def _what_was_kept(cancel: Any) -> str:
    """The cancel message: which finished variants the partial manifest lists, or that nothing was written."""
    for manifest in cancel.written:
        try:
            kept = [v["file"] for v in json.loads(Path(manifest).read_text(encoding="utf-8"))["variants"] if v["status"] == "ok"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if kept:
            return (f"interrupted (Ctrl-C); {len(kept)} finished variant(s) kept in {Path(manifest).parent} "
                    f"({', '.join(kept)}), manifest.json marked partial")
    return "interrupted (Ctrl-C) before any variant finished; nothing was written"


def print_table(doc: dict[str, Any], env: Env) -> None:
    from rich.table import Table

    t = Table(title=f"{doc['model']['name'] or doc['model']['path']}: variants", title_justify="left")
    for col in ("mode", "status", "size KiB", "× float32", "top-1 agree", "SQNR dB", "cosine", "secs", "note"):
        t.add_column(col, justify="left" if col in ("mode", "status", "note") else "right")
    for v in doc["variants"]:
        c = v.get("checks") or {}
        agree = c.get("top1_agreement")
        t.add_row(
            v["mode"], v["status"],
            f"{v['bytes'] / 1024:.1f}" if v.get("bytes") else "–",
            f"{v['size_vs_float32']:.2f}" if v.get("size_vs_float32") else "–",
            f"{agree:.1%}" if isinstance(agree, float) else "–",
            f"{c['sqnr_db']:.1f}" if isinstance(c.get("sqnr_db"), float) else str(c.get("sqnr_db", "–")),
            f"{c['cosine']:.4f}" if isinstance(c.get("cosine"), float) else "–",
            f"{v.get('seconds', 0):.1f}",
            (v["error"]["message"] if v.get("error") else ""),
        )
    env.table_console(140).print(t)
