"""The CLI's environment: streams and terminal facts, injectable for in-process tests."""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass
class Env:
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdout_isatty: bool = False
    stderr_isatty: bool = False

    @classmethod
    def from_process(cls) -> "Env":
        """The real terminal. stderr is a duplicate of fd 2, so messages and the progress bar
        still reach the user while a conversion captures TensorFlow's native output."""
        err: TextIO = sys.stderr
        try:
            err = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1, encoding="utf-8", errors="replace")
        except (OSError, ValueError, AttributeError):
            pass
        return cls(sys.stdout, err, _isatty(sys.stdout), _isatty(sys.stderr))

    @classmethod
    def captured(cls) -> "Env":
        return cls(io.StringIO(), io.StringIO(), False, False)

    def out(self, text: str = "") -> None:
        print(text, file=self.stdout)

    def err(self, text: str) -> None:
        print(text, file=self.stderr)

    def table_console(self, width: int) -> Any:
        """A rich Console for result tables on stdout: the terminal's width when stdout is one
        (tables re-flow to fit), else ``width`` so piped output is the same on every machine."""
        import shutil

        from rich.console import Console

        if self.stdout_isatty:
            width = shutil.get_terminal_size((width, 24)).columns
        return Console(file=self.stdout, width=width, highlight=False)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (ValueError, AttributeError):
        return False
