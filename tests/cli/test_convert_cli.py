"""`edgeq convert` end to end in-process: outputs, manifest, and every bad input of the issue."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from edgeq_testing import write_images

from edgeq.errors import ExitStatus


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def test_convert_all_modes_writes_variants_and_manifest(run_cli, tiny_keras: Path, image_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = run_cli("convert", tiny_keras, "--calib", image_dir, "--num-calib", "16", "--out", out,
                "--preprocess", "unit", "--color", "rgb", "--resize", "crop")
    assert r.code == 0, r.stderr
    files = sorted(p.name for p in out.iterdir())
    assert files == ["manifest.json", "tiny.dynamic.tflite", "tiny.float16.tflite", "tiny.float32.tflite",
                     "tiny.int16x8.tflite", "tiny.int8.tflite"]
    m = _manifest(out)
    assert m["__meta__"]["kind"] == "manifest" and m["__meta__"]["schema_version"] == 1
    assert m["status"] == "ok"
    assert m["model"]["sha256"] and len(m["model"]["sha256"]) == 64
    assert m["model"]["input_shape"] == [None, 32, 32, 3]
    assert m["preprocess"]["resize"] == "crop" and m["preprocess"]["size"] == [32, 32]
    assert m["calibration"]["used"] == 16 and len(m["calibration"]["stats"]["mean"]) == 3
    assert m["versions"]["tensorflow"].startswith("2.") and "ai_edge_litert" in m["versions"]
    assert "--resize crop" in m["command"]
    by_mode = {v["mode"]: v for v in m["variants"]}
    for mode, v in by_mode.items():
        assert v["status"] == "ok"
        assert (out / v["file"]).stat().st_size == v["bytes"]
        assert v["checks"]["samples"] == 16
        assert v["checks"]["top1_agreement"] >= 0.8, (mode, v["checks"])
        assert v["tflite"]["ops_by_type"]["CONV_2D"] == 2
    assert by_mode["float32"]["checks"]["sqnr_db"] > 60
    assert by_mode["int8"]["tflite"]["ops_by_dtype"]["int8"] > 0
    assert by_mode["int8"]["checks"]["sqnr_db"] < by_mode["int16x8"]["checks"]["sqnr_db"]
    assert "top-1 agree" in r.stdout and "int16x8" in r.stdout


def test_json_output_is_the_manifest(run_cli, tiny_keras: Path, tmp_path: Path) -> None:
    r = run_cli("convert", tiny_keras, "--mode", "float32", "--mode", "dynamic", "--out", tmp_path / "o", "--json")
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [v["mode"] for v in doc["variants"]] == ["float32", "dynamic"]
    assert doc["checks"]["source"] == "synthetic"
    assert doc == _manifest(tmp_path / "o")


def test_io_uint8_gives_integer_io(run_cli, tiny_keras: Path, image_dir: Path, tmp_path: Path) -> None:
    r = run_cli("convert", tiny_keras, "--calib", image_dir, "--num-calib", "8", "--mode", "int8", "--io", "uint8",
                "--out", tmp_path / "o")
    assert r.code == 0, r.stderr
    v = _manifest(tmp_path / "o")["variants"][0]
    assert v["tflite"]["inputs"][0]["dtype"] == "uint8" and v["tflite"]["outputs"][0]["dtype"] == "uint8"
    assert v["tflite"]["inputs"][0]["quantization"]["scale"] > 0
    assert v["checks"]["top1_agreement"] >= 0.75


def test_double_normalization_is_warned(run_cli, tiny_keras_rescaling: Path, image_dir: Path, tmp_path: Path) -> None:
    r = run_cli("convert", tiny_keras_rescaling, "--calib", image_dir, "--num-calib", "8", "--mode", "int8",
                "--preprocess", "unit", "--out", tmp_path / "o")
    assert r.code == 0, r.stderr
    assert "double normalization" in r.stderr and "Rescaling 'rescale'" in r.stderr
    m = _manifest(tmp_path / "o")
    assert m["model"]["preprocessing_layers"][0]["type"] == "Rescaling"
    assert any(w["code"] == "double-normalization" for w in m["warnings"])
    r2 = run_cli("convert", tiny_keras_rescaling, "--calib", image_dir, "--num-calib", "8", "--mode", "int8",
                 "--out", tmp_path / "o2")
    assert r2.code == 0 and "double normalization" not in r2.stderr
    assert _manifest(tmp_path / "o2")["preprocess"]["preset"] == "raw", "default follows the in-graph layer"


def test_corrupt_jpeg_among_good_ones_is_skipped_and_listed(run_cli, tiny_keras: Path, tmp_path: Path) -> None:
    imgs = write_images(tmp_path / "c", 10, ext=".jpg")
    (tmp_path / "c" / "broken.jpg").write_bytes(imgs[0].read_bytes()[:300])
    r = run_cli("convert", tiny_keras, "--calib", tmp_path / "c", "--num-calib", "10", "--mode", "int8",
                "--out", tmp_path / "o")
    assert r.code == 0, r.stderr
    skipped = _manifest(tmp_path / "o")["calibration"]["skipped"]
    assert skipped == [{"file": "broken.jpg", "reason": "truncated JPEG (no end-of-image marker)"}]
    assert "broken.jpg" in r.stderr


def test_grayscale_images_for_rgb_model_convert_with_warning(run_cli, tiny_keras: Path, tmp_path: Path) -> None:
    write_images(tmp_path / "g", 8, channels=1)
    r = run_cli("convert", tiny_keras, "--calib", tmp_path / "g", "--num-calib", "8", "--mode", "int8", "--out", tmp_path / "o")
    assert r.code == 0, r.stderr
    assert "grayscale" in r.stderr
    assert _manifest(tmp_path / "o")["calibration"]["grayscale_sources"] == 8


def test_keras2_h5_and_savedmodel_load(run_cli, tmp_path: Path) -> None:
    """A real Keras 2 .h5 (tests/data, written by tf_keras) and a SavedModel folder written here."""
    import shutil

    shutil.copy(Path(__file__).resolve().parents[1] / "data" / "keras2_legacy.h5", tmp_path / "old.h5")
    script = f"""
