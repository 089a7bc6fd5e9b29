"""``edgeq gui``: open the desktop wizard (PySide6 is imported only when this runs)."""

from __future__ import annotations

import argparse

from edgeq.cli.context import Env


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recipe", help="open with the settings of a saved recipe (TOML)")
    p.add_argument("--example", action="store_true", help="start with the bundled example selected")


def run(args: argparse.Namespace, env: Env) -> int:
    from edgeq.errors import EdgeqError

    try:
        from edgeq.gui.app import main
    except ImportError as exc:  # PySide6/pyqtgraph missing or no Qt platform libraries
        raise EdgeqError(f"the GUI cannot start: {exc}",
                         hint="install the GUI dependencies: pip install 'PySide6-Essentials>=6.6' 'pyqtgraph>=0.13.7'") from None
    argv = ["edgeq-gui"]
    if args.recipe:
        argv += ["--recipe", args.recipe]
    if args.example:
        argv.append("--example")
    return main(argv)
