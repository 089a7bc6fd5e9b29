"""Ctrl-C during a real `edgeq eval` process: exit 130, what was scored kept in a document marked partial,
and the message names that document."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from edgeq_testing import interrupt_edgeq


def test_sigint_keeps_the_images_scored_so_far(example_results: Path, example, tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(example_results, results)
    data = tmp_path / "val"
    for d in sorted(p for p in example.val.iterdir() if p.is_dir()):
        (data / d.name).mkdir(parents=True)
        for f in sorted(d.iterdir()):
            for k in range(20):  # 6000 images: seconds of work on two cores (int16x8 alone takes ~3 ms each)
                os.link(f, data / d.name / f"{k}_{f.name}")
    code, stderr = interrupt_edgeq(["eval", results, "--data", data], "Preprocessing:", delay=1.5)  # chunks scored
    assert code == 130, stderr
    (doc_path,) = (results / "runs").glob("eval-*.json")
    assert f"edgeq: cancelled: interrupted (Ctrl-C); partial results written to {doc_path}" in stderr
    assert "Traceback" not in stderr
    doc = json.loads(doc_path.read_text())
    assert doc["partial"] is True and "Ctrl-C" in doc["partial_reason"]
    counts = {v["metrics"]["count"] for v in doc["variants"]}
    assert len(counts) == 1 and 0 < counts.pop() < 6000, "every variant scored the same images, not all of them"
