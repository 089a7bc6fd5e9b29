"""The one Python API both front ends call.

Every long job is a generator of :mod:`edgeq.events` taking a :class:`CancelToken`; it ends
with ``Done(result)`` or raises an :class:`edgeq.errors.EdgeqError`. Example::

    from edgeq import api
    from edgeq.events import CancelToken, Done

    req = api.ConvertRequest(model="model.keras", calib="imgs/", modes=["int8"], out="out/")
    for ev in api.convert(req, cancel=CancelToken()):
        if isinstance(ev, Done):
            print(ev.result.to_dict()["variants"])

Heavy libraries (TensorFlow, OpenCV, LiteRT) are imported by the engines when a job runs,
never by importing this module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Iterator

from edgeq.events import CancelToken, Event

if TYPE_CHECKING:  # pragma: no cover
    from edgeq.conversion import ConvertRequest, ConvertResult

# Public names re-exported lazily: name -> module that defines it.
_LAZY = {
    "ConvertRequest": "edgeq.conversion",
    "ConvertResult": "edgeq.conversion",
    "PreprocessSpec": "edgeq.preprocess",
    "EvalRequest": "edgeq.evaluation.job",
    "AnalyzeRequest": "edgeq.evaluation.layers",
    "ProfileRequest": "edgeq.profiling",
    "ReportRequest": "edgeq.reports.build",
}

__all__ = ["convert", "evaluate", "analyze", "profile", "report", "run_recipe", "inspect_model",
           "list_devices", "check_device", "CancelToken", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'edgeq.api' has no attribute {name!r}")


def convert(request: "ConvertRequest", *, cancel: CancelToken | None = None) -> Iterator[Event]:
    """Converts one model to every requested variant; see :class:`edgeq.conversion.ConvertRequest`."""
    from edgeq.conversion import run_convert

    return run_convert(request, cancel=cancel or CancelToken())


def inspect_model(path: str, *, trust_model: bool = False) -> dict[str, Any]:
    """Loads a model and describes it (input shape/dtype, in-graph preprocessing, ops)."""
    from edgeq.modelio import describe_model

    return describe_model(path, trust_model=trust_model)


def evaluate(request: Any, *, cancel: CancelToken | None = None) -> Iterator[Event]:
    """Measures accuracy of variants on labelled images; streams running metrics."""
    from edgeq.evaluation.job import run_evaluate

    return run_evaluate(request, cancel=cancel or CancelToken())


def analyze(request: Any, *, cancel: CancelToken | None = None) -> Iterator[Event]:
    """Per-layer quantization error of a full-integer model against float."""
    from edgeq.evaluation.layers import run_analyze

    return run_analyze(request, cancel=cancel or CancelToken())


def profile(request: Any, *, cancel: CancelToken | None = None) -> Iterator[Event]:
    """Benchmarks models on devices; yields every latency sample as it arrives."""
    from edgeq.profiling import run_profile

    return run_profile(request, cancel=cancel or CancelToken())


def list_devices() -> list[Any]:
    """All usable device profiles: built-in and the user's (~/.config/edgeq/devices)."""
    from edgeq.devices.profiles import load_all_profiles

    return load_all_profiles()


def scan_devices() -> Any:
    """Usable device profiles and the user's profile files that could not be read (``ProfileSet``)."""
    from edgeq.devices.profiles import scan_profiles

    return scan_profiles()


def check_device(name: str, *, cancel: CancelToken | None = None) -> Iterator[Event]:
    """Connects to a device and reports OS, CPU, runtime and delegates, with fixes for what is missing."""
    from edgeq.profiling import run_check

    return run_check(name, cancel=cancel or CancelToken())


def report(request: Any) -> Any:
    """Merges results folders into one report document (JSON-able dict)."""
    from edgeq.reports.build import build_report

    return build_report(request)


def run_recipe(path: str, *, cancel: CancelToken | None = None, **overrides: Any) -> Iterator[Event]:
    """Replays a recipe saved by the GUI: convert, evaluate, profile, report."""
    from edgeq.recipes import run_recipe as _run

    return _run(path, cancel=cancel or CancelToken(), **overrides)
