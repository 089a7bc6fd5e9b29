"""The CSV rendering of a report document: one row per variant × device with the headline metrics.

(Named ``tables`` rather than ``csv`` so it does not shadow the standard library module it uses.)
Text cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) are
prefixed with ``'``: model names and folders come from users' files.
"""

from __future__ import annotations

import csv
import io
from typing import Any

COLUMNS = [
    "source", "folder", "model", "variant", "device", "status", "bytes", "size_vs_float32", "top1", "drop_pp",
    "accuracy_basis", "meets_target", "agreement_top1", "sqnr_db", "median_ms", "mean_ms", "p90_ms", "p99_ms",
    "std_ms", "runs", "throughput_ips", "speedup_vs_float32", "peak_rss_mb", "threads", "delegate", "runtime",
    "recommended",
]


def _safe(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


def headline_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The CSV's rows as dicts (``COLUMNS`` keys), in the order of the report's matrix."""
    folders = {s["id"]: s["folder"] for s in doc["sources"]}
    models = {m["source"]: m.get("name") for m in doc["models"]}
    rows = []
    for r in doc["matrix"]:
        row = {k: r.get(k) for k in COLUMNS}
        row.update(source=r["source"], folder=folders.get(r["source"]), model=models.get(r["source"]),
                   variant=r["mode"])
        rows.append(row)
    return rows


def render_csv(doc: dict[str, Any]) -> str:
    """Renders a report document as CSV text (RFC 4180, ``\\r\\n`` line ends, header row first).

    Args:
        doc: a report document from :func:`edgeq.reports.build.build_report`.
    """
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(COLUMNS)
    for row in headline_rows(doc):
        w.writerow([_safe(row[k]) for k in COLUMNS])
    return buf.getvalue()
