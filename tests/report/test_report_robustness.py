"""Damaged documents never crash a report: every field of every part removed or nulled, then rendered."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from edgeq.errors import EdgeqError
from edgeq.reports import render
from edgeq.reports.build import ReportRequest, build_report
from edgeq.reports.svg import Svg, log_ticks, nice_ticks, percentile

DATA = Path(__file__).parent / "data"


def _paths(doc: Any, prefix: tuple = (), depth: int = 3) -> Iterator[tuple]:
    """Key paths into a document (first element of each list only), to ``depth`` levels."""
    if depth == 0:
        return
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k == "__meta__":
                continue
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,), depth - 1)
    elif isinstance(doc, list) and doc:
        yield from _paths(doc[0], prefix + (0,), depth)


def _mutate(doc: Any, path: tuple, how: str) -> Any:
    doc = json.loads(json.dumps(doc))
    node = doc
    for k in path[:-1]:
        node = node[k]
    if how == "drop" and isinstance(node, dict):
        node.pop(path[-1], None)
    else:
        node[path[-1]] = None if how == "null" else "x"
    return doc


FILES = ["manifest.json", "runs/eval-20261124T080000Z.json", "runs/analyze-20261124T080500Z.json",
         "runs/profile-20261124T082000Z.json"]


@pytest.mark.parametrize("name", FILES)
def test_every_field_removed_or_wrong_never_crashes(tmp_path, name):
    src = DATA / "results-a"
    original = json.loads((src / name).read_text())
    paths = list(_paths(original))
    assert len(paths) > 10
    folder = tmp_path / "f"
    shutil.copytree(src, folder)
    crashes = []
    for path in paths:
        for how in ("drop", "null", "text"):
            (folder / name).write_text(json.dumps(_mutate(original, path, how)))
            try:
                doc = build_report(ReportRequest([str(folder)]))
                for fmt in ("json", "md", "csv", "html"):
                    render(doc, fmt)
            except EdgeqError:
                pass  # a clear error with a hint is an acceptable outcome
            except Exception as exc:  # noqa: BLE001 - that is what this test looks for
                crashes.append(f"{how} {'/'.join(map(str, path))}: {type(exc).__name__}: {exc}")
    assert not crashes, f"{len(crashes)} crashes, e.g.:\n" + "\n".join(crashes[:15])


def test_odd_latency_samples_still_chart(tmp_path):
    folder = tmp_path / "odd"
    shutil.copytree(DATA / "results-a", folder)
    p = folder / "runs" / "profile-20261124T081000Z.json"
    doc = json.loads(p.read_text())
    doc["runs"][0]["samples_us"] = [42.0]  # one run
    doc["runs"][1]["samples_us"] = [50.0] * 30  # all equal
    doc["runs"][2]["samples_us"] = [float(x) for x in np.random.default_rng(0).lognormal(3, 1, 50_000)]  # long
    doc["runs"][3]["samples_us"] = [10.0, float("nan"), float("inf"), -1.0, 12.0]  # garbage in
    p.write_text(json.dumps(doc))
    rep = build_report(ReportRequest([str(folder)]))
    html = render(rep, "html")
    assert html.count("<svg") >= 6
    assert not re.search(r'[=," ]-?(nan|inf)\b', html), "a non-finite number reached the SVG"
    assert any("not finite non-negative" in w["message"] for w in rep["warnings"])


def test_svg_helpers():
    assert nice_ticks(0, 7.3) == [0, 2, 4, 6, 8]
    assert nice_ticks(5, 5)[0] <= 5 <= nice_ticks(5, 5)[-1]
    assert log_ticks(0.006, 0.3) == [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5]
    xs = sorted(np.random.default_rng(1).normal(size=101))
    for q in (5, 25, 50, 95):
        assert math.isclose(percentile(xs, q), float(np.percentile(xs, q)), rel_tol=1e-12)
    svg = Svg(10, 10, 'a "quoted" <label>')
    svg.text(1, 1, "</svg><script>x</script>", title="<b>")
    out = str(svg.render())
    assert "<script>" not in out and "&lt;/svg&gt;&lt;script&gt;" in out and 'aria-label="a &#34;quoted&#34;' in out


def test_report_command_does_not_import_tensorflow():
    code = ("import sys; from edgeq.cli.main import main; "
            f"rc = main(['report', {str(DATA / 'results-a')!r}, '--format', 'html', '-o', '/dev/null', '--overwrite']); "
            "heavy = [m for m in ('tensorflow', 'keras', 'cv2', 'PySide6') if m in sys.modules]; "
            "print(rc, heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stdout + out.stderr
