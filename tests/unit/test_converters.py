"""Real conversions of a tiny model in every mode, checked in the real LiteRT interpreter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgeq import api
from edgeq.converters.registry import ConvertOptions, Mode, get_converter, registered_modes
from edgeq.errors import ConversionError, UsageError
from edgeq.events import Done, VariantDone, drain
from edgeq.modelio import load_model
from edgeq.tflite import TfliteRunner, describe_tflite


@pytest.fixture(scope="module")
def loaded(tiny_keras: Path):
    model = load_model(tiny_keras)
    yield model
    model.close()


def _rep(n: int = 8):
    rng = np.random.default_rng(0)
    data = rng.uniform(0, 1, size=(n, 1, 32, 32, 3)).astype(np.float32)
    return lambda: ([x] for x in data)


def test_registry_has_every_mode() -> None:
    assert set(registered_modes()) == set(Mode)
    assert get_converter("int8").needs_calibration and not get_converter("dynamic").needs_calibration


@pytest.mark.parametrize(
    "mode,io,in_dtype,weight_dtype",
    [
        ("float32", "float32", "float32", "float32"),
        ("float16", "float32", "float32", "float16"),
        ("dynamic", "float32", "float32", "int8"),
        ("int8", "float32", "float32", "int8"),
        ("int8", "uint8", "uint8", "int8"),
        ("int8", "int8", "int8", "int8"),
        ("int16x8", "float32", "float32", "int8"),
    ],
)
def test_each_mode_converts_and_runs(loaded, mode: str, io: str, in_dtype: str, weight_dtype: str) -> None:
    conv = get_converter(mode)
    data = conv.convert(loaded, ConvertOptions(io=io), _rep() if conv.needs_calibration else None)
    info = describe_tflite(data)
    assert info["inputs"][0]["dtype"] == in_dtype
    assert info["inputs"][0]["shape"] == [1, 32, 32, 3]
    assert weight_dtype in info["tensors_by_dtype"]
    if mode in ("int8",):
        assert "CONV_2D" in info["ops_by_type"] and info["ops_by_dtype"].get("int8", 0) >= 4
        assert info["float_ops"] == []
    if mode == "int16x8":
        assert "int16" in info["tensors_by_dtype"]
    runner = TfliteRunner(data)
    x = np.random.default_rng(1).uniform(0, 1, size=(4, 32, 32, 3)).astype(np.float32)
    y = runner.run(x)
    ref = loaded.predict(x)
    assert y.shape == ref.shape
    # run() quantizes and dequantizes the whole array at once: the same numbers as one sample at a time
    assert np.array_equal(y, np.stack([runner.run_one(xi) for xi in x]))
    assert np.abs(y - ref).max() < (1e-4 if mode == "float32" else 0.05)


def test_per_tensor_option_changes_weight_scales(loaded) -> None:
    conv = get_converter("int8")
    per_channel = TfliteRunner(conv.convert(loaded, ConvertOptions(), _rep())).interpreter
    per_tensor = TfliteRunner(conv.convert(loaded, ConvertOptions(per_tensor=True), _rep())).interpreter

    def conv_weight_scales(it) -> int:
        sizes = [len(t["quantization_parameters"]["scales"]) for t in it.get_tensor_details()
                 if t["dtype"] == np.int8 and len(t["shape"]) == 4 and t["shape"][0] == 16]
        return max(sizes)

    assert conv_weight_scales(per_channel) == 16
    assert conv_weight_scales(per_tensor) == 1


@pytest.fixture(scope="module")
def sin_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model with an op that has no int8 kernel (POW): a float fallback is needed."""
    import keras

    inp = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(2, 3, name="c")(inp)
    x = keras.layers.Lambda(lambda t: abs(t) ** 1.7, output_shape=(6, 6, 2), name="power")(x)
    out = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(x))
    path = tmp_path_factory.mktemp("sin") / "sin.keras"
    keras.Model(inp, out).save(path)
    return path


def test_strict_int_refuses_float_fallback(sin_model: Path) -> None:
    model = load_model(sin_model, trust_model=True)
    rep = lambda: ([np.random.default_rng(i).uniform(0, 1, (1, 8, 8, 1)).astype(np.float32)] for i in range(4))  # noqa: E731
    relaxed = describe_tflite(get_converter("int8").convert(model, ConvertOptions(), rep))
    assert "POW" in relaxed["float_ops"], relaxed["ops_by_type"]
    with pytest.raises(ConversionError) as info:
        get_converter("int8").convert(model, ConvertOptions(strict_int=True), rep)
    assert "int8 conversion failed" in info.value.message
    assert "--strict-int" in info.value.hint
    model.close()


def test_failed_mode_is_reported_and_others_complete(sin_model: Path, tmp_path: Path, image_dir: Path) -> None:
    """A mode that cannot be made (strict int16x8 on POW) fails alone; the manifest says why."""
    req = api.ConvertRequest(model=str(sin_model), calib=str(image_dir), out=str(tmp_path / "o"),
                             modes=["float32", "int16x8", "int8"], strict_int=True, trust_model=True,
                             num_calib=8, color="gray")
    events = list(api.convert(req))
    result = next(e.result for e in events if isinstance(e, Done))
    status = {v["mode"]: v["status"] for v in result.manifest["variants"]}
    assert status == {"float32": "ok", "int16x8": "failed", "int8": "failed"}
    assert result.manifest["status"] == "partial"
    failed = [e for e in events if isinstance(e, VariantDone) and not e.ok]
    assert {e.variant for e in failed} == {"int16x8", "int8"}
    assert all(v["error"]["message"] for v in result.manifest["variants"] if v["status"] == "failed")
    assert (tmp_path / "o" / "sin.float32.tflite").exists()
    assert not (tmp_path / "o" / "sin.int8.tflite").exists(), "failed variants leave no file"


def test_io_uint8_with_non_int8_mode_is_a_usage_error(tiny_keras: Path, tmp_path: Path) -> None:
    req = api.ConvertRequest(model=str(tiny_keras), out=str(tmp_path / "o"), modes=["float16"], io="uint8")
    with pytest.raises(UsageError, match="--io uint8 does not apply to mode float16"):
        drain(api.convert(req))
    assert not (tmp_path / "o").exists(), "nothing written on a usage error"
