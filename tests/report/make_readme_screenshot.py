"""Makes docs/images/report.png: a real report of the bundled example, screenshotted in headless Chromium.

Converts the bundled example through the API (with the example's own preprocessing), evaluates it
on its validation images when ``edgeq.evaluation.job`` exists, analyzes the int8 variant when
``edgeq.evaluation.layers`` exists, profiles every variant on this host when ``edgeq.profiling``
exists, then renders the HTML report and screenshots its top.

    python tests/report/make_readme_screenshot.py [--out docs/images/report.png] [--keep DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def make_results(out: Path) -> Path:
    from edgeq import api
    from edgeq.events import drain
    from edgeq.example import bundled_example

    ex = bundled_example()
    print(f"converting the bundled example {ex.model.name} into {out}")
    req = api.ConvertRequest(model=str(ex.model), calib=str(ex.calib), out=str(out),
                             preset=ex.preprocess["preset"], color=ex.preprocess["color"], labels=ex.labels,
                             num_calib=100, allow_fewer=True, overwrite=True,
                             command="edgeq convert --example --out example-out")
    result = drain(api.convert(req))
    print(f"  {len(result.manifest['variants'])} variants, status {result.manifest['status']}")
    if _has("edgeq.evaluation.job"):
        from edgeq.evaluation.job import EvalRequest

        print("evaluating on the example's validation images")
        drain(api.evaluate(EvalRequest(targets=[str(out)], data=str(ex.val),
                                       command="edgeq eval example-out --data <example>/val")))
    else:
        print("edgeq.evaluation.job not in this build: no accuracy section")
    if _has("edgeq.evaluation.layers"):
        from edgeq.evaluation.layers import AnalyzeRequest

        print("analyzing the int8 variant per layer")
        drain(api.analyze(AnalyzeRequest(model=str(out), data=str(ex.val), num_samples=32,
                                         command="edgeq analyze example-out")))
    if _has("edgeq.profiling"):
        from edgeq.profiling import ProfileRequest

        models = sorted(str(p) for p in out.glob("*.tflite"))
        print(f"profiling {len(models)} variants on this host")
        drain(api.profile(ProfileRequest(models=models, devices=["local"], runs=200, warmup=5, min_secs=1.0,
                                         max_secs=20.0, command="edgeq profile example-out/*.tflite --device local")))
    else:
        print("edgeq.profiling not in this build: no latency section")
    return out


def screenshot(html: Path, png: Path, *, width: int = 1280, height: int = 1900) -> None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with tempfile.TemporaryDirectory(prefix="edgeq-chromium-") as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--no-first-run", "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", f"--user-data-dir={profile}", f"--window-size={width},{height}",
                        f"--screenshot={png}", html.as_uri()],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "docs" / "images" / "report.png"))
    ap.add_argument("--keep", help="keep the results folder and report.html here (default: a temp folder)")
    args = ap.parse_args(argv)
    from edgeq.errors import EdgeqError
    from edgeq.reports import render
    from edgeq.reports.build import ReportRequest, build_report

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="edgeq-readme-"))
    try:
        results = make_results(work / "example-out")
        doc = build_report(ReportRequest([str(results)], title="edgeq report: bundled Fashion-MNIST example",
                                         command="edgeq report example-out -o report.html"))
    except EdgeqError as exc:
        print(f"edgeq: error: {exc.message}\nhint: {exc.hint}", file=sys.stderr)
        return 1
    html = work / "report.html"
    html.write_text(render(doc, "html"), encoding="utf-8")
    png = Path(args.out)
    png.parent.mkdir(parents=True, exist_ok=True)
    screenshot(html, png)
    print(f"wrote {png} ({png.stat().st_size // 1024} KiB) from {html}")
    for h in doc["highlights"]:
        print(f"  {h}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
