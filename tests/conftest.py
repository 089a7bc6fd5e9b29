"""Shared fixtures: small real models, real image files, and the in-process CLI runner.

Area-specific fixtures live in each folder's own conftest.py (tests/devices, tests/eval, ...).
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli() -> Callable[..., CliResult]:
    """Runs ``edgeq ARGS`` in-process; returns exit code and captured streams."""
    from edgeq.cli.context import Env
    from edgeq.cli.main import main

    def _run(*args: str) -> CliResult:
        env = Env.captured()
        code = main([str(a) for a in args], env)
        return CliResult(code, env.stdout.getvalue(), env.stderr.getvalue())

    return _run


def write_images(folder: Path, n: int, *, size=(40, 48), channels: int = 3, ext: str = ".png", seed: int = 0,
                 prefix: str = "img") -> list[Path]:
    """Writes ``n`` real random-pattern images with OpenCV; returns their paths."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        shape = (*size, channels) if channels > 1 else size
        base = rng.integers(0, 256, size=shape, dtype=np.uint8)
        img = cv2.GaussianBlur(base, (5, 5), 0)
        p = folder / f"{prefix}_{i:03d}{ext}"
        assert cv2.imwrite(str(p), img), p
        paths.append(p)
    return paths


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    d = tmp_path / "imgs"
    write_images(d, 24)
    return d


def build_tiny_classifier(path: Path, *, rescaling: bool = False, input_shape=(32, 32, 3), classes: int = 4,
                          seed: int = 0) -> Path:
    """A small conv classifier with deterministic weights, saved as .keras or .h5 (by suffix)."""
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input(input_shape, name="image")
    x = keras.layers.Rescaling(1 / 255.0, name="rescale")(inp) if rescaling else inp
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv1")(x)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(16, 3, activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    out = keras.layers.Dense(classes, activation="softmax", name="probs")(x)
    model = keras.Model(inp, out, name="tiny")
    model.save(path)
    return path


@pytest.fixture(scope="session")
def tiny_keras(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny RGB classifier without in-graph normalization (expects 'unit' input)."""
    return build_tiny_classifier(tmp_path_factory.mktemp("models") / "tiny.keras")


@pytest.fixture(scope="session")
def tiny_keras_rescaling(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny RGB classifier with an in-graph Rescaling(1/255) layer (expects 'raw' input)."""
    return build_tiny_classifier(tmp_path_factory.mktemp("models") / "tinyr.keras", rescaling=True)


@pytest.fixture(scope="session")
def example():
    """The bundled example (model, calibration and validation images)."""
    from edgeq.example import bundled_example

    return bundled_example()


@pytest.fixture(scope="session")
def example_results(tmp_path_factory: pytest.TempPathFactory, example) -> Path:
    """A results folder made once per session by converting the bundled example (all five modes)."""
    from edgeq import api
    from edgeq.events import drain

    out = tmp_path_factory.mktemp("example-out") / "out"
    req = api.ConvertRequest(model=str(example.model), calib=str(example.calib), out=str(out),
                             preset=example.preprocess["preset"], color=example.preprocess["color"],
                             labels=example.labels, num_calib=100, command="edgeq convert --example")
    result = drain(api.convert(req))
    assert result.ok, result.manifest["variants"]
    return out
