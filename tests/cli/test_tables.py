"""Result tables fit the user's terminal, and piped output does not depend on it."""

from __future__ import annotations

import io

import pytest

from edgeq.cli.context import Env


def test_tables_follow_the_terminal_width_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "90")
    tty = Env(io.StringIO(), io.StringIO(), stdout_isatty=True)
    piped = Env(io.StringIO(), io.StringIO(), stdout_isatty=False)
    assert tty.table_console(160).width == 90
    assert piped.table_console(160).width == 160


def test_device_list_fits_a_100_column_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """`edgeq devices list` on a 100-column terminal: no line wider than the terminal."""
    from edgeq.cli.main import main

    monkeypatch.setenv("COLUMNS", "100")
    env = Env(io.StringIO(), io.StringIO(), stdout_isatty=True)
    assert main(["devices", "list"], env) == 0
    lines = env.stdout.getvalue().splitlines()
    assert any("rpi5" in line for line in lines)
    assert max(len(line) for line in lines) <= 100
