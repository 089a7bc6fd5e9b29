"""Android via adb, against the stand-in adb and benchmark_model in tests/devices/standin/.

No phone exists in CI: the stand-ins behave like adb (push/shell/pull on a sandbox folder,
device listing and states) and replay recorded benchmark_model output formats. Everything
above them (transport, backend, parser, results document, CLI) is the real code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from edgeq import api
from edgeq.errors import ExitStatus
from edgeq.events import CancelToken, Done, Log

STANDIN = Path(__file__).with_name("standin")


@pytest.fixture
def phone(write_profile):
    def make(name: str = "phone", extra: str = "", adb_extra: str = "") -> None:
        write_profile(name, f'transport = "adb"\nthreads = 4\n{extra}\n[adb]\nbenchmark_model = "{STANDIN / "benchmark_model"}"\n{adb_extra}\n')

    return make


def _sandbox_tmp(sandbox: Path) -> list[str]:
    return os.listdir(sandbox / "data" / "local" / "tmp")


def test_check_reports_getprop_facts(standin_env, phone, run_cli) -> None:
    standin_env()
    phone()
    r = run_cli("devices", "check", "phone", "--json")
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["facts"]["os"] == "Android 14 (SDK 34)" and doc["facts"]["device_model"] == "Google Pixel 8 Pro"
    assert doc["facts"]["runtime"] == "benchmark_model" and "emulator-5554" in doc["where"]


def test_profile_parses_percentiles_and_cleans_the_phone(models, standin_env, phone, run_cli, tmp_path: Path) -> None:
    sandbox = standin_env()
    phone()
    out = tmp_path / "p.json"
    r = run_cli("profile", models.int8, "-d", "phone", "--runs", "60", "--warmup", "3", "--out", out)
    assert r.code == 0, r.stderr
    (run,) = json.loads(out.read_text())["runs"]
    s = run["stats"]
    assert (s["count"], s["mean_us"], s["median_us"], s["p5_us"], s["p95_us"]) == (318, 3141.83, 3119.0, 3041.0, 3307.0)
    assert s["p90_us"] is None and s["p99_us"] is None  # benchmark_model does not print them: not invented
    assert (s["init_ms"], s["first_inference_us"], s["warmup_mean_us"]) == (12.874, 4312.0, 3362.4)
    assert run["samples_us"] == [] and any("aggregates only" in w for w in run["warnings"])
    assert run["memory"] == {"peak_rss_mb": 9.98047, "measured": True, "kind": "delta", "note": run["memory"]["note"]}
    assert run["delegate_coverage"]["delegated_nodes"] == 31 and run["delegate_coverage"]["total_nodes"] == 31
    assert run["device"]["facts"]["machine"] == "arm64-v8a" and run["settings"]["runtime"] == "benchmark_model"
    assert _sandbox_tmp(sandbox) == []  # benchmark_model and the model were removed


def test_op_profiling_and_logcat_formats_reach_the_document(models, standin_env, phone) -> None:
    standin_env()
    phone()
    req = api.ProfileRequest(models=[str(models.int8)], devices=["phone"], op_profiling=True)
    events = list(api.profile(req, cancel=CancelToken()))
    run = events[-1].result.to_dict()["runs"][0]
    assert [o["node_type"] for o in run["op_profile"]["per_op_type"]] == ["TfLiteXNNPackDelegate", "ARG_MAX", "SOFTMAX"]
    assert run["op_profile"]["per_op"][0]["avg_ms"] == 1.181 and run["delegate_coverage"]["delegated_nodes"] == 28
    assert any(isinstance(e, Log) and "Operator-wise Profiling Info" in e.message for e in events)  # streamed live
    standin_env(fixture="bm_logcat_scientific.txt")
    req = api.ProfileRequest(models=[str(models.int8)], devices=["phone"], delegate="gpu")
    run = [e for e in api.profile(req, cancel=CancelToken()) if isinstance(e, Done)][0].result.to_dict()["runs"][0]
    assert run["stats"]["mean_us"] == pytest.approx(1013100.0) and run["settings"]["delegate"] == "gpu"
    assert run["memory"]["peak_rss_mb"] == 193.43 and "periodic" in run["memory"]["note"]


@pytest.mark.parametrize(
    ("spec", "serial", "message", "hint"),
    [
        ("", "", "no Android device is connected", "USB debugging"),
        ("emulator-5554:device,R58M12:device", "", "several Android devices are connected (emulator-5554, R58M12)", "serial ="),
        ("R58M12:unauthorized", "", "has not authorized this computer", "Allow USB debugging"),
        ("R58M12:offline", "", "R58M12 is offline", "adb reconnect"),
        ("emulator-5554:device", "R58M12", "R58M12 is not connected", "adb.serial"),
    ],
)
def test_adb_device_states_are_clear_errors(models, standin_env, phone, run_cli, spec, serial, message, hint) -> None:
    sandbox = standin_env(spec)
    phone(adb_extra=f'serial = "{serial}"' if serial else "")
    r = run_cli("profile", models.int8, "-d", "phone")
    assert r.code == ExitStatus.DEVICE
    assert "edgeq: error: " in r.stderr and message in r.stderr and hint in r.stderr
    assert _sandbox_tmp(sandbox) == []


def test_serial_selects_one_of_several(models, standin_env, phone, run_cli) -> None:
    standin_env("emulator-5554:offline,R58M12:device")
    phone(adb_extra='serial = "R58M12"')
    r = run_cli("profile", models.int8, "-d", "phone", "--json")
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["runs"][0]["status"] == "ok"


def test_benchmark_model_failure_and_missing_binary(models, standin_env, phone, run_cli, write_profile) -> None:
    sandbox = standin_env(fixture="bm_error_delegate.txt")
    phone()
    r = run_cli("profile", models.int8, "-d", "phone", "--delegate", "external", "--delegate-path", "/data/local/tmp/libnope.so")
    assert r.code == ExitStatus.DEVICE and "could not apply the external delegate" in r.stderr and "hint:" in r.stderr
    assert _sandbox_tmp(sandbox) == []
    write_profile("nobin", 'transport = "adb"\n[adb]\nbenchmark_model = "/nonexistent/benchmark_model"\n')
    r = run_cli("profile", models.int8, "-d", "nobin")
    assert r.code == ExitStatus.DEVICE and "does not exist on this host" in r.stderr
    assert _sandbox_tmp(sandbox) == []


def test_accuracy_on_android_is_refused_clearly(models, standin_env, phone) -> None:
    import numpy as np

    from edgeq.devices.backend import make_backend
    from edgeq.devices.profiles import get_profile

    standin_env()
    phone()
    with make_backend(get_profile("phone")) as b, pytest.raises(Exception) as e:
        b.evaluate_on_device(models.int8, np.zeros((1, 32, 32, 3), np.float32))
    assert e.value.exit_code == ExitStatus.USAGE and "benchmark_model" in e.value.message


def test_cancel_kills_benchmark_model_and_cleans_the_phone(models, standin_env, phone, monkeypatch) -> None:
    sandbox = standin_env()
    monkeypatch.setenv("EDGEQ_STANDIN_BM_DELAY", "0.05")  # the stand-in prints slowly, like a long run
    phone()
    cancel = CancelToken()
    with pytest.raises(Exception) as e:
        for ev in api.profile(api.ProfileRequest(models=[str(models.int8)], devices=["phone"]), cancel=cancel):
            if isinstance(ev, Log) and "Loaded model" in ev.message:
                cancel.cancel("stop")
    assert type(e.value).__name__ == "Cancelled"
    assert _sandbox_tmp(sandbox) == []
    procs = [p for p in os.listdir("/proc") if p.isdigit()]
    alive = []
    for p in procs:
        try:
            cmd = Path(f"/proc/{p}/cmdline").read_bytes()
        except OSError:
            continue
        if str(sandbox).encode() in cmd and b"benchmark_model" in cmd:
            alive.append(p)
    assert alive == []
