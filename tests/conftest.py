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

import pytest  # noqa: E402
from edgeq_testing import build_tiny_classifier, write_images  # noqa: E402,F401


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


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    d = tmp_path / "imgs"
    write_images(d, 24)
    return d


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
