"""Golden Markdown and JSON for the fixed results folders (tests/report/data).

Regenerate only on purpose, then review the diff: ``EDGEQ_REGEN_GOLDEN=1 pytest tests/report``.
Volatile fields (creation time, edgeq version, absolute paths) are normalised; numbers in the
JSON are compared with a tolerance, text exactly.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import pytest

from edgeq.reports import render
from edgeq.reports.build import ReportRequest, build_report

DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent / "golden"


def normalize_text(text: str) -> str:
    """Removes what changes between runs and machines: creation time, edgeq version, absolute paths."""
    text = text.replace(str(DATA.resolve()), "<data>").replace(str(DATA), "<data>")
    return re.sub(r"Generated \S+ by edgeq \S+", "Generated <created> by edgeq <version>", text)


def normalize_doc(doc: dict[str, Any]) -> dict[str, Any]:
    doc = json.loads(normalize_text(json.dumps(doc)))
    doc["__meta__"]["created"] = "<created>"
    doc["__meta__"]["edgeq_version"] = "<version>"
    return doc


def golden(name: str, actual: str) -> str:
    """The golden text ``name``; with EDGEQ_REGEN_GOLDEN=1 it is first rewritten from ``actual``."""
    path = GOLDEN / name
    if os.environ.get("EDGEQ_REGEN_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual.encode("utf-8"))  # bytes: keep CSV's \r\n
        print(f"regenerated golden file {path}")
    if not path.exists():
        pytest.fail(f"golden file {path} is missing: run with EDGEQ_REGEN_GOLDEN=1 to create it, then review the diff")
    return path.read_bytes().decode("utf-8")


def assert_close(actual: Any, expected: Any, where: str = "$") -> None:
    """Structural equality; floats within 1e-6 relative (platform rounding), everything else exact."""
    if isinstance(expected, float) or (isinstance(actual, float) and isinstance(expected, int)):
        assert isinstance(actual, (int, float)) and math.isclose(actual, expected, rel_tol=1e-6, abs_tol=1e-9), \
            f"{where}: {actual!r} != {expected!r}"
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {type(actual).__name__} is not an object"
        assert sorted(actual) == sorted(expected), f"{where}: keys {sorted(set(actual) ^ set(expected))} differ"
        for k in expected:
            assert_close(actual[k], expected[k], f"{where}.{k}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{where}: list length differs"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_close(a, e, f"{where}[{i}]")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


@pytest.fixture(scope="module")
def single_doc() -> dict[str, Any]:
    return build_report(ReportRequest([str(DATA / "results-a")]))


@pytest.fixture(scope="module")
def compare_doc() -> dict[str, Any]:
    return build_report(ReportRequest([str(DATA / "results-a"), str(DATA / "results-b")]))


def test_golden_json(single_doc):
    actual = normalize_doc(json.loads(render(single_doc, "json")))
    expected = json.loads(golden("results-a.report.json", json.dumps(actual, indent=2, ensure_ascii=False) + "\n"))
    assert_close(actual, expected)


def test_golden_markdown(single_doc):
    actual = normalize_text(render(single_doc, "md"))
    assert actual == golden("results-a.report.md", actual)


def test_golden_markdown_comparison(compare_doc):
    actual = normalize_text(render(compare_doc, "md"))
    assert actual == golden("compare-a-b.report.md", actual)


def test_golden_csv(compare_doc):
    actual = normalize_text(render(compare_doc, "csv"))
    assert actual.count("\r\n") == 1 + len(compare_doc["matrix"])  # RFC 4180 line ends, header + one per row
    unix = actual.replace("\r\n", "\n")  # compared with \n so a git checkout's line-end policy cannot matter
    assert unix == golden("compare-a-b.report.csv", unix).replace("\r\n", "\n")
