"""Report documents and their renderings (HTML, Markdown, CSV).

A report is one JSON document built from results folders (:func:`build_report`); the renderings
are pure functions of it. Heavy pieces (Jinja2) are imported only when rendering HTML.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ReportRequest", "build_report", "load_report", "render", "FORMATS"]

FORMATS = ("html", "md", "csv", "json")


def __getattr__(name: str) -> Any:
    if name in ("ReportRequest", "build_report"):
        from edgeq.reports import build

        return getattr(build, name)
    raise AttributeError(f"module 'edgeq.reports' has no attribute {name!r}")


def render(doc: dict[str, Any], fmt: str) -> str:
    """Renders a report document as ``html``, ``md``, ``csv`` or ``json`` text."""
    if fmt == "html":
        from edgeq.reports.html import render_html

        return render_html(doc)
    if fmt == "md":
        from edgeq.reports.markdown import render_markdown

        return render_markdown(doc)
    if fmt == "csv":
        from edgeq.reports.tables import render_csv

        return render_csv(doc)
    if fmt == "json":
        from edgeq.fsio import dumps_json

        return dumps_json(doc, ensure_ascii=False) + "\n"
    raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")


def load_report(path: str) -> dict[str, Any]:
    """Loads a report JSON written by ``edgeq report --format json`` (migrated to the current schema)."""
    from edgeq.reports.results import load_report_document

    return load_report_document(path)
