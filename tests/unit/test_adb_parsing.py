"""adb device states and benchmark_model output, parsed from the real tools' formats."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeq.devices.adb import AdbDevice, choose_device, parse_devices
from edgeq.devices.android import benchmark_model_argv, facts_from_getprop, parse_benchmark_output, parse_getprop, strip_prefix
from edgeq.devices.backend import BenchSettings
from edgeq.errors import DeviceUnreachable

STANDIN = Path(__file__).resolve().parents[1] / "devices" / "standin"


def test_parse_devices_long_listing_with_daemon_chatter() -> None:
    text = (
        "* daemon not running; starting now at tcp:5037\n* daemon started successfully\nList of devices attached\n"
        "emulator-5554          device product:sdk_gphone64_arm64 model:sdk_gphone64_arm64 device:emu64a transport_id:1\n"
        "R58M12ABCDE            unauthorized usb:1-1 transport_id:2\n"
        "0123456789ABCDEF       no permissions (user in plugdev group; are your udev rules wrong?); see [http://developer.android.com/tools/device.html] usb:3-2 transport_id:3\n"
        "192.168.1.20:5555\toffline\n\n"
    )
    devs = parse_devices(text)
    assert [(d.serial, d.state) for d in devs] == [
        ("emulator-5554", "device"), ("R58M12ABCDE", "unauthorized"), ("0123456789ABCDEF", "no permissions"), ("192.168.1.20:5555", "offline"),
    ]
    assert "model:sdk_gphone64_arm64" in devs[0].details


@pytest.mark.parametrize(
    ("devs", "serial", "message", "hint"),
    [
        ([], "", "no Android device is connected", "USB debugging"),
        ([AdbDevice("a", "device"), AdbDevice("b", "device")], "", "several Android devices", 'serial = "a"'),
        ([AdbDevice("a", "device")], "zz", "zz is not connected", "adb.serial"),
        ([AdbDevice("a", "unauthorized")], "", "has not authorized", "Allow USB debugging"),
        ([AdbDevice("a", "offline")], "", "is offline", "adb reconnect"),
        ([AdbDevice("a", "no permissions", "(udev)")], "", "no permission", "udev rule"),
        ([AdbDevice("a", "recovery")], "", "state 'recovery'", "boot it"),
    ],
)
def test_choose_device_errors_name_the_fix(devs: list[AdbDevice], serial: str, message: str, hint: str) -> None:
    with pytest.raises(DeviceUnreachable) as e:
        choose_device(devs, serial)
    assert message in e.value.message and hint in e.value.hint
    assert e.value.exit_code == 5


def test_choose_device_with_serial_among_several() -> None:
    assert choose_device([AdbDevice("a", "offline"), AdbDevice("b", "device")], "b").serial == "b"


def test_percentiles_info_prefix_and_memory_delta() -> None:
    r = parse_benchmark_output((STANDIN / "bm_info_percentiles.txt").read_text())
    assert r["regular"]["count"] == 318 and r["regular"]["median"] == 3119 and r["regular"]["p95"] == 3307 and r["regular"]["p5"] == 3041
    assert r["warmup"]["count"] == 5
    assert r["init_us"] == 12874 and r["first_inference_us"] == 4312 and r["inference_avg_us"] == 3141.83
    assert r["memory"] == {"kind": "delta", "init_mb": 6.47266, "overall_mb": 9.98047}
    assert r["delegate"]["delegated_nodes"] == 31 and r["delegate"]["total_nodes"] == 31
    assert r["op_profile"] is None and r["errors"] == []


def test_logcat_prefixes_scientific_notation_and_peak_memory() -> None:
    r = parse_benchmark_output((STANDIN / "bm_logcat_scientific.txt").read_text())
    assert r["inference_avg_us"] == pytest.approx(1013100.0) and r["warmup_avg_us"] == pytest.approx(1130260.0)
    assert r["regular"]["avg"] == pytest.approx(1.0131e06) and r["regular"]["count"] == 50
    assert r["memory"]["kind"] == "peak" and r["memory"]["overall_mb"] == 187.25
    assert r["peak_memory_mb"] == 193.43
    assert r["delegate"] == {"delegated_nodes": 58, "total_nodes": 64, "delegate": "TfLiteGpuDelegateV2", "partitions": 2}
    assert r["init_ms"] == 1403.22


def test_op_profiling_tables_regular_runs_only() -> None:
    r = parse_benchmark_output((STANDIN / "bm_op_profiling.txt").read_text())
    per_op, per_type = r["op_profile"]["per_op"], r["op_profile"]["per_op_type"]
    # the initialization profile (ModifyGraphWithDelegate, AllocateTensors) is not taken for the run's
    assert [o["node_type"] for o in per_op] == ["TfLiteXNNPackDelegate", "SOFTMAX", "TfLiteXNNPackDelegate", "ARG_MAX"]
    assert per_op[0]["avg_ms"] == 1.181 and per_op[0]["percent"] == 71.032 and per_op[3]["cdf_percent"] == 100.0
    assert per_op[1]["name"] == "[StatefulPartitionedCall:0]:28"
    assert [(t["node_type"], t["count"], t["avg_ms"], t["percent"]) for t in per_type] == [
        ("TfLiteXNNPackDelegate", 2, 1.558, 93.707), ("ARG_MAX", 1, 0.056, 3.368), ("SOFTMAX", 1, 0.049, 2.925)]
    # the "Timings (microseconds): count=…" of the profiler does not replace the run's own stats
    assert r["regular"]["count"] == 594 and r["regular"]["avg"] == 1668.12
    assert r["delegate"]["delegated_nodes"] == 28 and r["delegate"]["partitions"] == 2


def test_logcat_brief_prefix_and_all_same_stats() -> None:
    text = (
        "I/tflite  ( 6794): count=1 curr=14944\n"
        "I/tflite  ( 6794): count=7 first=20 curr=21 min=19 max=22 avg=20.5714 std=1\n"
        "I/tflite  ( 6794): Inference timings in us: Init: 125518, First inference: 344846, Warmup (avg): 329028, Inference (avg): 295775\n"
        "E/tflite  ( 6794): Failed to apply GPU delegate.\n"
    )
    r = parse_benchmark_output(text)
    assert r["warmup"] == {"count": 1, "curr": 14944.0}
    assert r["regular"]["avg"] == 20.5714
    assert r["init_us"] == 125518 and r["inference_avg_us"] == 295775
    assert strip_prefix("07-14 13:23:15.443 25289 25289 I tflite  : Graph: [x]") == "Graph: [x]"
    assert any("Failed to apply GPU delegate" in e for e in r["errors"])


def test_getprop_facts() -> None:
    facts = facts_from_getprop(parse_getprop((STANDIN / "getprop.txt").read_text()))
    assert facts["os"] == "Android 14 (SDK 34)" and facts["machine"] == "arm64-v8a"
    assert facts["cpu_model"] == "Google Tensor G3" and facts["device_model"] == "Google Pixel 8 Pro"


def test_benchmark_model_flags() -> None:
    s = BenchSettings(threads=4, delegate="external", delegate_path="/data/local/tmp/libhexagon.so",
                      delegate_options={"a": "1", "b": "x"}, warmup=3, runs=60, min_secs=2, max_secs=30, op_profiling=True, affinity=(4, 5))
    argv = benchmark_model_argv("/data/local/tmp/e/benchmark_model", "/data/local/tmp/e/m.tflite", s)
    assert argv[:2] == ["taskset", "30"]  # CPUs 4 and 5
    for flag in ("--graph=/data/local/tmp/e/m.tflite", "--num_threads=4", "--warmup_runs=3", "--num_runs=60", "--min_secs=2",
                 "--max_secs=30", "--use_xnnpack=false", "--external_delegate_path=/data/local/tmp/libhexagon.so",
                 "--external_delegate_options=a:1;b:x", "--enable_op_profiling=true"):
        assert flag in argv, flag
    assert "--use_gpu=true" in benchmark_model_argv("bm", "m", BenchSettings(delegate="gpu"))
    assert "--use_nnapi=true" in benchmark_model_argv("bm", "m", BenchSettings(delegate="nnapi"))
    assert "--use_xnnpack=true" in benchmark_model_argv("bm", "m", BenchSettings(delegate="xnnpack"))
