"""Entry point of the ``edgeq`` command: argument parsing, dispatch, error → exit code.

Layered as httpie does: ``main(argv, env) -> int`` never calls ``sys.exit`` and takes its
streams from ``env``, so tests run it in-process. Subcommand modules are imported only when
chosen, so ``edgeq --help`` stays fast and never imports TensorFlow.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from edgeq import __version__
from edgeq.cli.context import Env
from edgeq.errors import Cancelled, EdgeqError, ExitStatus

# name -> (module under edgeq.cli, one-line help). Modules define add_arguments(parser) and run(args, env).
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "convert": ("convert_cmd", "convert a Keras/SavedModel model to TFLite variants (float32, float16, dynamic, int8, int16x8)"),
    "eval": ("eval_cmd", "measure accuracy of .tflite variants on labelled images against the float model"),
    "analyze": ("analyze_cmd", "per-layer quantization error of the int8 model, most sensitive layers first"),
    "profile": ("profile_cmd", "measure latency and memory on this host, ARM boards over SSH, Edge TPU, Android"),
    "devices": ("devices_cmd", "list and check device profiles"),
    "report": ("report_cmd", "render a results folder as HTML, Markdown, CSV or JSON"),
    "run": ("run_cmd", "replay a recipe (TOML) saved by the GUI, headless"),
    "gui": ("gui_cmd", "open the desktop wizard"),
}

EPILOG = """exit codes: 0 ok, 1 internal error, 2 usage, 3 bad input, 4 conversion/evaluation failed,
5 device error, 6 output error, 7 partial result, 130 cancelled.
Run 'edgeq COMMAND --help' for a command's options."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so usage errors share the error path."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageExit(message, self)


class _UsageExit(Exception):
    def __init__(self, message: str, parser: argparse.ArgumentParser) -> None:
        super().__init__(message)
        self.parser = parser


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Builds the parser; with ``only`` set, just that subcommand's module is imported."""
    parser = _Parser(
        prog="edgeq",
        description="edgeq: convert, evaluate, profile and report vision models for edge devices.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"edgeq {__version__}")
    parser.add_argument("--traceback", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS, help="show the full traceback on errors")
        if name == only:
            mod = importlib.import_module(f"edgeq.cli.{module}")
            mod.add_arguments(p)
            p.set_defaults(_run=mod.run)
    return parser


def _chosen(argv: Sequence[str]) -> str | None:
    for a in argv:
        if a in SUBCOMMANDS:
            return a
        if not a.startswith("-"):
            return None
    return None


def main(argv: Sequence[str] | None = None, env: Env | None = None) -> int:
    """Runs the CLI; returns the exit status (see :class:`edgeq.errors.ExitStatus`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    env = env or Env.from_process()
    traceback = "--traceback" in argv
    try:
        chosen = _chosen(argv)
        parser = build_parser(chosen)
        try:
            args = parser.parse_args(argv)
        except _UsageExit as exc:
            prog = exc.parser.prog if exc.parser.prog != "edgeq" or not chosen else f"edgeq {chosen}"
            env.err(f"edgeq: error: {exc}")
            env.err(f"hint: run '{prog} --help' for usage")
            return ExitStatus.USAGE
        except SystemExit as exc:  # --help / --version
            return int(exc.code or 0)
        if not getattr(args, "command", None):
            parser.print_help(env.stdout)
            return ExitStatus.USAGE
        args._argv = argv
        return int(args._run(args, env) or 0)
    except KeyboardInterrupt:
        _print_traceback(env, traceback)
        env.err("edgeq: cancelled")
        return ExitStatus.CANCELLED
    except Cancelled as exc:
        _print_traceback(env, traceback)
        env.err(f"edgeq: cancelled: {exc.message}")
        return ExitStatus.CANCELLED
    except EdgeqError as exc:
        _print_traceback(env, traceback)
        env.err(f"edgeq: error: {exc.message}")
        if exc.hint:
            env.err(f"hint: {exc.hint}")
        return exc.exit_code
    except Exception as exc:  # a bug: one line, and how to see more
        _print_traceback(env, traceback)
        env.err(f"edgeq: error: internal error: {type(exc).__name__}: {exc}")
        env.err("hint: re-run with --traceback and report it" if not traceback else "hint: please report this traceback")
        return ExitStatus.ERROR


def _print_traceback(env: Env, wanted: bool) -> None:
    """With --traceback, the stack goes first; the error line, hint and exit code stay the same."""
    if wanted:
        import traceback as tb

        env.err(tb.format_exc().rstrip())


def entry() -> None:
    """Console-script entry point."""
    code = main()
    if code == ExitStatus.CANCELLED:
        # After an interrupted conversion, TensorFlow's runtime can abort while the interpreter
        # finalizes ("FATAL: exception not rethrown", exit -6). Every result is already written
        # atomically and the streams are flushed here, so skip finalization to exit 130 reliably.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    sys.exit(code)
