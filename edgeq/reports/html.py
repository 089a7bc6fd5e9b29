"""The HTML rendering of a report document: one self-contained page (Jinja2, autoescaped, inline SVG).

The page has no scripts and loads nothing: its Content-Security-Policy (``default-src 'none'``)
makes any stray reference fail closed, so it opens the same offline, from an e-mail attachment or
in a pull request artifact, and prints as it displays.
"""

from __future__ import annotations

import functools
from typing import Any

from markupsafe import Markup

from edgeq.reports import formatting
from edgeq.reports.charts import all_charts

TEMPLATE = "report.html.j2"
_STATUS_CLASS = {"ok": "ok", "failed": "bad", "partial": "warn", "unknown": "warn"}


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    # autoescape=True, not select_autoescape(): the template's name ends in .j2, which
    # select_autoescape(["html"]) would not match, leaving every string unescaped.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("edgeq.reports", "templates"),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _tag(status: Any) -> Markup:
    """A status badge; the text is escaped (Markup.format escapes its arguments)."""
    if status is None:
        return Markup("–")
    cls = _STATUS_CLASS.get(str(status), "warn")
    return Markup('<span class="tag {}">{}</span>').format(cls, str(status))


def render_html(doc: dict[str, Any]) -> str:
    """Renders a report document as one HTML page.

    Args:
        doc: a report document from :func:`edgeq.reports.build.build_report`.

    Returns:
        The page, with charts inline; it references no external resource.
    """
    template = _environment().get_template(TEMPLATE)
    return template.render(
        doc=doc,
        charts=all_charts(doc),
        models={m["source"]: m for m in doc.get("models", [])},
        multi=len(doc.get("sources", [])) > 1,
        f=formatting,
        tag=_tag,
    )
