"""``edgeq report``: merge results folders into one report; write it as HTML, Markdown, CSV or JSON."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from edgeq.cli.context import Env
from edgeq.errors import ExitStatus, OutputError, OutputExists, ResultsFolderError, UsageError

FORMATS = ("html", "md", "csv", "json")
_SUFFIXES = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md", ".csv": "csv", ".json": "json"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folders", nargs="+", metavar="FOLDER",
                   help="results folder(s) (the --out of 'edgeq convert'); several are compared side by side, "
                        "the first is the base. A report .json re-renders that report.")
    p.add_argument("--format", "-f", choices=FORMATS,
                   help="html, md, csv or json (default: from the -o suffix, else md)")
    p.add_argument("--output", "-o", metavar="FILE",
                   help="file to write (default: stdout; for html: FOLDER/report.html)")
    p.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    p.add_argument("--max-drop", type=float, default=1.0, metavar="PP",
                   help="accuracy-drop target in top-1 percentage points for the recommendation (default 1.0)")
    p.add_argument("--title", help="report title (default: from the model name)")


def _format(args: argparse.Namespace) -> str:
    """--format, else the -o suffix, else md; a --format that contradicts a known -o suffix is an error."""
    implied = _SUFFIXES.get(Path(args.output).suffix.lower()) if args.output else None
    if args.format and implied and args.format != implied:
        raise UsageError(f"-o {args.output} names a .{implied} file but --format is {args.format}",
                         hint=f"drop --format (the suffix picks {implied}), or name the file "
                              f"{Path(args.output).with_suffix('.' + args.format)}")
    return args.format or implied or "md"


def run(args: argparse.Namespace, env: Env) -> int:
    from edgeq.fsio import write_text_atomic
    from edgeq.reports import load_report, render
    from edgeq.reports.build import ReportRequest, build_report

    fmt = _format(args)
    command = "edgeq " + shlex.join(getattr(args, "_argv", ["report"]))
    first = Path(args.folders[0])
    loaded = first.is_file() and first.suffix == ".json" and first.name != "manifest.json"
    if loaded:
        if len(args.folders) > 1:
            raise UsageError("a report .json is re-rendered on its own", hint="pass either one report .json or folders")
        doc = load_report(str(first))
        if args.title:
            doc["title"] = args.title
    else:
        doc = build_report(ReportRequest(folders=list(args.folders), title=args.title, max_drop_pp=args.max_drop,
                                         command=command))
    for w in doc["warnings"]:
        w = w if isinstance(w, dict) else {"message": str(w)}
        where = f"[{w['source']}] " if w.get("source") and len(doc["sources"]) > 1 else ""
        env.err(f"edgeq: warning: {where}{w.get('message', '')}")
    try:
        text = render(doc, fmt)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        if not loaded:  # a document built just now is well-formed: this is a bug, let main() report it
            raise
        raise ResultsFolderError(f"{first} is a damaged report document ({type(exc).__name__}: {exc})",
                                 hint="re-create it with 'edgeq report FOLDER --format json'") from exc
    out = args.output
    if out is None and fmt == "html":
        out = str((first if first.is_dir() else first.parent) / "report.html")
    if out is None:
        env.stdout.write(text)
        return ExitStatus.OK
    path = Path(out)
    if path.is_dir():
        raise OutputError(f"{path} is a folder", hint=f"pass a file name, e.g. -o {path / ('report.' + fmt)}")
    if path.exists() and not args.overwrite:
        raise OutputExists(f"{path} already exists", hint="pass --overwrite to replace it, or choose another -o")
    try:
        write_text_atomic(path, text)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}", hint="choose a writable -o path") from exc
    rows = len(doc["matrix"])
    env.err(f"wrote {fmt} report to {path} ({rows} variant × device row{'s' if rows != 1 else ''}, "
            f"{len(doc['warnings'])} warning{'s' if len(doc['warnings']) != 1 else ''})")
    return ExitStatus.OK
