"""`edgeq profile` on this host: the real runner and interpreter, end to end through the CLI and API."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from edgeq import api
from edgeq.devices.backend import make_backend
from edgeq.devices.profiles import get_profile
from edgeq.errors import Cancelled, DeviceCommandFailed, ExitStatus
from edgeq.events import CancelToken, Done, RunType, Samples

FAST = ["--runs", "30", "--warmup", "3", "--min-secs", "0"]


def _local_profile(write_profile, name: str, work: Path, extra: str = "") -> None:
    work.mkdir(parents=True, exist_ok=True)
    write_profile(name, f'transport = "local"\npython = ""\nwork_dir = "{work}"\nrun_timeout = 20\n{extra}')


def test_cli_table_and_document(models, run_cli, tmp_path: Path, devices_dir: Path) -> None:
    out = tmp_path / "prof.json"
    r = run_cli("profile", models.int8, "--device", "local", "--threads", "2", *FAST, "--out", out)
    assert r.code == 0, r.stderr
    assert "median" in r.stdout and "on local; 2 threads, delegate xnnpack" in r.stdout and "tiny.int8 " in r.stdout
    assert "peak RSS MB" in r.stdout and max(len(line) for line in r.stdout.splitlines()) <= 120
    assert f"wrote profile to {out}" in r.stderr and "» Profiling 1 model(s)" in r.stderr
    doc = json.loads(out.read_text())
    assert doc["__meta__"]["kind"] == "profile" and doc["__meta__"]["schema_version"] == 1
    assert doc["command"].startswith("edgeq profile ") and "--threads 2" in doc["command"]
    assert doc["partial"] is False and doc["partial_reason"] is None
    (run,) = doc["runs"]
    assert run["model"] == str(models.int8) and run["model_file"] == "tiny.int8.tflite" and len(run["model_sha256"]) == 64
    assert run["variant"] == "tiny.int8"  # no manifest.json beside it: the file stem
    assert run["device"]["name"] == "local" and run["device"]["transport"] == "local"
    facts = run["device"]["facts"]
    assert facts["runtime"] == "ai_edge_litert" and facts["runtime_version"] and facts["numpy"] == np.__version__
    assert facts["python"] == ".".join(map(str, sys.version_info[:3])) and "xnnpack" in facts["delegates_available"]
    st = run["settings"]
    assert (st["threads"], st["delegate"], st["warmup_runs"], st["min_runs"], st["min_secs"]) == (2, "xnnpack", 3, 30, 0.0)
    s = run["stats"]
    assert s["count"] == len(run["samples_us"]) >= 30 and len(run["warmup_samples_us"]) == 3
    assert s["min_us"] <= s["p5_us"] <= s["median_us"] <= s["p90_us"] <= s["p95_us"] <= s["p99_us"] <= s["max_us"]
    assert s["median_us"] == pytest.approx(float(np.median(run["samples_us"])), rel=1e-3)
    assert s["first_inference_us"] == run["warmup_samples_us"][0] and s["init_ms"] > 0 and s["throughput_ips"] > 0
    assert run["memory"]["measured"] and run["memory"]["peak_rss_mb"] > 10
    cov = run["delegate_coverage"]
    assert cov["total_nodes"] == 5 and 1 <= cov["delegated_nodes"] <= 5  # XNNPACK took over (part of) the graph
    assert run["status"] == "ok" and run["error"] is None and run["op_profile"] is None


def test_json_output_and_results_folder_convention(models, run_cli, tmp_path: Path, devices_dir: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    model = results / "tiny.int8.tflite"
    model.write_bytes(models.int8.read_bytes())
    (results / "manifest.json").write_text(json.dumps({"variants": [{"mode": "int8", "file": "tiny.int8.tflite", "status": "ok"}]}))
    r = run_cli("profile", model, *FAST, "--json", "--delegate", "none")
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)  # stdout is only the document
    (run,) = doc["runs"]
    assert run["variant"] == "int8" and run["settings"]["delegate"] == "none"
    assert run["delegate_coverage"]["delegated_nodes"] == 0  # no delegate: nothing replaced
    written = list((results / "runs").glob("profile-*.json"))
    assert len(written) == 1 and json.loads(written[0].read_text())["runs"][0]["stats"] == run["stats"]


def test_samples_stream_as_events_with_device_and_variant(models, devices_dir: Path) -> None:
    req = api.ProfileRequest(models=[str(models.float32)], devices=["local"], runs=20, warmup=2, min_secs=0.0)
    events = list(api.profile(req, cancel=CancelToken()))
    batches = [e for e in events if isinstance(e, Samples)]
    warmup = [u for e in batches if e.run_type == RunType.WARMUP for u in e.latencies_us]
    regular = [e for e in batches if e.run_type == RunType.REGULAR]
    assert len(warmup) == 2 and batches[0].run_type == RunType.WARMUP and batches[0].first_index == 0
    assert [e.first_index for e in regular] == [0] + [e.end for e in regular[:-1]], "consecutive, no gaps"
    assert regular[-1].end >= 20
    assert {e.device for e in batches} == {"local"} and {e.variant for e in batches} == {"tiny.float32"}
    done = events[-1]
    assert isinstance(done, Done) and done.result.path is None  # no --out, no results folder: not written
    assert done.result.to_dict()["runs"][0]["samples_us"] == pytest.approx([u for e in regular for u in e.latencies_us], abs=1e-3)


def test_two_devices_run_concurrently_and_merge(models, tmp_path: Path, devices_dir: Path, write_profile) -> None:
    _local_profile(write_profile, "host-a", tmp_path / "wa")
    _local_profile(write_profile, "host-b", tmp_path / "wb")
    req = api.ProfileRequest(models=[str(models.slow), str(models.int8)], devices=["host-a", "host-b"], runs=5, warmup=1, min_secs=0.6)
    seen: dict[str, list[float]] = {"host-a": [], "host-b": []}
    result = None
    for ev in api.profile(req, cancel=CancelToken()):
        if isinstance(ev, Samples):
            seen[ev.device].append(time.monotonic())
        elif isinstance(ev, Done):
            result = ev.result
    doc = result.to_dict()
    assert [(r["device"]["name"], r["model_file"]) for r in doc["runs"]] == [
        ("host-a", "slow.float32.tflite"), ("host-a", "tiny.int8.tflite"), ("host-b", "slow.float32.tflite"), ("host-b", "tiny.int8.tflite")]
    assert all(r["status"] == "ok" for r in doc["runs"])
    # one worker per device: the two devices' sample streams overlap in time
    a, b = seen["host-a"], seen["host-b"]
    assert a and b and a[0] < b[-1] and b[0] < a[-1]
    assert os.listdir(tmp_path / "wa") == [] and os.listdir(tmp_path / "wb") == []


def test_min_secs_and_max_secs_bound_the_regular_runs(models, devices_dir: Path) -> None:
    t0 = time.monotonic()
    req = api.ProfileRequest(models=[str(models.slow)], runs=3, warmup=0, min_secs=0.5)
    run = _drain(req)["runs"][0]
    assert run["stats"]["count"] > 3 and sum(run["samples_us"]) >= 0.45e6  # ran on to min_secs
    req = api.ProfileRequest(models=[str(models.slow)], runs=1_000_000, warmup=0, min_secs=0.0, max_secs=0.3)
    run = _drain(req)["runs"][0]
    assert 1 <= run["stats"]["count"] < 1_000_000 and sum(run["samples_us"]) < 1.0e6
    assert any("max_secs" in w for w in run["warnings"])
    assert time.monotonic() - t0 < 20


def _drain(req: api.ProfileRequest) -> dict:
    from edgeq.events import drain

    return drain(api.profile(req, cancel=CancelToken())).to_dict()


def test_stalled_run_times_out_partial_with_samples_kept(models, tmp_path: Path, devices_dir: Path, write_profile) -> None:
    """A run that stops answering (SIGSTOP) is cut after run_timeout; its samples so far are kept."""
    work = tmp_path / "w"
    write_profile("stall", f'transport = "local"\npython = ""\nwork_dir = "{work}"\nrun_timeout = 1.5\n')
    work.mkdir()
    req = api.ProfileRequest(models=[str(models.slow)], devices=["stall"], runs=10, warmup=1, min_secs=30, out=str(tmp_path / "p.json"))
    stopped = []
    result = None
    for ev in api.profile(req, cancel=CancelToken()):
        if isinstance(ev, Samples) and ev.run_type == RunType.REGULAR and ev.end > 20 and not stopped:
            pid = _runner_pid(work)
            os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)
        elif isinstance(ev, Done):
            result = ev.result
    doc = result.to_dict()
    (run,) = doc["runs"]
    assert doc["partial"] and run["status"] == "partial"
    assert "timed out" in run["error"]["message"] and "run_timeout" in run["error"]["hint"]
    assert run["stats"]["count"] == len(run["samples_us"]) >= 21
    assert json.loads((tmp_path / "p.json").read_text())["partial"] is True
    _gone(stopped[0])
    assert os.listdir(work) == []


def _runner_pid(work: Path) -> int:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if str(work).encode() in cmd and b"runner.py" in cmd:
                return int(entry)
    raise AssertionError("runner process not found")


def _gone(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still alive")


def test_cancel_stops_the_runner_cleans_up_and_keeps_partial(models, tmp_path: Path, devices_dir: Path, write_profile) -> None:
    _local_profile(write_profile, "box", tmp_path / "w")
    out = tmp_path / "p.json"
    cancel = CancelToken()
    req = api.ProfileRequest(models=[str(models.slow)], devices=["box"], runs=10, min_secs=60, out=str(out))
    pid = None
    with pytest.raises(Cancelled) as e:
        for ev in api.profile(req, cancel=cancel):
            if isinstance(ev, Samples) and ev.run_type == RunType.REGULAR and ev.end > 30:
                pid = pid or _runner_pid(tmp_path / "w")
                cancel.cancel("stopped by test")
    assert "partial results written" in e.value.message
    doc = json.loads(out.read_text())
    assert doc["partial"] and doc["runs"][0]["status"] == "partial" and doc["runs"][0]["stats"]["count"] >= 30
    assert "cancelled" in doc["runs"][0]["error"]["message"]
    _gone(pid)
    assert os.listdir(tmp_path / "w") == []


def test_closing_the_generator_like_ctrl_c_cleans_up(models, tmp_path: Path, devices_dir: Path, write_profile) -> None:
    _local_profile(write_profile, "box", tmp_path / "w")
    out = tmp_path / "p.json"
    gen = api.profile(api.ProfileRequest(models=[str(models.slow)], devices=["box"], runs=10, min_secs=60, out=str(out)))
    for ev in gen:
        if isinstance(ev, Samples) and ev.run_type == RunType.REGULAR and ev.end > 10:
            pid = _runner_pid(tmp_path / "w")
            break
    gen.close()  # what the CLI does on KeyboardInterrupt
    _gone(pid)
    assert os.listdir(tmp_path / "w") == []
    assert json.loads(out.read_text())["partial"] is True


def test_bad_inputs_exit_codes(models, run_cli, tmp_path: Path, devices_dir: Path) -> None:
    r = run_cli("profile", tmp_path / "nope.tflite")
    assert r.code == ExitStatus.INPUT and "edgeq: error: model file" in r.stderr and "hint:" in r.stderr
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model at all")
    r = run_cli("profile", junk)
    assert r.code == ExitStatus.INPUT and "not a .tflite model" in r.stderr
    r = run_cli("profile", models.int8, "--device", "pixel99")
    assert r.code == ExitStatus.INPUT and "unknown device 'pixel99'" in r.stderr and "rpi5" in r.stderr
    r = run_cli("profile", models.int8, "--min-secs", "5", "--max-secs", "1")
    assert r.code == ExitStatus.USAGE
    r = run_cli("profile", models.int8, "--affinity", "a,b")
    assert r.code == ExitStatus.USAGE and "--affinity" in r.stderr
    existing = tmp_path / "exists.json"
    existing.write_text("{}")
    r = run_cli("profile", models.int8, "--out", existing)
    assert r.code == ExitStatus.OUTPUT and "--overwrite" in r.stderr


def test_runtime_missing_names_the_pip_package(models, run_cli, tmp_path: Path, devices_dir: Path, write_profile) -> None:
    """A device Python that has numpy but no TFLite runtime (isolated, site-packages off)."""
    import numpy

    site = tmp_path / "site"
    site.mkdir()
    root = Path(numpy.__file__).parent
    for name in ("numpy", "numpy.libs"):
        if (root.parent / name).exists():
            (site / name).symlink_to(root.parent / name)
    work = tmp_path / "w"
    work.mkdir()
    write_profile("bare", f'transport = "local"\npython = "{sys.executable} -S"\nwork_dir = "{work}"\n[env]\nPYTHONPATH = "{site}"\n')
    r = run_cli("profile", models.int8, "--device", "bare", *FAST)
    assert r.code == ExitStatus.DEVICE, r.stderr
    assert "neither ai_edge_litert nor tflite_runtime is installed" in r.stderr
    assert f"hint: install it on the device: {sys.executable} -S -m pip install ai-edge-litert" in r.stderr
    assert os.listdir(work) == []
    write_profile("bare", f'transport = "local"\npython = "{sys.executable} -S"\nwork_dir = "{work}"\n')
    r = run_cli("devices", "check", "bare")
    assert r.code == ExitStatus.DEVICE and "numpy is not installed" in r.stdout and "-m pip install numpy" in r.stdout


def test_evaluate_on_device_matches_the_host_interpreter(models, devices_dir: Path) -> None:
    from edgeq.tflite import TfliteRunner

    x = np.random.default_rng(0).random((6, 32, 32, 3), dtype=np.float32)
    with make_backend(get_profile("local")) as backend:
        y = backend.evaluate_on_device(models.int8, x)
        assert backend.remote_dir is not None
        remote = backend.remote_dir
    assert not Path(remote).exists()  # cleaned when the backend closed
    host = TfliteRunner(models.int8).run(x)
    assert y.shape == (6, 4) and np.allclose(y, host, atol=1e-6)


def test_evaluate_on_device_reports_a_broken_model(tmp_path: Path, devices_dir: Path) -> None:
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\x00" * 40)
    with make_backend(get_profile("local")) as backend, pytest.raises(Exception) as e:
        backend.evaluate_on_device(bad, np.zeros((1, 2), np.float32))
    assert e.value.exit_code == ExitStatus.INPUT and "cannot load bad.tflite" in e.value.message


def test_devices_list_show_check(run_cli, devices_dir: Path) -> None:
    r = run_cli("devices", "list")
    assert r.code == 0 and all(n in r.stdout for n in ("local", "rpi4", "rpi5", "coral-usb-rpi", "coral-devboard", "android-arm64"))
    r = run_cli("devices", "list", "--json")
    assert {d["name"] for d in json.loads(r.stdout)} >= {"local", "android-arm64"}
    r = run_cli("devices", "show", "coral-usb-rpi", "--json")
    assert json.loads(r.stdout)["expect"]["edgetpu_compiled"] is True
    r = run_cli("devices", "check", "local", "--json")
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["ok"] and doc["facts"]["runtime"] == "ai_edge_litert" and doc["problems"] == []
    r = run_cli("devices", "check", "nope")
    assert r.code == ExitStatus.INPUT and "known devices" in r.stderr


def test_runner_is_self_contained_and_reports_errors(models, tmp_path: Path) -> None:
    """The runner file alone, in an isolated interpreter (no edgeq importable), speaks JSON lines."""
    import shutil
    import subprocess

    from edgeq.devices.backend import RUNNER

    d = tmp_path / "edgeq.test"
    d.mkdir()
    shutil.copy(RUNNER, d / "runner.py")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def run(*args: str) -> tuple[int, list[dict]]:
        p = subprocess.run([sys.executable, "-I", str(d / "runner.py"), *args], capture_output=True, text=True, env=env, cwd=d, timeout=60)
        return p.returncode, [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]

    code, lines = run(str(models.int8), "--runs", "5", "--warmup", "2", "--min-secs", "0", "--affinity", "0")
    kinds = [m["type"] for m in lines]
    assert code == 0 and kinds[0] == "hello" and kinds[-1] == "done" and "edgeq" not in json.dumps(lines[0])
    assert "init" in kinds and "memory" in kinds and "delegate" in kinds
    runs = {t: [u for m in lines if m["type"] == "runs" and m["run_type"] == t for u in m["us"]] for t in ("warmup", "regular")}
    assert len(runs["warmup"]) == 2 and len(runs["regular"]) == 5 and all(u > 0 for u in runs["regular"])
    code, lines = run(str(tmp_path / "missing.tflite"))
    assert code == 3 and lines[-1] == {"type": "error", "kind": "model_missing", "message": lines[-1]["message"]}
    code, lines = run(str(models.int8), "--affinity", "4096")
    assert code == 3 and lines[-1]["kind"] == "affinity"
    code, lines = run(str(models.int8), "--delegate", "external", "--delegate-path", "/nonexistent/libx.so")
    assert code == 3 and lines[-1]["kind"] == "delegate_missing"
    # stdin closing (the host went away) ends the runner and removes its own folder
    p = subprocess.Popen([sys.executable, "-I", str(d / "runner.py"), str(models.slow), "--min-secs", "60", "--watch-stdin",
                          "--remove-dir-on-hangup", str(d)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    assert p.stdout.readline().startswith(b'{"type":"hello"')
    p.stdin.close()
    assert p.wait(20) == 4
    assert not d.exists()


def test_backend_check_raises_for_failed_setup(tmp_path: Path, devices_dir: Path, write_profile) -> None:
    write_profile("nowork", f'transport = "local"\npython = ""\nwork_dir = "{tmp_path / "missing" / "dir"}"\n')
    with make_backend(get_profile("nowork")) as b, pytest.raises(DeviceCommandFailed) as e:
        b.probe()
    assert "temporary folder" in e.value.message and "work_dir" in e.value.hint


def test_threads_are_honoured_by_the_interpreter_settings(models, devices_dir: Path) -> None:
    """--threads and --affinity reach the record; the runner pins itself (sched_getaffinity is checked)."""
    req = api.ProfileRequest(models=[str(models.int8)], runs=5, warmup=0, min_secs=0.0, threads=1, affinity=[0])
    run = _drain(req)["runs"][0]
    assert run["settings"]["threads"] == 1 and run["settings"]["affinity"] == [0] and run["status"] == "ok"


if threading.active_count() > 50:  # pragma: no cover - a sanity guard against leaked worker threads
    raise RuntimeError("too many threads")
