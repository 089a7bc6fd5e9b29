"""Consumes a job's event generator in the terminal: rich progress on stderr, warnings, Ctrl-C."""

from __future__ import annotations

from typing import Any, Callable, Iterator

from edgeq.cli.context import Env
from edgeq.errors import Cancelled
from edgeq.events import CancelToken, Done, Event, Log, LogLevel, Metric, Progress, Samples, Stage


def consume(
    events: Iterator[Event],
    env: Env,
    cancel: CancelToken,
    *,
    on_event: Callable[[Event], None] | None = None,
    verbose: bool = False,
) -> Any:
    """Runs ``events`` to completion and returns ``Done.result``.

    Ctrl-C sets ``cancel`` and closes the generator (its ``finally`` blocks clean up and keep
    partial results), then raises :class:`Cancelled` so the CLI exits 130.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(file=env.stderr, force_terminal=env.stderr_isatty or None, highlight=False, soft_wrap=True)
    bar = Bar(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not env.stderr_isatty,
    )
    tasks: dict[str, Any] = {}
    result = None
    try:
        with bar:
            for ev in events:
                if on_event is not None:
                    on_event(ev)
                if isinstance(ev, Stage):
                    key = f"{ev.variant or ''}:{ev.name}"
                    label = ev.label or ev.name
                    tasks[key] = bar.add_task(label, total=ev.total)
                    if not env.stderr_isatty:
                        console.print(f"[dim]» {label}[/dim]")
                elif isinstance(ev, Progress):
                    key = f"{ev.variant or ''}:{ev.stage}"
                    if key in tasks:
                        bar.update(tasks[key], completed=ev.done, total=ev.total)
                elif isinstance(ev, Log):
                    if ev.level == LogLevel.WARNING:
                        console.print(f"[yellow]edgeq: warning:[/yellow] {ev.message}")
                    elif ev.level == LogLevel.INFO or verbose:
                        console.print(ev.message)
                elif isinstance(ev, (Samples, Metric)):
                    pass
                elif isinstance(ev, Done):
                    result = ev.result
    except KeyboardInterrupt:
        cancel.cancel("interrupted (Ctrl-C)")
        close = getattr(events, "close", None)
        if close is not None:
            close()
        raise Cancelled("interrupted (Ctrl-C); partial results, if any, were kept and marked partial") from None
    return result


def cancelled_with_results(exc: Cancelled, cancel: CancelToken) -> Cancelled:
    """The Ctrl-C error, naming the result documents the job wrote before it stopped, or saying that
    nothing was saved."""
    where = (f"partial results written to {', '.join(map(str, cancel.written))}" if cancel.written
             else "nothing was saved")
    return Cancelled(f"{exc.message.split(';')[0]}; {where}")
