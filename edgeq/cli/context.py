"""The CLI's environment: streams and terminal facts, injectable for in-process tests."""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class Env:
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdout_isatty: bool = False
    stderr_isatty: bool = False

    @classmethod
    def from_process(cls) -> "Env":
        return cls(sys.stdout, sys.stderr, sys.stdout.isatty(), sys.stderr.isatty())

    @classmethod
    def captured(cls) -> "Env":
        return cls(io.StringIO(), io.StringIO(), False, False)

    def out(self, text: str = "") -> None:
        print(text, file=self.stdout)

    def err(self, text: str) -> None:
        print(text, file=self.stderr)
