"""``edgeq run recipe.toml``: replay a recipe saved by the GUI, headless."""

from __future__ import annotations

import argparse
import json
import shlex

from edgeq.cli.context import Env
from edgeq.errors import ExitStatus


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("recipe", help="recipe file (TOML) saved by 'edgeq gui' (see docs/recipes.md)")
    p.add_argument("--out", "-o", help="results folder (default: the recipe's [output] folder)")
    p.add_argument("--overwrite", action="store_true", help="replace files a previous run wrote in the results folder")
    p.add_argument("--json", action="store_true", help="print what was produced as JSON on stdout")
    p.add_argument("--verbose", "-v", action="store_true", help="show more progress detail")


def run(args: argparse.Namespace, env: Env) -> int:
    from edgeq import api
    from edgeq.cli.progress import consume
    from edgeq.events import CancelToken

    command = "edgeq " + shlex.join(getattr(args, "_argv", ["run", args.recipe]))
    cancel = CancelToken()
    events = api.run_recipe(args.recipe, cancel=cancel, out=args.out, overwrite=args.overwrite, command=command)
    result = consume(events, env, cancel, verbose=args.verbose)
    doc = result.to_dict()
    if args.json:
        env.out(json.dumps(doc, indent=2, default=str))
    else:
        man = doc["manifest"] or {}
        ok = [v["mode"] for v in man.get("variants", []) if v["status"] == "ok"]
        env.out(f"results: {doc['out']}")
        env.out(f"variants: {', '.join(ok) or 'none'} ({man.get('status', 'not converted')})")
        for step, why in doc["skipped"].items():
            env.out(f"skipped {step}: {why}")
        for step, err in doc["errors"].items():
            env.out(f"failed {step}: {err['message']}")
        for f in doc["report_files"]:
            env.out(f"report: {f}")
    return ExitStatus.OK if result.ok else ExitStatus.PARTIAL
