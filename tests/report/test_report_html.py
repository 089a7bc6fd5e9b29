"""The HTML report in a real headless Chromium: renders, no console errors, no network, prints, escapes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from edgeq.reports import render
from edgeq.reports.build import ReportRequest, build_report

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"  # gitignored; CI keeps it as test artifacts
XSS_MODEL = "<script>window.__xss_model=1</script>evil-net"
XSS_LABEL = "bolt<script>window.__xss_label=1</script>"
XSS_IMG = '<img src=x onerror="window.__xss_img=1">nut'


def _write_html(tmp_path: Path, folders: list[Path], name: str) -> Path:
    doc = build_report(ReportRequest([str(f) for f in folders]))
    out = tmp_path / f"{name}.html"
    out.write_text(render(doc, "html"), encoding="utf-8")
    return out


def test_report_renders_without_console_errors_or_network(chromium, results_a, results_b, tmp_path):
    page = _write_html(tmp_path, [results_a, results_b], "compare")
    run = chromium.open(page.as_uri())
    assert run.errors == []
    assert run.requests == []
    # The page really rendered: title, the matrix table, and one <svg> per chart.
    title = chromium.evaluate(run, "document.querySelector('h1').textContent")
    assert title == "edgeq report: tiny"
    rows = chromium.evaluate(run, "document.querySelectorAll('#results tr').length")
    assert rows == 1 + 15  # header + 10 rows of A + 5 of B
    charts = chromium.evaluate(run, "Array.from(document.querySelectorAll('figure')).map(f => f.id)")
    for want in ("latency-distribution", "latency-runs-0", "latency-runs-1", "pareto-0", "pareto-1", "size",
                 "per-class-A", "per-class-B", "layers-0"):
        assert want in charts
    # Charts have a real size on screen (an SVG that failed to parse renders 0×0 or as text).
    box = chromium.evaluate(run, "(() => { const r = document.querySelector('#latency-distribution svg')"
                                 ".getBoundingClientRect(); return [r.width, r.height]; })()")
    assert box[0] > 500 and box[1] > 200
    assert chromium.evaluate(run, "document.querySelectorAll('script').length") == 0
    shot = chromium.screenshot(run, ARTIFACTS / "report-compare.png")
    assert shot.stat().st_size > 50_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_prints_to_pdf(chromium, results_a, tmp_path):
    page = _write_html(tmp_path, [results_a], "single")
    run = chromium.open(page.as_uri())
    assert run.errors == [] and run.requests == []
    pdf = chromium.print_pdf(run, ARTIFACTS / "report-single.pdf")
    assert pdf.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert 2 <= pages <= 12, pages  # a multi-page A4 document, not one endless page or a blank one
    # Print styles hide the on-screen table of contents.
    chromium.send("Emulation.setEmulatedMedia", {"media": "print"}, session=run.session)
    assert chromium.evaluate(run, "getComputedStyle(document.querySelector('nav.toc')).display") == "none"
    chromium.screenshot(run, ARTIFACTS / "report-single-print.png", width=794)


def test_harness_sees_network_requests_and_console_errors(chromium, tmp_path):
    """The checks above could pass vacuously if the harness saw nothing: prove it sees both."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><p>hi</p><img src="http://127.0.0.1:9/pixel.png">'
                   '<script>console.error("boom")</script></body></html>')
    run = chromium.open(bad.as_uri())
    assert any("127.0.0.1:9/pixel.png" in u for u in run.requests)
    assert any("boom" in e for e in run.errors)
    # With the report's Content-Security-Policy the same request is refused and reported.
    csp = tmp_path / "csp.html"
    csp.write_text('<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" '
                   "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"></head>"
                   '<body><img src="http://127.0.0.1:9/pixel.png"></body></html>')
    run = chromium.open(csp.as_uri())
    assert any("Content Security Policy" in e or "127.0.0.1:9" in e for e in run.errors)


def test_xss_in_model_name_and_class_label_is_shown_as_text(chromium, copy_results, results_a, tmp_path):
    folder = copy_results(results_a, "xss")
    man = json.loads((folder / "manifest.json").read_text())
    man["model"]["name"] = XSS_MODEL
    man["labels"] = [XSS_LABEL, XSS_IMG, "screw", "washer"]
    (folder / "manifest.json").write_text(json.dumps(man))
    ev_path = next((folder / "runs").glob("eval-*.json"))
    ev = json.loads(ev_path.read_text())
    ev["data"]["classes"] = [XSS_LABEL, XSS_IMG, "screw", "washer"]
    for v in ev["variants"]:
        pc = v["metrics"]["per_class"]
        v["metrics"]["per_class"] = {XSS_LABEL: pc["bolt"], XSS_IMG: pc["nut"], "screw": pc["screw"],
                                     "washer": pc["washer"]}
    ev_path.write_text(json.dumps(ev))
    doc = build_report(ReportRequest([str(folder)]))
    html = render(doc, "html")
    assert "<script" not in html  # no script element at all, escaped or not
    page = tmp_path / "xss.html"
    page.write_text(html, encoding="utf-8")
    run = chromium.open(page.as_uri())
    assert run.errors == [] and run.requests == []
    assert chromium.evaluate(run, "document.querySelectorAll('script').length") == 0
    assert chromium.evaluate(run, "document.querySelectorAll('img').length") == 0
    assert chromium.evaluate(run, "[window.__xss_model, window.__xss_label, window.__xss_img]") == [None, None, None]
    body = chromium.evaluate(run, "document.body.innerText")
    assert XSS_MODEL in body  # shown as text: title, sources table, model facts
    assert XSS_LABEL in body and XSS_IMG in body  # class labels in the per-class accuracy table of the facts
    assert chromium.evaluate(run, "document.title") == f"edgeq report: {XSS_MODEL}"
    svg_text = chromium.evaluate(run, "Array.from(document.querySelectorAll('#per-class-A svg text'))"
                                      ".map(t => t.textContent)")
    assert XSS_LABEL in svg_text and XSS_IMG in svg_text  # the heat map labels, as text nodes
    chromium.screenshot(run, ARTIFACTS / "report-xss.png")
