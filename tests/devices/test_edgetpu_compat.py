"""Edge TPU: the offline compatibility check on real converted models, and the delegate-missing path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edgeq.devices.edgetpu import check_compatibility
from edgeq.errors import ExitStatus, ModelLoadError


def test_full_int8_model_maps_entirely(models) -> None:
    r = check_compatibility(models.int8)
    assert r["compatible"] and r["full_integer"] and r["static_shapes"] and not r["already_compiled"]
    assert r["ops_total"] == r["ops_mappable"] == 5 and r["first_blocker"] is None
    assert r["op_counts"] == {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1, "MEAN": 1, "SOFTMAX": 1}
    assert r["summary"] == "all 5 ops can map to the Edge TPU"


def test_float_model_blocks_at_the_first_op(models) -> None:
    r = check_compatibility(models.float32)
    assert not r["compatible"] and not r["full_integer"]
    assert r["first_blocker"] == {"index": 0, "op": "CONV_2D", "reason": r["first_blocker"]["reason"]}
    assert "float" in r["first_blocker"]["reason"] and r["ops_mappable"] == 0
    assert "the 4 op(s) after it would run on the CPU" in r["summary"]


def test_dynamic_batch_is_a_model_wide_problem(models) -> None:
    r = check_compatibility(models.dynamic)
    assert not r["compatible"] and not r["static_shapes"] and r["full_integer"]
    assert any("dynamic shapes" in p and "batch size of 1" in p for p in r["problems"])


def test_first_unsupported_op_forces_the_rest_to_cpu(tmp_path: Path) -> None:
    """An int8 model with ARG_MAX (unsupported) in the middle: ops after it are lost to the CPU."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    inp = tf.keras.Input((16, 16, 3), batch_size=1)
    x = tf.keras.layers.Conv2D(4, 3)(inp)
    x = tf.keras.layers.Lambda(lambda t: tf.cast(tf.argmax(t, axis=-1), tf.float32))(x)
    x = tf.keras.layers.Flatten()(x)
    out = tf.keras.layers.Dense(3)(x)
    c = tf.lite.TFLiteConverter.from_keras_model(tf.keras.Model(inp, out))
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = lambda: ([np.random.default_rng(i).random((1, 16, 16, 3), dtype=np.float32)] for i in range(8))
    path = tmp_path / "argmax.int8.tflite"
    path.write_bytes(c.convert())
    r = check_compatibility(path)
    assert not r["compatible"]
    blocker = r["first_blocker"]
    assert blocker["op"] in ("ARG_MAX", "CAST", "DEQUANTIZE") and blocker["index"] >= 1
    assert 1 <= r["ops_mappable"] < r["ops_total"]
    assert f"{blocker['op']} (op {blocker['index']})" in r["summary"]


def test_not_a_model(tmp_path: Path) -> None:
    p = tmp_path / "x.tflite"
    p.write_bytes(b"hello world, not flatbuffers")
    with pytest.raises(ModelLoadError):
        check_compatibility(p)


def _coral_local(write_profile, work: Path) -> None:
    work.mkdir(exist_ok=True)
    write_profile("coral-here", f'transport = "local"\npython = ""\nwork_dir = "{work}"\ndelegate = "edgetpu"\n'
                  '[expect]\nfull_integer = true\nedgetpu_compiled = true\n')


def test_float_model_sent_to_edgetpu_is_refused_before_connecting(models, run_cli, tmp_path: Path, write_profile) -> None:
    _coral_local(write_profile, tmp_path / "w")
    r = run_cli("profile", models.float32, "-d", "coral-here")
    assert r.code == ExitStatus.INPUT and "not a full-integer model" in r.stderr and "--target edgetpu" in r.stderr
    assert os.listdir(tmp_path / "w") == []  # nothing was created on the device
    r = run_cli("profile", models.float32, "-d", "coral-usb-rpi")  # the shipped profile: refused offline too
    assert r.code == ExitStatus.INPUT and "not a full-integer model" in r.stderr


def test_missing_edgetpu_runtime_is_reported_with_the_fix(models, run_cli, tmp_path: Path, write_profile) -> None:
    """libedgetpu.so.1 is not installed here: the real runner says so, nothing is left behind."""
    _coral_local(write_profile, tmp_path / "w")
    r = run_cli("profile", models.int8, "-d", "coral-here", "--runs", "5", "--min-secs", "0")
    assert r.code == ExitStatus.DEVICE, r.stderr
    assert "libedgetpu.so.1 cannot be loaded" in r.stderr and "apt-get install libedgetpu1-std" in r.stderr
    assert "not compiled by edgetpu_compiler" in r.stderr  # warned before running
    assert os.listdir(tmp_path / "w") == []
    r = run_cli("devices", "check", "coral-here")
    assert r.code == ExitStatus.DEVICE and "Edge TPU runtime" in r.stdout and "no Edge TPU is attached" in r.stdout


def test_edgetpu_compiled_model_needs_the_edgetpu_device(models, run_cli, tmp_path: Path) -> None:
    """A model holding edgetpu-custom-op is refused on a CPU device (checked offline)."""
    from ai_edge_litert import schema_py_generated as schema
    import flatbuffers

    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(models.int8.read_bytes(), 0))
    m.operatorCodes[m.subgraphs[0].operators[0].opcodeIndex].builtinCode = schema.BuiltinOperator.CUSTOM
    m.operatorCodes[m.subgraphs[0].operators[0].opcodeIndex].deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    m.operatorCodes[m.subgraphs[0].operators[0].opcodeIndex].customCode = "edgetpu-custom-op"
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    path = tmp_path / "tiny.int8_edgetpu.tflite"
    path.write_bytes(bytes(b.Output()))
    assert check_compatibility(path)["already_compiled"]
    r = run_cli("profile", path, "-d", "local")
    assert r.code == ExitStatus.INPUT and "compiled for the Edge TPU" in r.stderr and "coral-usb-rpi" in r.stderr


def test_mixed_variants_on_edgetpu_refuse_only_the_float_one(models, tmp_path: Path, write_profile) -> None:
    """The GUI profiles every variant: the float one is refused offline, the int8 one still runs."""
    from edgeq import api
    from edgeq.events import CancelToken, drain

    work = tmp_path / "w"
    work.mkdir()
    write_profile("tpu-ish", f'transport = "local"\npython = ""\nwork_dir = "{work}"\n[expect]\nfull_integer = true\n')
    req = api.ProfileRequest(models=[str(models.float32), str(models.int8)], devices=["tpu-ish"], runs=5, min_secs=0.0)
    doc = drain(api.profile(req, cancel=CancelToken())).to_dict()
    f32, i8 = doc["runs"]
    assert f32["status"] == "failed" and "not a full-integer model" in f32["error"]["message"] and "--target edgetpu" in f32["error"]["hint"]
    assert i8["status"] == "ok" and i8["stats"]["count"] >= 5
    assert doc["partial"] and os.listdir(work) == []
