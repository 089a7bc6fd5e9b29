"""``edgeq devices list|check|show``: the device profiles, and whether a device is ready to profile."""

from __future__ import annotations

import argparse
import json
from typing import Any

from edgeq.cli.context import Env
from edgeq.errors import ExitStatus
from edgeq.fsio import dumps_json


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Adds the ``list``, ``check`` and ``show`` actions to ``p``."""
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="built-in and user profiles (device_profiles/ and ~/.config/edgeq/devices/)")
    ls.add_argument("--json", action="store_true", help="print JSON on stdout")
    ck = sub.add_parser("check", help="connect; report OS, CPU, runtime and delegates; say what is missing and how to fix it")
    ck.add_argument("name", help="device profile name")
    ck.add_argument("--json", action="store_true", help="print JSON on stdout")
    sh = sub.add_parser("show", help="print one profile's settings")
    sh.add_argument("name", help="device profile name")
    sh.add_argument("--json", action="store_true", help="print JSON on stdout")
    for action in (ls, ck, sh):  # main() reads --traceback from argv; each parser must accept it
        action.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS, help="show the full traceback on errors")


def run(args: argparse.Namespace, env: Env) -> int:
    """Dispatches to the chosen action; ``check`` exits 5 when the device is not ready."""
    return {"list": _list, "check": _check, "show": _show}[args.action](args, env)


def _console(env: Env) -> Any:
    return env.table_console(160)


def _list(args: argparse.Namespace, env: Env) -> int:
    from edgeq import api
    from edgeq.devices.profiles import user_devices_dir

    found = api.scan_devices()
    profiles = found.profiles
    for problem in found.problems:  # a broken file of yours is named; the other devices are still listed
        env.err(f"edgeq: warning: skipped {problem.error.message}")
        if problem.error.hint:
            env.err(f"hint: {problem.error.hint}")
    if args.json:
        env.out(json.dumps([p.to_dict() for p in profiles], indent=2))
        return ExitStatus.OK
    from rich.table import Table

    t = Table(title=f"device profiles (yours: {user_devices_dir()})", title_justify="left")
    for c in ("name", "transport", "where", "runtime", "delegate", "threads", "from", "description"):
        t.add_column(c)
    for p in profiles:
        t.add_row(p.name, p.transport, p.connection_label(), p.runtime if p.transport != "adb" else "benchmark_model",
                  p.delegate, str(p.threads), "built-in" if p.builtin else p.source, p.description)
    _console(env).print(t)
    return ExitStatus.OK


def _show(args: argparse.Namespace, env: Env) -> int:
    from edgeq.devices.profiles import get_profile

    p = get_profile(args.name)
    d = p.to_dict()
    if args.json:
        env.out(json.dumps(d, indent=2))
        return ExitStatus.OK
    from rich.table import Table

    t = Table(title=f"{p.name} ({p.source})", title_justify="left", show_header=False)
    t.add_column("key")
    t.add_column("value")
    for k, v in d.items():
        if isinstance(v, dict) and k in ("ssh", "adb", "expect"):
            for k2, v2 in v.items():
                t.add_row(f"{k}.{k2}", str(v2))
        elif v is not None:
            t.add_row(k, str(v))
    _console(env).print(t)
    return ExitStatus.OK


def _check(args: argparse.Namespace, env: Env) -> int:
    from edgeq import api
    from edgeq.cli.progress import consume
    from edgeq.events import CancelToken

    cancel = CancelToken()
    result = consume(api.check_device(args.name, cancel=cancel), env, cancel)
    doc = result.to_dict()
    if args.json:
        env.out(dumps_json(doc))
    else:
        from rich.table import Table

        t = Table(title=f"{doc['device']}: {doc['where']}", title_justify="left", show_header=False)
        t.add_column("fact")
        t.add_column("value")
        for k, v in doc["facts"].items():
            t.add_row(k, ", ".join(map(str, v)) if isinstance(v, list) else ("–" if v is None else str(v)))
        con = _console(env)
        if doc["facts"]:
            con.print(t)
        else:  # nothing could be asked of the device: no empty box, just the problems below
            con.print(f"{doc['device']}: {doc['where']}")
        for prob in doc["problems"]:
            con.print(f"[red]missing:[/red] {prob['problem']}\n  fix: {prob['fix']}", soft_wrap=True)
        for note in doc["notes"]:
            con.print(f"note: {note}", soft_wrap=True)
        con.print("ready to profile" if doc["ok"] else f"not ready: {len(doc['problems'])} problem(s) above")
    return ExitStatus.OK if result.ok else ExitStatus.DEVICE
