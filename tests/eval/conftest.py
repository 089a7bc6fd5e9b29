"""Fixtures of the evaluation tests: the bundled example's results folder, evaluated once, and a
deliberately badly calibrated conversion of the same model (calibrated with preset raw although
the model expects unit input: the classic normalization bug)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def eval_results(tmp_path_factory: pytest.TempPathFactory, example_results: Path) -> Path:
    """A private copy of the example's results folder (eval writes runs/ into it)."""
    dst = tmp_path_factory.mktemp("eval") / "out"
    shutil.copytree(example_results, dst)
    return dst


@pytest.fixture(scope="session")
def eval_run(eval_results: Path, example):
    """(events, EvalResult) of evaluating every variant of the example on its val folder."""
    from edgeq import api
    from edgeq.events import Done

    events = list(api.evaluate(api.EvalRequest(targets=[str(eval_results)], data=str(example.val),
                                               command="edgeq eval out --data val")))
    assert isinstance(events[-1], Done)
    return events, events[-1].result


@pytest.fixture(scope="session")
def bad_results(tmp_path_factory: pytest.TempPathFactory, example) -> Path:
    """float32 + int8 of the example calibrated with --preprocess raw (the model expects unit)."""
    from edgeq import api
    from edgeq.events import drain

    out = tmp_path_factory.mktemp("bad") / "out"
    req = api.ConvertRequest(model=str(example.model), calib=str(example.calib), out=str(out), preset="raw",
                             color=example.preprocess["color"], modes=["float32", "int8"], num_calib=100,
                             command="edgeq convert --preprocess raw")
    assert drain(api.convert(req)).ok
    return out


@pytest.fixture(scope="session")
def val_subset(tmp_path_factory: pytest.TempPathFactory, example) -> Path:
    """The first 8 images of each class of the example's val folder (fast bad-input tests)."""
    dst = tmp_path_factory.mktemp("valsub") / "val"
    for d in sorted(p for p in example.val.iterdir() if p.is_dir()):
        (dst / d.name).mkdir(parents=True)
        for f in sorted(d.iterdir())[:8]:
            shutil.copy(f, dst / d.name / f.name)
    return dst


@pytest.fixture(scope="session")
def dark_calib(tmp_path_factory: pytest.TempPathFactory, example) -> Path:
    """The example's calibration images darkened to 35 %: unrepresentative of the val images, so
    int8 ranges clip on real data (a realistic calibration mistake, unlike a wrong preset)."""
    import cv2

    dst = tmp_path_factory.mktemp("dark")
    for p in sorted(example.calib.glob("*.png")):
        img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        assert cv2.imwrite(str(dst / p.name), (img * 0.35).astype("uint8"))
    return dst
