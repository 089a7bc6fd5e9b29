"""``edgeq report`` in-process: formats, output files, overwrite refusal and error messages."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from edgeq.errors import ExitStatus


def test_markdown_to_stdout_by_default(run_cli, results_a):
    r = run_cli("report", results_a)
    assert r.code == ExitStatus.OK
    assert r.stdout.startswith("# edgeq report: tiny\n")
    assert "| int8 ★ | pi5 | ok |" in r.stdout
    assert "edgeq: warning: int16x8 on pi5: failed" in r.stderr


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_other_formats_to_stdout(run_cli, results_a, fmt):
    r = run_cli("report", results_a, "--format", fmt, "--max-drop", "0.2")
    assert r.code == 0
    if fmt == "json":
        doc = json.loads(r.stdout)
        assert doc["target"]["max_drop_pp"] == 0.2
        assert doc["command"].startswith("edgeq report ") and "--max-drop 0.2" in doc["command"]
    else:
        assert r.stdout.splitlines()[0].startswith("source,folder,model,variant,device,status")
        assert len(r.stdout.splitlines()) == 11


def test_html_to_file_then_refuses_to_overwrite(run_cli, results_a, tmp_path):
    out = tmp_path / "report.html"
    r = run_cli("report", results_a, "-o", out)  # format from the suffix
    assert r.code == 0, r.stderr
    assert f"wrote html report to {out}" in r.stderr
    first = out.read_text()
    assert first.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in first
    out.write_text("keep me")
    r = run_cli("report", results_a, "-o", out, "--title", "second")
    assert r.code == ExitStatus.OUTPUT
    assert f"edgeq: error: {out} already exists" in r.stderr and "hint: pass --overwrite" in r.stderr
    assert out.read_text() == "keep me"
    r = run_cli("report", results_a, "-o", out, "--title", "second", "--overwrite")
    assert r.code == 0 and "<title>second</title>" in out.read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".report.html.")]  # no temp file left


def test_html_without_output_goes_into_the_folder(run_cli, copy_results, results_a):
    folder = copy_results(results_a)
    r = run_cli("report", folder, "--format", "html")
    assert r.code == 0, r.stderr
    assert (folder / "report.html").read_text().startswith("<!DOCTYPE html>")
    r = run_cli("report", folder, "--format", "html")
    assert r.code == ExitStatus.OUTPUT and "already exists" in r.stderr


def test_comparison_on_the_command_line(run_cli, results_a, results_b, tmp_path):
    out = tmp_path / "compare.md"
    r = run_cli("report", results_a, results_b, "-o", out)
    assert r.code == 0
    text = out.read_text()
    assert "## Comparison (base: A)" in text and "| threads | 4 | 1 | **differs** |" in text
    assert "edgeq: warning: latency runs used different thread counts" in r.stderr


def test_rerender_a_saved_report_json(run_cli, results_a, tmp_path):
    saved = tmp_path / "r.json"
    assert run_cli("report", results_a, "-o", saved).code == 0
    r = run_cli("report", saved, "--format", "md")
    assert r.code == 0 and "| int8 ★ | pi5 | ok |" in r.stdout
    doc = json.loads(saved.read_text())
    broken = json.loads(json.dumps(doc))
    broken["matrix"] = [{"id": "A/x"}]  # rows without their fields
    saved.write_text(json.dumps(broken))
    r = run_cli("report", saved, "--format", "md")
    assert r.code == ExitStatus.INPUT and "is a damaged report document" in r.stderr and "hint: re-create" in r.stderr
    doc["__meta__"]["schema_version"] = 7
    saved.write_text(json.dumps(doc))
    r = run_cli("report", saved)
    assert r.code == ExitStatus.INPUT and "report schema version 7" in r.stderr and "hint: upgrade edgeq" in r.stderr


def test_not_a_results_folder(run_cli, tmp_path):
    r = run_cli("report", tmp_path)
    assert r.code == ExitStatus.INPUT
    assert r.stderr.startswith(f"edgeq: error: {tmp_path} is not a results folder")
    assert "hint: pass the --out folder of 'edgeq convert'" in r.stderr
    r = run_cli("report", tmp_path / "missing")
    assert r.code == ExitStatus.INPUT and "does not exist" in r.stderr


def test_newer_schema_on_the_command_line(run_cli, copy_results, results_a):
    folder = copy_results(results_a)
    man = json.loads((folder / "manifest.json").read_text())
    man["__meta__"]["schema_version"] = 5
    (folder / "manifest.json").write_text(json.dumps(man))
    r = run_cli("report", folder)
    assert r.code == ExitStatus.INPUT
    assert "manifest schema version 5" in r.stderr and "hint: upgrade edgeq" in r.stderr
    assert "Traceback" not in r.stderr


def test_output_into_a_folder_or_unwritable_place(run_cli, results_a, tmp_path):
    r = run_cli("report", results_a, "-o", tmp_path, "--format", "md")
    assert r.code == ExitStatus.OUTPUT and "is a folder" in r.stderr
    if os.geteuid() != 0:  # root writes anywhere; the check is meaningful only for users
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        r = run_cli("report", results_a, "-o", ro / "x.md")
        assert r.code == ExitStatus.OUTPUT and "cannot write" in r.stderr
    else:
        print("running as root: the unwritable-path case cannot fail here, not checked")


def test_bad_max_drop_is_a_usage_error(run_cli, results_a):
    r = run_cli("report", results_a, "--max-drop", "-1")
    assert r.code == ExitStatus.USAGE and "--max-drop must be >= 0" in r.stderr


def test_help_lists_the_options(run_cli, capsys):
    r = run_cli("report", "--help")
    assert r.code == 0
    text = capsys.readouterr().out + r.stdout  # argparse prints --help to the process's stdout
    for opt in ("--format", "--output", "--overwrite", "--max-drop", "--title"):
        assert opt in text


def test_report_of_a_real_conversion(run_cli, tiny_keras, image_dir, tmp_path):
    """A manifest written by today's converter (not the committed one) is read and rendered."""
    out = tmp_path / "out"
    r = run_cli("convert", tiny_keras, "--calib", image_dir, "--mode", "float32", "--mode", "int8",
                "--preprocess", "unit", "--num-calib", "24", "--out", out)
    assert r.code == 0, r.stderr
    r = run_cli("report", out, "--format", "json")
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [v["mode"] for v in doc["variants"]] == ["float32", "int8"]
    assert all(v["status"] == "ok" and v["bytes"] > 1000 for v in doc["variants"])
    assert doc["sources"][0]["missing"] == ["eval", "analyze", "profile"]
    assert doc["recommendations"][0]["basis"] == "convert-check"
    assert Path(out / "manifest.json").exists()
    r = run_cli("report", out, "-o", tmp_path / "real.html")
    assert r.code == 0 and "<svg" in (tmp_path / "real.html").read_text()
