"""Where ``analyze`` gets its model pair and images: a results folder, a ``.tflite`` plus its float
reference, or a Keras model converted to float32 and int8 in memory."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from edgeq.errors import CalibrationDataError, ModelLoadError, UsageError
from edgeq.events import CancelToken, Done, Event, Log
from edgeq.fsio import MANIFEST


@dataclass
class ModelPair:
    model: bytes
    reference: bytes
    model_name: str
    reference_name: str
    folder: Path | None
    data: Path
    spec: Any
    manifest: dict[str, Any] | None = None


def _spec(manifest: dict[str, Any] | None, req: Any, shape: Any) -> Any:
    from edgeq.evaluation.job import EvalRequest, resolve_spec

    fake = EvalRequest(targets=[], data="", preset=req.preset, color=req.color, resize=req.resize)
    spec, _ = resolve_spec(fake, manifest, tuple(int(d) for d in shape))
    return spec


def load_pair(req: Any, cancel: CancelToken) -> Iterator[Event]:
    """Resolves ``req.model`` (folder, ``.tflite`` or source model) to a :class:`ModelPair` (returned)."""
    from edgeq.modelio import detect_kind
    from edgeq.tflite import load_interpreter

    path = Path(req.model)
    if not path.exists():
        raise ModelLoadError(f"{path} does not exist", hint="pass a results folder, an int8 .tflite or a .keras model")
    manifest = None
    if path.is_dir() and (path / MANIFEST).is_file():
        folder = path
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        rec = next((v for v in manifest.get("variants", []) if v.get("mode") == "int8" and v.get("status") == "ok"), None)
        if rec is None:
            raise ModelLoadError(f"{path} has no int8 variant", hint="convert with --mode int8 (and --calib) first")
        model_file = path / rec["file"]
        ref_file = Path(req.reference) if req.reference else next(iter(sorted(path.glob("*.float32.tflite"))), None)
    elif path.suffix == ".tflite":
        folder = path.parent if (path.parent / MANIFEST).is_file() else None
        if folder is not None:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        model_file = path
        sib = next(iter(sorted(path.parent.glob("*.float32.tflite"))), None)
        ref_file = Path(req.reference) if req.reference else sib
    else:
        if detect_kind(path) == "tflite":  # pragma: no cover - handled above
            raise ModelLoadError(f"{path}: unexpected model kind")
        pair = yield from _convert_pair(req, path, cancel)
        return pair
    if ref_file is None or not ref_file.is_file():
        raise ModelLoadError(f"no float reference for {model_file.name}",
                             hint="pass --reference MODEL.float32.tflite (edgeq convert --mode float32 makes it)")
    if ref_file.resolve() == model_file.resolve():
        raise UsageError("the model and its reference are the same file", hint="pass the int8 .tflite and the float32 one")
    data = req.data or req.calib or (((manifest or {}).get("calibration") or {}).get("folder"))
    if not data or not Path(data).is_dir():
        raise CalibrationDataError("no images to measure on", hint="pass --data FOLDER (or --calib FOLDER)")
    model = model_file.read_bytes()
    shape = load_interpreter(model, delegates=False).get_input_details()[0]["shape"]
    return ModelPair(model, ref_file.read_bytes(), model_file.name, ref_file.name, folder, Path(data),
                     _spec(manifest, req, shape), manifest)
    yield  # pragma: no cover - makes this a generator


def _convert_pair(req: Any, path: Path, cancel: CancelToken) -> Iterator[Event]:
    from edgeq.calibration import prepare_calibration
    from edgeq.conversion import ConvertRequest, resolve_spec
    from edgeq.converters.registry import ConvertOptions, Mode, get_converter
    from edgeq.modelio import load_model

    if not req.calib:
        raise UsageError(f"analyzing {path.name} needs calibration images to make its int8 variant",
                         hint="pass --calib FOLDER, or analyze a results folder from edgeq convert")
    model = load_model(path, trust_model=req.trust_model)
    try:
        creq = ConvertRequest(model=str(path), out="", calib=req.calib, preset=req.preset, color=req.color,
                              resize=req.resize or "stretch")
        spec, notes = resolve_spec(creq, model)
        for n in notes:
            yield Log(f"default: {n}")
        calib = None
        for ev in prepare_calibration(req.calib, spec, num=req.num_calib, seed=req.seed, allow_fewer=True, cancel=cancel):
            if isinstance(ev, Done):
                calib = ev.result
            else:
                yield ev
        tensors = calib.tensors

        def rep() -> Iterator[list[Any]]:
            for x in tensors:
                yield [np.ascontiguousarray(x[None], dtype=np.float32)]

        ref = get_converter(Mode.FLOAT32).convert(model, ConvertOptions(), None)
        q = get_converter(Mode.INT8).convert(model, ConvertOptions(), rep)
    finally:
        model.close()
    stem = path.name if path.is_dir() else path.stem
    return ModelPair(q, ref, f"{stem}.int8.tflite", f"{stem}.float32.tflite", None, Path(req.data or req.calib), spec)


def sample_images(folder: Path, spec: Any, n: int, seed: int, cancel: CancelToken | None = None) -> np.ndarray:
    """A seeded sample of ``n`` decoded images from ``folder`` (searched recursively)."""
    from edgeq.calibration import decode_images, list_images

    images, _ = list_images(folder)
    if not images:
        raise CalibrationDataError(f"{folder} has no images", hint="pass a folder of images with --data")
    order = np.random.default_rng(seed).permutation(len(images))
    picked = [images[i] for i in order[:n]]
    xs = [d.tensor for d in decode_images(picked, spec, cancel=cancel) if d.tensor is not None]
    if not xs:
        raise CalibrationDataError(f"no readable images in {folder}", hint="pass a folder of decodable images")
    return np.stack(xs).astype(np.float32)
