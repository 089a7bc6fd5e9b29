"""``edgeq analyze``: per-layer error of the int8 model against float, most sensitive layers first."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from edgeq.cli.argtypes import positive_int
from edgeq.cli.context import Env
from edgeq.cli.options import add_preprocess_arguments
from edgeq.errors import ExitStatus
from edgeq.fsio import dumps_json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="a results folder, an int8 .tflite, or a .keras/.h5/SavedModel model (with --calib)")
    p.add_argument("--reference", help="float .tflite (default: the float32 variant beside the model)")
    p.add_argument("--calib", help="calibration images (to make the int8 variant of a Keras model)")
    p.add_argument("--data", "-d", help="images to measure on (default: --calib, or the manifest's calibration folder)")
    p.add_argument("--num-samples", type=positive_int, metavar="N", default=32, help="images to measure on (default 32)")
    p.add_argument("--num-calib", type=positive_int, metavar="N", default=200, help="calibration images for a Keras model (default 200)")
    p.add_argument("--csv", help="also write the table to this CSV file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --csv file")
    p.add_argument("--top", type=positive_int, metavar="N", default=15, help="rows to print (default 15; the JSON and CSV hold all)")
    g = p.add_argument_group("preprocessing (default: as recorded in the manifest, or the model's defaults)")
    add_preprocess_arguments(g, default_from="the manifest, or the model's defaults", custom=False)
    p.add_argument("--trust-model", action="store_true", help="allow Lambda layers (runs code stored in the model file)")
    p.add_argument("--no-save", action="store_true", help="do not write runs/analyze-*.json into the results folder")
    p.add_argument("--json", action="store_true", help="print the analyze document on stdout instead of a table")
    p.add_argument("--verbose", "-v", action="store_true", help="show more progress detail")


def run(args: argparse.Namespace, env: Env) -> int:
    from edgeq import api
    from edgeq.cli.progress import consume
    from edgeq.events import CancelToken

    argv_text = "edgeq " + shlex.join(getattr(args, "_argv", ["analyze"]))
    req = api.AnalyzeRequest(
        model=args.model, reference=args.reference, calib=args.calib, data=args.data, csv=args.csv,
        overwrite=args.overwrite, num_samples=args.num_samples, num_calib=args.num_calib, preset=args.preprocess,
        color=args.color, resize=args.resize, trust_model=args.trust_model, write=not args.no_save, command=argv_text,
    )
    cancel = CancelToken()
    result = consume(api.analyze(req, cancel=cancel), env, cancel, verbose=args.verbose)
    doc = result.to_dict()
    if args.json:
        env.out(dumps_json(doc))
    else:
        print_table(doc, env, args.top)
        for p in (result.path, result.csv_path):
            if p is not None:
                env.err(f"wrote {p}")
    return ExitStatus.OK


def _n(v: Any, fmt: str, infinite: str = "inf") -> str:
    """A number for the table; the documents' "inf" (no measurable error) reads as words."""
    if v == "inf":
        return infinite
    return format(v, fmt) if isinstance(v, (int, float)) else (str(v) if v is not None else "–")


def print_table(doc: dict[str, Any], env: Env, top: int) -> None:
    from rich.table import Table

    t = Table(title=f"{doc['model']} vs {doc['reference']} on {doc['data']['samples']} images, most sensitive first",
              title_justify="left")
    for col in ("op", "type", "tensor", "SQNR dB", "own SQNR dB", "RMSE", "RMSE/scale"):
        t.add_column(col, justify="left" if col in ("type", "tensor") else "right", overflow="fold")
    for r in doc["layers"][:top]:
        t.add_row(str(r["op_index"]), r["op_name"], r["tensor"].split(";")[0][:60], _n(r["sqnr_db"], ".1f", "exact"),
                  _n(r["local_sqnr_db"], ".1f", "none added"), _n(r["rmse"], ".4g"), _n(r["scaled_rmse"], ".3f"))
    env.table_console(150).print(t)