import tensorflow as tf
class M(tf.Module):
    def __init__(self):
        self.w = tf.Variable(tf.random.stateless_normal((16 * 16 * 3, 5), seed=(1, 2)))
    @tf.function(input_signature=[tf.TensorSpec([None, 16, 16, 3], tf.float32)])
    def serve(self, x):
        return {{'probs': tf.nn.softmax(tf.reshape(x, (-1, 16 * 16 * 3)) @ self.w)}}
mod = M()
tf.saved_model.save(mod, r'{tmp_path / "sm"}', signatures={{'serving_default': mod.serve}})
"""
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=300)
    r = run_cli("convert", tmp_path / "old.h5", "--mode", "float32", "--mode", "dynamic", "--out", tmp_path / "o1")
    assert r.code == 0, r.stderr
    m = _manifest(tmp_path / "o1")
    assert m["model"]["kind"] == "h5"
    assert m["model"]["preprocessing_layers"][0] == {"layer": m["model"]["preprocessing_layers"][0]["layer"],
                                                     "type": "Rescaling", "scale": pytest.approx(1 / 127.5, rel=1e-4), "offset": -1.0}
    assert all(v["checks"]["top1_agreement"] == 1.0 for v in m["variants"])
    r = run_cli("convert", tmp_path / "sm", "--mode", "float32", "--mode", "float16", "--out", tmp_path / "o2")
    assert r.code == 0, r.stderr
    m = _manifest(tmp_path / "o2")
    assert m["model"]["kind"] == "saved_model" and m["model"]["output_shape"] == [None, 5]
    assert sorted(p.name for p in (tmp_path / "o2").glob("*.tflite")) == ["sm.float16.tflite", "sm.float32.tflite"]


# ---- bad input: one line "edgeq: error: …", a documented exit code, nothing half-written ----

def _assert_error(r, code: int, *needles: str) -> None:
    assert r.code == code, (r.code, r.stderr)
    lines = r.stderr.strip().splitlines()
    errors = [i for i, line in enumerate(lines) if line.startswith("edgeq: error: ")]
    assert len(errors) == 1, r.stderr
    assert all(line.startswith("hint: ") for line in lines[errors[0] + 1 :]), r.stderr
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in r.stderr, (n, r.stderr)


def test_missing_model_path(run_cli, tmp_path: Path) -> None:
    _assert_error(run_cli("convert", tmp_path / "nope.keras", "--out", tmp_path / "o"), ExitStatus.INPUT, "does not exist")
    assert not (tmp_path / "o").exists()


def test_file_that_is_not_a_model(run_cli, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    _assert_error(run_cli("convert", tmp_path / "notes.txt", "--out", tmp_path / "o"), ExitStatus.INPUT,
                  "not a model edgeq can read", "hint:")


@pytest.mark.parametrize("name", ["tiny.keras", "tiny.h5"])
def test_truncated_model_files(run_cli, tiny_keras: Path, tmp_path: Path, name: str) -> None:
    if name.endswith(".h5"):
        import keras

        keras.models.load_model(tiny_keras).save(tmp_path / "full.h5")
        data = (tmp_path / "full.h5").read_bytes()
    else:
        data = tiny_keras.read_bytes()
    (tmp_path / name).write_bytes(data[: len(data) // 2])
    _assert_error(run_cli("convert", tmp_path / name, "--out", tmp_path / "o"), ExitStatus.INPUT, "truncated or corrupt")
    assert not any((tmp_path / "o").glob("*")) if (tmp_path / "o").exists() else True


def test_lambda_layer_needs_trust_model(run_cli, tmp_path: Path) -> None:
    import keras

    inp = keras.Input((8, 8, 3))
    x = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inp)
    out = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(x))
    for suffix in (".keras", ".h5"):
        path = tmp_path / f"lam{suffix}"
        keras.Model(inp, out).save(path)
        _assert_error(run_cli("convert", path, "--out", tmp_path / "o"), ExitStatus.INPUT,
                      "Lambda layer (double)", "--trust-model")
    r = run_cli("convert", tmp_path / "lam.keras", "--mode", "float32", "--trust-model", "--out", tmp_path / "o")
    assert r.code == 0, r.stderr


def test_calibration_folder_problems(run_cli, tiny_keras: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    _assert_error(run_cli("convert", tiny_keras, "--calib", tmp_path / "empty", "--out", tmp_path / "o"),
                  ExitStatus.INPUT, "has no images")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "readme.md").write_text("x")
    _assert_error(run_cli("convert", tiny_keras, "--calib", tmp_path / "docs", "--out", tmp_path / "o"),
                  ExitStatus.INPUT, "non-image", "readme.md")
    write_images(tmp_path / "few", 5)
    _assert_error(run_cli("convert", tiny_keras, "--calib", tmp_path / "few", "--num-calib", "50", "--out", tmp_path / "o"),
                  ExitStatus.INPUT, "5 usable image(s)", "--num-calib asks for 50", "--allow-fewer")
    assert not (tmp_path / "o" / "manifest.json").exists()
    r = run_cli("convert", tiny_keras, "--calib", tmp_path / "few", "--num-calib", "50", "--allow-fewer",
                "--mode", "int8", "--out", tmp_path / "o")
    assert r.code == 0, r.stderr
    assert _manifest(tmp_path / "o")["calibration"]["used"] == 5
    # Without --num-calib, a folder smaller than the default sample is used whole, with a warning.
    r = run_cli("convert", tiny_keras, "--calib", tmp_path / "few", "--mode", "int8", "--out", tmp_path / "o2")
    assert r.code == 0, r.stderr
    assert "using all 5 calibration images" in r.stderr and _manifest(tmp_path / "o2")["calibration"]["used"] == 5
    assert not any(w["code"] == "calib-fewer" for w in _manifest(tmp_path / "o2")["warnings"]), "said, not a warning"


def test_unknown_mode_is_a_usage_error(run_cli, tiny_keras: Path, tmp_path: Path) -> None:
    _assert_error(run_cli("convert", tiny_keras, "--mode", "int4", "--out", tmp_path / "o"), ExitStatus.USAGE,
                  "unknown --mode 'int4'", "int16x8")


def test_int8_without_calib_is_a_usage_error(run_cli, tiny_keras: Path, tmp_path: Path) -> None:
    _assert_error(run_cli("convert", tiny_keras, "--mode", "int8", "--out", tmp_path / "o"), ExitStatus.USAGE,
                  "needs calibration images", "--calib")


def test_existing_output_needs_overwrite(run_cli, tiny_keras: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert run_cli("convert", tiny_keras, "--mode", "float32", "--out", out).code == 0
    before = (out / "manifest.json").read_bytes()
    _assert_error(run_cli("convert", tiny_keras, "--mode", "float32", "--out", out), ExitStatus.OUTPUT,
                  "already holds", "--overwrite")
    assert (out / "manifest.json").read_bytes() == before, "nothing was touched"
    assert run_cli("convert", tiny_keras, "--mode", "float32", "--out", out, "--overwrite").code == 0


def test_io_uint8_with_float_mode(run_cli, tiny_keras: Path, tmp_path: Path) -> None:
    _assert_error(run_cli("convert", tiny_keras, "--mode", "dynamic", "--io", "uint8", "--out", tmp_path / "o"),
                  ExitStatus.USAGE, "--io uint8 does not apply to mode dynamic")


def test_traceback_flag_adds_the_stack_and_keeps_the_exit_code(run_cli, tmp_path: Path) -> None:
    r = run_cli("convert", tmp_path / "missing.keras", "--traceback")
    assert r.code == ExitStatus.INPUT
    assert "Traceback (most recent call last)" in r.stderr and "ModelLoadError" in r.stderr
    assert "edgeq: error: model" in r.stderr and "hint: " in r.stderr
    plain = run_cli("convert", tmp_path / "missing.keras")
    assert "Traceback" not in plain.stderr and plain.code == ExitStatus.INPUT


def test_unknown_flag_names_the_subcommand_help(run_cli) -> None:
    r = run_cli("convert", "--bogus")
    assert r.code == ExitStatus.USAGE
    assert r.stderr.splitlines()[0] == "edgeq: error: unrecognized arguments: --bogus"
    assert "edgeq convert --help" in r.stderr



def test_non_positive_counts_are_usage_errors(run_cli, tiny_keras: Path, image_dir: Path, tmp_path: Path) -> None:
    for flag in ("--num-calib", "--num-check"):
        r = run_cli("convert", tiny_keras, "--calib", image_dir, flag, "0", "--out", tmp_path / "o")
        _assert_error(r, ExitStatus.USAGE, "must be ≥ 1")
    assert not (tmp_path / "o").exists()


def test_failed_run_leaves_no_empty_output_folder(run_cli, tiny_keras: Path, tmp_path: Path) -> None:
    _assert_error(run_cli("convert", tiny_keras, "--calib", tmp_path / "nodir", "--out", tmp_path / "o"),
                  ExitStatus.INPUT, "does not exist")
    _assert_error(run_cli("convert", tiny_keras, "--color", "gray", "--out", tmp_path / "o"), ExitStatus.USAGE,
                  "the model takes 3")
    _assert_error(run_cli("convert", tiny_keras, "--preprocess", "unit", "--mean", "1", "--out", tmp_path / "o"),
                  ExitStatus.USAGE, "custom")
    assert not (tmp_path / "o").exists()


def test_overwrite_removes_variants_of_the_previous_run(run_cli, tiny_keras: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert run_cli("convert", tiny_keras, "--mode", "float32", "--mode", "dynamic", "--out", out).code == 0
    (out / "mine.txt").write_text("user file")
    r = run_cli("convert", tiny_keras, "--mode", "float16", "--out", out, "--overwrite")
    assert r.code == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "mine.txt", "tiny.float16.tflite"]
    assert "removed 2 variant(s) of the previous run" in r.stderr


def test_multi_output_model_is_refused_clearly(run_cli, tmp_path: Path) -> None:
    import keras

    inp = keras.Input((8, 8, 3))
    x = keras.layers.Flatten()(inp)
    keras.Model(inp, [keras.layers.Dense(2)(x), keras.layers.Dense(5)(x)]).save(tmp_path / "two.keras")
    _assert_error(run_cli("convert", tmp_path / "two.keras", "--out", tmp_path / "o"), ExitStatus.INPUT,
                  "has 2 outputs", "keras.Model(model.input, model.outputs[0])")


def test_variant_that_converts_but_cannot_run_is_failed_with_the_reason(run_cli, tmp_path: Path) -> None:
    """A real case, not a simulated one: TF 2.21 converts LayerNormalization to int16x8, but LiteRT has
    no int16 SQUARED_DIFFERENCE kernel, so the model fails in the interpreter. The check stage
    catches it; int8 of the same model is written; exit 7 (partial)."""
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 3))
    x = keras.layers.LayerNormalization()(keras.layers.Conv2D(4, 3)(inp))
    out = keras.layers.Dense(4, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    keras.Model(inp, out, name="ln").save(tmp_path / "ln.keras")
    write_images(tmp_path / "calib", 8, size=(16, 16))
    out_dir = tmp_path / "out"
    r = run_cli("convert", tmp_path / "ln.keras", "--calib", tmp_path / "calib", "--num-calib", "8",
                "--mode", "int8", "--mode", "int16x8", "--preprocess", "unit", "--out", out_dir)
    assert r.code == ExitStatus.PARTIAL, r.stderr
    m = _manifest(out_dir)
    int8, int16 = m["variants"]
    assert int8["status"] == "ok" and (out_dir / int8["file"]).exists()
    assert int16["status"] == "failed" and int16["error"]["stage"] == "check"
    assert "does not run in the LiteRT interpreter" in int16["error"]["message"]
    assert "SQUARED_DIFFERENCE" in int16["error"]["message"] and ". Node number" in int16["error"]["message"]
    assert "no int16 kernel" in int16["error"]["hint"]
    assert not list(out_dir.glob("*.int16x8.tflite")), "a variant that cannot run is not written"
    assert m["status"] == "partial" and "int16x8" in m["partial_reason"]
    assert "int16x8 converted but does not run" in r.stderr
