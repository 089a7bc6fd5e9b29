"""Which run documents may feed a report: real conversions, real eval/profile/analyze runs.

A run measured on another model's file (or on a variant converted since) must never be credited to
this folder's variant; two runs written in the same second must still be ordered right; the
report's units, recommendation and output format must agree with what the user asked and saw.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edgeq.errors import ExitStatus
from edgeq.fsio import sha256_file

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def two_folders(tmp_path_factory: pytest.TempPathFactory, example_results: Path, example):
    """(ex, other): a private copy of the example's results, and a tiny unrelated model's float32 + int8."""
    from edgeq_testing import build_tiny_classifier

    from edgeq import api
    from edgeq.events import drain

    root = tmp_path_factory.mktemp("prov")
    tiny_keras = build_tiny_classifier(root / "tiny.keras", classes=10)  # as many classes as the example
    ex = root / "ex"
    shutil.copytree(example_results, ex)
    other = root / "other"
    req = api.ConvertRequest(model=str(tiny_keras), calib=str(example.calib), out=str(other),
                             modes=["float32", "int8"], num_calib=20, command="edgeq convert tiny")
    assert drain(api.convert(req)).ok
    return ex, other


def _manifest_sha(folder: Path, mode: str) -> str:
    man = json.loads((folder / "manifest.json").read_text())
    return next(v["sha256"] for v in man["variants"] if v["mode"] == mode)


def _file(folder: Path, mode: str) -> Path:
    return next(folder.glob(f"*.{mode}.tflite"))


def test_another_models_profile_run_is_ignored(run_cli, two_folders, tmp_path):
    ex, other = two_folders
    folder = tmp_path / "ex"
    shutil.copytree(ex, folder)
    out = folder / "runs" / "profile-20261124T090000Z.json"
    r = run_cli("profile", _file(folder, "int8"), _file(other, "int8"), _file(folder, "float32"),
                "--runs", "3", "--min-secs", "0.2", "--out", out)
    assert r.code == 0, r.stderr
    assert len(json.loads(out.read_text())["runs"]) == 3  # both int8 runs are in this folder's document

    r = run_cli("report", folder, "--format", "json")
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    int8 = [e for e in doc["latency"] if e["mode"] == "int8"]
    assert len(int8) == 1 and int8[0]["model_sha256"] == _manifest_sha(folder, "int8")
    assert all(e["model_sha256"] == _manifest_sha(folder, e["mode"]) for e in doc["latency"])
    row = next(x for x in doc["matrix"] if x["mode"] == "int8")
    assert row["median_ms"] == pytest.approx(int8[0]["stats"]["median_us"] / 1000, rel=1e-3)
    stale = [w for w in doc["warnings"] if w["code"] == "stale-profile"]
    assert len(stale) == 1 and _file(other, "int8").name in stale[0]["message"]
    assert "ignored" in stale[0]["message"]
    assert not [w for w in doc["warnings"] if w["code"] == "superseded"]
    assert f"edgeq: warning: {stale[0]['message']}" in r.stderr


def test_several_runs_in_one_document_are_not_superseded_by_itself(run_cli, two_folders, tmp_path):
    ex, _ = two_folders
    folder = tmp_path / "ex"
    shutil.copytree(ex, folder)
    out = folder / "runs" / "profile-20261124T090001Z.json"
    r = run_cli("profile", _file(folder, "int8"), _file(folder, "int8"), "--runs", "3", "--min-secs", "0.1",
                "--out", out)
    assert r.code == 0, r.stderr
    r = run_cli("report", folder, "--format", "md")
    assert r.code == 0, r.stderr
    assert f"{out.name} superseded by runs/{out.name}" not in r.stderr
    assert f"runs/{out.name} holds several runs of it; showing the last" in r.stderr


def test_eval_and_analyze_record_sha256_and_stale_evals_are_ignored(run_cli, two_folders, tmp_path, example):
    ex, other = two_folders
    folder = tmp_path / "ex"
    shutil.copytree(ex, folder)
    r = run_cli("eval", other, "--data", example.val, "--limit", "16", "--no-drift")
    assert r.code == 0, r.stderr
    (ev,) = (other / "runs").glob("eval-*.json")
    doc = json.loads(ev.read_text())
    for v in doc["variants"]:
        assert v["sha256"] == sha256_file(other / v["file"])
    assert doc["reference"]["sha256"] == sha256_file(other / doc["reference"]["file"])

    r = run_cli("analyze", _file(other, "int8"), "--data", example.val, "--num-samples", "4")
    assert r.code == 0, r.stderr
    (an,) = (other / "runs").glob("analyze-*.json")
    adoc = json.loads(an.read_text())
    assert adoc["model_sha256"] == sha256_file(_file(other, "int8"))
    assert adoc["reference_sha256"] == sha256_file(_file(other, "float32"))

    # The other model's eval document lands in this folder (copied by mistake): same modes, other files.
    (folder / "runs").mkdir(exist_ok=True)
    shutil.copy(ev, folder / "runs" / ev.name)
    r = run_cli("report", folder, "--format", "json")
    assert r.code == 0, r.stderr
    rep = json.loads(r.stdout)
    stale = [w for w in rep["warnings"] if w["code"] == "stale-eval"]
    assert {w["message"].split(": ")[1].split(" ")[0] for w in stale} == {_file(other, m).name
                                                                         for m in ("float32", "int8")}
    assert all(res["stale"] for a in rep["accuracy"] for res in a["results"])
    for row in rep["matrix"]:  # no top-1 of the other model: the convert-time bound stays the basis
        assert row["top1"] is None and row["accuracy_basis"] != "eval"
    assert "| int8 | ok (stale: ignored) |" in run_cli("report", folder).stdout


def _eval_copy(src: Path, dst: Path, top1: float) -> None:
    doc = json.loads(src.read_text())
    for v in doc["variants"]:
        if v["mode"] == "int8":
            v["metrics"]["top1"] = top1
            v["drop_pp"] = round((doc["variants"][0]["metrics"]["top1"] - top1) * 100, 4)
    dst.write_text(json.dumps(doc))


def test_latest_of_two_evals_in_the_same_second(copy_results, results_a, run_cli):
    folder = copy_results(results_a)
    (first,) = (folder / "runs").glob("eval-*.json")
    second = first.with_name(first.stem + "-1.json")  # what run_document_path writes in the same second
    _eval_copy(first, second, top1=0.5)
    r = run_cli("report", folder, "--format", "json")
    doc = json.loads(r.stdout)
    latest = [a for a in doc["accuracy"] if a["latest"]]
    assert [a["file"] for a in latest] == [f"runs/{second.name}"]
    assert next(x for x in doc["matrix"] if x["mode"] == "int8")["top1"] == 0.5
    assert [p["file"] for p in doc["sources"][0]["parts"] if p["kind"] == "eval"] == \
        [f"runs/{first.name}", f"runs/{second.name}"]


def test_smallest_within_target_considers_unprofiled_variants(copy_results, results_a, run_cli):
    folder = copy_results(results_a)
    full = json.loads(run_cli("report", folder, "--format", "json").stdout)
    fits = [x for x in full["matrix"] if x["meets_target"] and x["status"] == "ok"]
    smallest = min(fits, key=lambda x: x["bytes"])["mode"]
    for f in (folder / "runs").glob("profile-*.json"):
        doc = json.loads(f.read_text())
        doc["runs"] = [x for x in doc["runs"] if x["variant"] != smallest]  # the smallest is never profiled
        f.write_text(json.dumps(doc))
    doc = json.loads(run_cli("report", folder, "--format", "json").stdout)
    recs = [x for x in doc["recommendations"] if x["device"]]
    assert recs and all(x["smallest"]["mode"] == smallest for x in recs)  # as 'edgeq eval' recommends
    assert all(x["smallest"]["median_ms"] is None for x in recs)  # not profiled there: no latency claimed


def test_output_suffix_picks_the_format_and_contradictions_fail(run_cli, results_a, tmp_path):
    out = tmp_path / "r.csv"
    r = run_cli("report", results_a, "-o", out)
    assert r.code == 0, r.stderr
    assert out.read_text().startswith("source,folder,model,variant")
    bad = tmp_path / "s.csv"
    r = run_cli("report", results_a, "-o", bad, "--format", "json")
    assert r.code == ExitStatus.USAGE
    assert "edgeq: error: -o" in r.stderr and "--format is json" in r.stderr
    assert "hint:" in r.stderr and "s.json" in r.stderr
    assert not bad.exists()
    r = run_cli("report", results_a, "-o", tmp_path / "r.txt", "--format", "json")  # unknown suffix: --format wins
    assert r.code == 0 and json.loads((tmp_path / "r.txt").read_text())["matrix"]


def test_latency_is_in_ms_everywhere(run_cli, results_a, tmp_path):
    md = run_cli("report", results_a).stdout
    assert "µs" not in md
    latency = md.split("## Latency", 1)[1]
    assert "| median ms |" in latency and "| 0.038 |" in latency  # 38.0 µs
    r = run_cli("report", results_a, "-o", tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert "µs" not in html and "latency per inference (ms" in html


def test_layer_table_shows_own_sqnr_and_infinite_ones(copy_results, results_a, run_cli, tmp_path):
    folder = copy_results(results_a)
    (an,) = (folder / "runs").glob("analyze-*.json")
    doc = json.loads(an.read_text())
    doc["layers"][0]["local_sqnr_db"] = 12.5
    doc["layers"][1]["local_sqnr_db"] = "inf"  # what edgeq analyze writes when an op adds no error at all
    doc["layers"][1]["sqnr_db"] = "inf"
    an.write_text(json.dumps(doc))
    r = run_cli("report", folder, "--format", "json")
    assert r.code == 0 and "invalid-field" not in r.stderr, r.stderr
    top = json.loads(r.stdout)["layers"][0]["top"]
    assert top[0]["local_sqnr_db"] == 12.5 and top[0]["local_sqnr_infinite"] is False
    assert top[1]["local_sqnr_db"] is None and top[1]["local_sqnr_infinite"] is True
    assert top[1]["sqnr_db"] is None and top[1]["sqnr_infinite"] is True
    md = run_cli("report", folder).stdout
    assert "| op | type | tensor | own SQNR dB | scaled RMSE | SQNR dB |" in md
    assert "| 12.5 |" in md and "| none added | 0.0350 | exact |" in md
    r = run_cli("report", folder, "-o", tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert "own SQNR dB" in html and "RMSE / output quantization scale" in html and "output std" not in html
