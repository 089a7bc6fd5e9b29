"""edgetpu_compiler: its log parsed (TPU vs CPU ops, on/off-chip memory) and its run driven."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from edgeq.devices.edgetpu import find_edgetpu_compiler, parse_compiler_log, run_edgetpu_compiler

STANDIN = Path(__file__).resolve().parents[1] / "devices" / "standin"

PARTIAL = """Edge TPU Compiler version 16.0.384591198
Started a compilation timeout timer of 180 seconds.

Model compiled successfully in 1136 ms.

Input model: model.int8.tflite
Input size: 3.39MiB
Output model: out/model.int8_edgetpu.tflite
Output size: 3.88MiB
On-chip memory used for caching model parameters: 3.25MiB
On-chip memory remaining for caching model parameters: 4.25MiB
Off-chip memory used for streaming uncached model parameters: 512.00KiB
Number of Edge TPU subgraphs: 1
Total number of operations: 67
Operation log: out/model.int8_edgetpu.log

Model successfully compiled but not all operations are supported by the Edge TPU. A percentage of the model will instead run on the CPU, which is slower. If possible, consider updating your model to use only operations supported by the Edge TPU. For details, visit g.co/coral/model-reqs.
Number of operations that will run on Edge TPU: 64
Number of operations that will run on CPU: 3

Operator                       Count      Status

CONV_2D                        52         Mapped to Edge TPU
SOFTMAX                        1          Operation is otherwise supported, but not mapped due to some unspecified limitation
ARG_MAX                        2          Operation not supported
MEAN                           12         Mapped to Edge TPU
Compilation child process completed within timeout period.
Compilation succeeded!
"""

FULL = """Edge TPU Compiler version 16.0.384591198
Started a compilation timeout timer of 180 seconds.

Model compiled successfully in 212 ms.

Input model: tiny.int8.tflite
Input size: 18.42KiB
Output model: tiny.int8_edgetpu.tflite
Output size: 91.27KiB
On-chip memory used for caching model parameters: 13.75KiB
On-chip memory remaining for caching model parameters: 7.98MiB
Off-chip memory used for streaming uncached model parameters: 0.00B
Number of Edge TPU subgraphs: 1
Total number of operations: 5
Operation log: tiny.int8_edgetpu.log
See the operation log file for individual operation details.
Compilation child process completed within timeout period.
Compilation succeeded!
"""


def test_partial_mapping_log() -> None:
    r = parse_compiler_log(PARTIAL)
    assert r["version"] == "16.0.384591198"
    assert (r["ops_total"], r["ops_tpu"], r["ops_cpu"], r["subgraphs"]) == (67, 64, 3, 1)
    assert r["on_chip_mib"] == 3.25 and r["on_chip_remaining_mib"] == 4.25 and r["off_chip_mib"] == 0.5
    assert r["output_model"] == "out/model.int8_edgetpu.tflite" and r["succeeded"]
    ops = {o["op"]: o for o in r["operators"]}
    assert ops["CONV_2D"]["mapped"] and ops["CONV_2D"]["count"] == 52
    assert not ops["SOFTMAX"]["mapped"] and ops["ARG_MAX"]["status"] == "Operation not supported"


def test_fully_mapped_log_without_per_device_counts() -> None:
    r = parse_compiler_log(FULL)
    assert (r["ops_total"], r["ops_tpu"], r["ops_cpu"]) == (5, 5, 0)
    assert r["off_chip_mib"] == 0.0 and r["on_chip_mib"] == pytest.approx(13.75 / 1024, abs=1e-4)


def test_not_installed_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("EDGEQ_EDGETPU_COMPILER", raising=False)
    assert find_edgetpu_compiler() is None
    r = run_edgetpu_compiler(tmp_path / "m.tflite", tmp_path)
    assert r["status"] == "failed" and "not installed" in r["error"]


def test_run_with_stand_in_compiler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "m.int8.tflite"
    model.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\x00" * 64)
    exe = STANDIN / "edgetpu_compiler"
    assert os.stat(exe).st_mode & stat.S_IXUSR
    monkeypatch.setenv("EDGEQ_EDGETPU_COMPILER", str(exe))
    assert find_edgetpu_compiler() == str(exe)
    out = tmp_path / "out"
    r = run_edgetpu_compiler(model, out)
    assert r["status"] == "ok", r
    assert r["output_file"] == str(out / "m.int8_edgetpu.tflite") and Path(r["output_file"]).is_file()
    assert r["command"][:4] == [str(exe), "-s", "-o", str(out)]
    assert (r["ops_tpu"], r["ops_cpu"]) == (4, 1)
    assert {o["op"]: o["mapped"] for o in r["operators"]} == {"CONV_2D": True, "DEPTHWISE_CONV_2D": True, "MEAN": True,
                                                            "FULLY_CONNECTED": True, "SOFTMAX": False}


def test_compiler_failure_is_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEQ_EDGETPU_COMPILER", str(STANDIN / "edgetpu_compiler"))
    monkeypatch.setenv("EDGEQ_STANDIN_COMPILER_FAIL", "1")
    model = tmp_path / "f.float32.tflite"
    model.write_bytes(b"\x1c\x00\x00\x00TFL3")
    r = run_edgetpu_compiler(model, tmp_path / "o")
    assert r["status"] == "failed" and "quantized" in r["error"] and r["output_file"] is None
