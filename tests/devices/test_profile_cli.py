"""`edgeq profile` / `edgeq devices` on this host, as a new user meets them: where results go, errors
with hints, and a table that fits 120 columns. Real models, real runner, in-process CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgeq.devices.backend import RUNNER
from edgeq.errors import ExitStatus

FAST = ["--runs", "3", "--warmup", "1", "--min-secs", "0"]


def _results_folder(folder: Path, model: Path, mode: str) -> Path:
    """A results folder as edgeq convert leaves it: the model and a manifest.json naming it."""
    folder.mkdir(parents=True)
    dest = folder / model.name
    dest.write_bytes(model.read_bytes())
    (folder / "manifest.json").write_text(json.dumps({"variants": [{"mode": mode, "file": model.name, "status": "ok"}]}))
    return dest


def _docs(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((folder / "runs").glob("profile-*.json"))]


def test_loose_model_says_it_was_not_saved_and_how_to_save(models, run_cli, tmp_path: Path, devices_dir: Path) -> None:
    loose = tmp_path / "loose.tflite"
    loose.write_bytes(models.int8.read_bytes())
    r = run_cli("profile", loose, *FAST)
    assert r.code == 0, r.stderr
    assert f"profile of {loose} not saved" in r.stderr and "--out FILE" in r.stderr
    assert "wrote" not in r.stderr and not (tmp_path / "runs").exists()


def test_each_results_folder_gets_its_own_document(models, run_cli, tmp_path: Path, devices_dir: Path) -> None:
    a = _results_folder(tmp_path / "ex", models.int8, "int8")
    b = _results_folder(tmp_path / "h5o", models.float32, "float32")
    r = run_cli("profile", a, b, *FAST)
    assert r.code == 0, r.stderr
    (doc_a,), (doc_b,) = _docs(tmp_path / "ex"), _docs(tmp_path / "h5o")
    assert [run["model"] for run in doc_a["runs"]] == [str(a)]
    assert [run["model"] for run in doc_b["runs"]] == [str(b)]
    assert doc_a["partial"] is False and doc_b["partial"] is False
    assert r.stderr.count("wrote profile to ") == 2 and "not saved" not in r.stderr
    # --out: one document with every run, nothing in the folders
    out = tmp_path / "all.json"
    r = run_cli("profile", a, b, *FAST, "--out", out)
    assert r.code == 0, r.stderr
    assert [run["model"] for run in json.loads(out.read_text())["runs"]] == [str(a), str(b)]
    assert len(_docs(tmp_path / "ex")) == 1 and len(_docs(tmp_path / "h5o")) == 1
    assert f"wrote profile to {out}" in r.stderr


def test_a_results_folder_profiles_its_variants_in_manifest_order(models, run_cli, tmp_path: Path, devices_dir: Path) -> None:
    folder = tmp_path / "ex"
    folder.mkdir()
    for m in (models.float32, models.int8):
        (folder / m.name).write_bytes(m.read_bytes())
    listed = [models.int8.name, models.float32.name]  # not alphabetical: the manifest's order wins
    (folder / "manifest.json").write_text(json.dumps({"variants": [{"mode": n.split(".")[1], "file": n, "status": "ok"}
                                                                   for n in listed]}))
    (folder / "extra.mixed.tflite").write_bytes(models.int8.read_bytes())
    r = run_cli("profile", folder, *FAST)
    assert r.code == 0, r.stderr
    (doc,) = _docs(folder)
    assert [Path(run["model"]).name for run in doc["runs"]] == [*listed, "extra.mixed.tflite"]
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run_cli("profile", empty, *FAST)
    assert r.code == ExitStatus.INPUT and "is a folder with no .tflite files" in r.stderr and "hint:" in r.stderr


def test_a_broken_profile_of_yours_blocks_only_itself(models, run_cli, tmp_path: Path, write_profile) -> None:
    write_profile("board", 'transport = "local"\nrun_timout = 5\n')
    r = run_cli("devices", "list")
    assert r.code == 0, r.stderr
    names = [line.split("│")[1].strip() for line in r.stdout.splitlines() if line.startswith("│")]
    assert "local" in names and "rpi5" in names and "board" not in names
    assert "edgeq: warning: skipped" in r.stderr and "unknown key 'run_timout'" in r.stderr
    assert "did you mean 'run_timeout'?" in r.stderr
    r = run_cli("profile", models.int8, "--device", "local", *FAST, "--no-save")
    assert r.code == 0, r.stderr
    r = run_cli("profile", models.int8, "--device", "board", *FAST, "--no-save")
    assert r.code == ExitStatus.INPUT and "unknown key 'run_timout'" in r.stderr


def test_a_device_without_python_fails_once_not_per_model(models, run_cli, tmp_path: Path, write_profile) -> None:
    write_profile("nopy", 'transport = "local"\npython = "/opt/nope/bin/python3"\n')
    r = run_cli("profile", models.int8, models.float32, "--device", "nopy", "--device", "local", *FAST, "--no-save")
    assert r.code == ExitStatus.PARTIAL, r.stderr
    assert r.stderr.count("Benchmarking") == 3, "the second model is not tried on a device without Python"
    line = next(x for x in r.stdout.splitlines() if "on nopy: failed" in x)
    assert line.startswith("2 models (") and "'/opt/nope/bin/python3' was not found" in line
    assert 'set python = "/path/to/python3"' in line, "the hint is on the same line, not wrapped"
    assert r.stdout.count("was not found") == 1


def test_ctrl_c_names_the_partial_document(models, tmp_path: Path, devices_dir: Path) -> None:
    from edgeq_testing import interrupt_edgeq

    folder = _results_folder(tmp_path / "ex", models.slow, "float32").parent
    code, err = interrupt_edgeq(["profile", folder, "--runs", "5", "--min-secs", "60"], "» Benchmarking", delay=1.0,
                                env={"EDGEQ_DEVICES_DIR": str(devices_dir)}, timeout=60)  # samples are flowing
    assert code == 130, err
    (doc,) = _docs(folder)
    assert doc["partial"] is True
    assert f"partial results written to {folder / 'runs'}" in err and "Traceback" not in err


def test_no_save_writes_nothing(models, run_cli, tmp_path: Path, devices_dir: Path) -> None:
    a = _results_folder(tmp_path / "ex", models.int8, "int8")
    r = run_cli("profile", a, *FAST, "--no-save", "--json")
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["runs"][0]["status"] == "ok"
    assert not (tmp_path / "ex" / "runs").exists() and "profile not saved (--no-save)" in r.stderr


def _no_cpu() -> int:
    return max(os.sched_getaffinity(0)) + 1


@pytest.mark.parametrize("args, message, hint", [
    (["--runs", "0"], "argument --runs: must be ≥ 1", "--help"),
    (["--warmup", "-1"], "argument --warmup: must be ≥ 0", "--help"),
    (["--threads", "0"], "argument --threads/-t: must be ≥ 1", "--help"),
    (["--max-secs", "0"], "argument --max-secs: must be > 0", "--help"),
    (["--min-secs", "2", "--max-secs", "0.5"], "--max-secs 0.5 is shorter than --min-secs 2", "raise --max-secs to at least 2"),
    (["--affinity", "x"], "--affinity 'x' is not a comma-separated list of CPU numbers", "--affinity 2,3"),
    (["--delegate", "external"], "the external delegate needs a library path", "add --delegate-path"),
    (["--delegate", "gpu"], "--delegate gpu exists only on Android devices", "--delegate xnnpack"),
    (["--affinity", str(_no_cpu())], f"CPU {_no_cpu()} does not exist on local (it has CPUs ", "choose CPUs from "),
])
def test_bad_settings_fail_before_work_with_a_hint(args, message, hint, models, run_cli, devices_dir: Path) -> None:
    r = run_cli("profile", models.int8, *FAST, "--no-save", *args)
    assert r.code == ExitStatus.USAGE, r.stderr
    assert f"edgeq: error: {message}" in r.stderr
    assert "hint: " in r.stderr and hint in r.stderr.split("hint: ", 1)[1]
    assert "Copying" not in r.stderr  # refused on the host: nothing copied or started


def test_command_line_delegate_gets_a_command_line_hint(models, run_cli, devices_dir: Path) -> None:
    """A delegate library that does not load: the hint names the flag the user typed, not the profile."""
    r = run_cli("profile", models.int8, *FAST, "--no-save", "--delegate", "external", "--delegate-path", "/nonexistent/libdelegate.so")
    assert r.code == ExitStatus.DEVICE, r.stderr
    assert "hint: pass --delegate-path" in r.stderr and "device profile" not in r.stderr
    r = run_cli("profile", models.int8, *FAST, "--no-save", "--delegate", "edgetpu")  # no Edge TPU runtime on this host
    assert r.code == ExitStatus.DEVICE, r.stderr
    assert "libedgetpu" in r.stderr and "--delegate edgetpu" in r.stderr.split("hint: ", 1)[1]
    assert "delegate_path in the device profile" not in r.stderr


def test_runner_names_missing_cpus_without_errno(tmp_path: Path, write_profile) -> None:
    """On a remote device the runner checks the CPUs itself; the message names the device's CPUs."""
    from edgeq.devices.diagnose import runner_error
    from edgeq.devices.profiles import get_profile

    p = subprocess.run([sys.executable, str(RUNNER), "--mode", "probe", "--affinity", f"0,{_no_cpu()}"],
                       capture_output=True, text=True, timeout=60)
    err = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{") and '"error"' in line][0]
    assert err["kind"] == "affinity" and "Errno" not in err["message"]
    assert f"CPU {_no_cpu()} does not exist on this device (it has CPUs 0" in err["message"]
    write_profile("board", 'transport = "local"\npython = ""\naffinity = [0]\n')
    exc = runner_error(err["kind"], err["message"], get_profile("board"))
    assert "on device 'board'" in exc.message and "'affinity' in" in exc.hint


def test_table_fits_120_columns_with_two_devices(models, run_cli, tmp_path: Path, write_profile) -> None:
    """Names are kept whole (wrapped, never cut) and every table stays within 120 columns."""
    for name in ("raspberry-pi-5-lab-a", "raspberry-pi-5-lab-b"):
        write_profile(name, f'transport = "local"\npython = ""\nwork_dir = "{tmp_path}"\nthreads = {1 if name.endswith("a") else 2}\n')
    a = _results_folder(tmp_path / "ex", models.int8, "int8")
    long = tmp_path / "a_rather_long_model_name_for_the_table.float32.tflite"
    long.write_bytes(models.float32.read_bytes())
    r = run_cli("profile", a, long, *FAST, "--no-save", "-d", "raspberry-pi-5-lab-a", "-d", "raspberry-pi-5-lab-b")
    assert r.code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) <= 120
    assert sum(line.startswith("│ int8 ") for line in lines) == 2  # one table per device; the manifest's variant name
    assert "latency (ms) on raspberry-pi-5-lab-a; 1 thread, delegate xnnpack" in r.stdout
    assert "latency (ms) on raspberry-pi-5-lab-b; 2 threads, delegate xnnpack" in r.stdout
    flat = "".join(line.split("│")[1].strip() for line in lines if line.startswith("│") and "…" not in line)
    assert "a_rather_long_model_name_for_the_table.float32" in flat and "…" not in r.stdout


@pytest.mark.parametrize("action", [["list"], ["show", "local"], ["check", "no-such-device"]])
def test_devices_actions_accept_traceback(action, run_cli, devices_dir: Path) -> None:
    r = run_cli("devices", *action, "--traceback")
    assert "unrecognized arguments" not in r.stderr
    if action[0] == "check":  # the stack, then the same error line and exit code
        assert r.code == ExitStatus.INPUT and "Traceback (most recent call last)" in r.stderr and "hint: " in r.stderr
    else:
        assert r.code == 0, r.stderr
