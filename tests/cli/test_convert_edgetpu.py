"""`edgeq convert --target edgetpu`: offline compatibility on the real int8 model, and the compiler
log parsed into the manifest (a stand-in `edgetpu_compiler` replaying the real log format is used,
as the real compiler is not packaged for this machine)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

STANDIN = Path(__file__).resolve().parents[1] / "devices" / "standin" / "edgetpu_compiler"


def test_target_edgetpu_without_compiler(run_cli, tiny_keras: Path, image_dir: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEQ_EDGETPU_COMPILER", str(tmp_path / "not-installed"))
    r = run_cli("convert", tiny_keras, "--calib", image_dir, "--num-calib", "8", "--mode", "int8", "--io", "uint8",
                "--strict-int", "--target", "edgetpu", "--out", tmp_path / "o")
    assert r.code == 0, r.stderr
    m = json.loads((tmp_path / "o" / "manifest.json").read_text())
    compat = m["edgetpu"]["compatibility"]
    assert compat["full_integer"] is True and compat["static_shapes"] is True
    assert compat["ops_total"] >= 4
    assert m["edgetpu"]["compiler"] is None
    assert "edgetpu_compiler not found" in r.stderr


def test_target_edgetpu_runs_the_compiler(run_cli, tiny_keras: Path, image_dir: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEQ_EDGETPU_COMPILER", str(STANDIN))
    r = run_cli("convert", tiny_keras, "--calib", image_dir, "--num-calib", "8", "--mode", "int8", "--io", "uint8",
                "--target", "edgetpu", "--out", tmp_path / "o")
    assert r.code == 0, r.stderr
    comp = json.loads((tmp_path / "o" / "manifest.json").read_text())["edgetpu"]["compiler"]
    assert comp["status"] == "ok", comp
    assert comp["ops_total"] and comp["ops_tpu"] is not None
    assert comp["on_chip_mib"] is not None


def test_target_edgetpu_needs_int8(run_cli, tiny_keras: Path, tmp_path: Path) -> None:
    r = run_cli("convert", tiny_keras, "--mode", "float32", "--target", "edgetpu", "--out", tmp_path / "o")
    assert r.code == 0
    assert "--target edgetpu needs a successful int8 variant" in r.stderr
