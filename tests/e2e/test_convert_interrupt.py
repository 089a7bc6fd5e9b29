"""Ctrl-C during a real `edgeq convert` process: exit 130, finished variants kept, manifest marked partial,
no temporary export left behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from edgeq_testing import interrupt_edgeq, write_images


@pytest.mark.parametrize("trigger", ["float32:", "» Converting int8"])
def test_sigint_keeps_finished_variants_and_marks_partial(tiny_keras: Path, tmp_path: Path, trigger: str) -> None:
    """Interrupted between variants, or in the middle of int8 calibration inside TensorFlow."""
    write_images(tmp_path / "calib", 400, size=(64, 64))
    out = tmp_path / "out"
    scratch = tmp_path / "scratch"  # the process's TMPDIR: its temporary SavedModel export must not outlive it
    scratch.mkdir()
    code, stderr = interrupt_edgeq(
        ["convert", tiny_keras, "--calib", tmp_path / "calib", "--num-calib", "400", "--num-check", "400",
         "--mode", "float32", "--mode", "int8", "--mode", "int16x8", "--out", out],
        trigger, delay=0.3 if "int8" in trigger else 0.0,  # int8: inside TFLiteConverter's calibration loop
        env={"TMPDIR": str(scratch)})
    assert code == 130, stderr
    assert "edgeq: cancelled" in stderr and "Traceback" not in stderr
    assert "finished variant(s) kept in" in stderr and "tiny.float32.tflite" in stderr, stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "partial"
    assert "Ctrl-C" in manifest["partial_reason"] or "interrupt" in manifest["partial_reason"]
    assert [v["mode"] for v in manifest["variants"]][0] == "float32"
    assert (out / "tiny.float32.tflite").exists()
    assert not list(out.glob(".*.tmp")), "no half-written temp files"
    assert not list(scratch.glob("edgeq-export-*")), "the temporary SavedModel export was removed"


def test_sigint_before_any_variant_says_nothing_was_written(tiny_keras: Path, tmp_path: Path) -> None:
    write_images(tmp_path / "calib", 400, size=(64, 64))
    out = tmp_path / "out"
    # at once: the only variant is still being converted
    code, stderr = interrupt_edgeq(["convert", tiny_keras, "--calib", tmp_path / "calib", "--num-calib", "400",
                                    "--num-check", "400", "--mode", "int8", "--out", out], "» Converting int8")
    assert code == 130, stderr
    assert "before any variant finished; nothing was written" in stderr, stderr
    assert not out.exists()
