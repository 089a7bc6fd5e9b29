"""The convert job: load once, calibrate once, convert every mode, check every output.

Each variant is loaded and invoked in the LiteRT interpreter on the calibration samples and
compared with the float model, so a variant that converts but cannot run, or runs but no longer
agrees with float, is visible in the manifest before anyone ships it.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from edgeq.converters.registry import ConvertOptions, IOType, Mode, check_options, get_converter, parse_mode
from edgeq.errors import Cancelled, ConversionError, EdgeqError, ModelLoadError, UsageError
from edgeq.events import CancelToken, Done, Event, Log, LogLevel, Progress, Stage, VariantDone
from edgeq.fsio import MANIFEST, meta, prepare_output_dir, sha256_bytes, write_bytes_atomic, write_json_atomic
from edgeq.preprocess import Color, PreprocessSpec, Preset

MANIFEST_SCHEMA = 1
DEFAULT_MODES = (Mode.FLOAT32, Mode.FLOAT16, Mode.DYNAMIC, Mode.INT8, Mode.INT16X8)


@dataclass
class ConvertRequest:
    """Everything one ``edgeq convert`` run needs.

    Attributes:
        model: path to a ``.keras``/``.h5`` file or a SavedModel folder.
        out: results folder to write ``<stem>.<mode>.tflite`` files and ``manifest.json`` into.
        calib: folder of calibration images (needed by ``int8``/``int16x8``).
        modes: modes to produce; default: all five with ``calib``, else the three without.
        preset/color/resize/mean/std: the preprocessing spec (see :class:`PreprocessSpec`);
            ``None`` picks a default from the model and says so.
        num_calib: how many calibration images to sample (seeded by ``seed``).
        num_check: how many samples the convert-time check compares on.
        io/per_tensor/strict_int: integer-mode options (see :class:`ConvertOptions`).
        target: ``"edgetpu"`` also checks Edge TPU compatibility and runs ``edgetpu_compiler``.
        labels: class names, stored in the manifest for later reports.
    """

    model: str
    out: str
    calib: str | None = None
    modes: list[str] = field(default_factory=list)
    preset: str | None = None
    color: str | None = None
    resize: str = "stretch"
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    num_calib: int = 200
    num_check: int = 100
    seed: int = 0
    allow_fewer: bool = False
    io: str = "float32"
    per_tensor: bool = False
    strict_int: bool = False
    trust_model: bool = False
    overwrite: bool = False
    target: str | None = None
    labels: list[str] | None = None
    command: str = ""
    # Automatic mixed precision (edgeq.evaluation.mixed): keep ops in float until the top-1 drop on
    # ``data`` is within ``max_drop`` percentage points; ``data_preset`` overrides the preset for ``data``.
    max_drop: float | None = None
    data: str | None = None
    data_preset: str | None = None
    # Which engine makes the calibrated modes (converters.registry.Engine) and how it calibrates.
    engine: str | None = None
    calibration_method: str | None = None

    def resolved_modes(self) -> list[Mode]:
        if self.modes:
            out: list[Mode] = []
            for m in self.modes:
                mode = parse_mode(m)
                if mode not in out:
                    out.append(mode)
            return out
        return list(DEFAULT_MODES if self.calib else (Mode.FLOAT32, Mode.FLOAT16, Mode.DYNAMIC))

    def options(self) -> ConvertOptions:
        try:
            io = IOType(self.io)
        except ValueError:
            raise UsageError(f"unknown --io '{self.io}'", hint="choose int8, uint8, int16 or float32") from None
        return ConvertOptions(io=io, per_tensor=self.per_tensor, strict_int=self.strict_int)


@dataclass
class ConvertResult:
    manifest: dict[str, Any]
    out: Path

    @property
    def ok(self) -> bool:
        return self.manifest["status"] == "ok"

    @property
    def failed_variants(self) -> list[str]:
        return [v["mode"] for v in self.manifest["variants"] if v["status"] != "ok"]

    def to_dict(self) -> dict[str, Any]:
        return self.manifest


def variant_filename(model_path: Path, mode: Mode | str) -> str:
    stem = model_path.name if model_path.is_dir() else model_path.stem
    return f"{stem}.{mode}.tflite"


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from edgeq import __version__

    out = {"edgeq": __version__, "python": sys.version.split()[0]}
    for dist, key in (("tensorflow-cpu", "tensorflow"), ("tensorflow", "tensorflow"), ("keras", "keras"),
                      ("ai-edge-litert", "ai_edge_litert"), ("numpy", "numpy"), ("opencv-python-headless", "opencv")):
        if key in out:
            continue
        try:
            out[key] = version(dist)
        except PackageNotFoundError:
            pass
    return out


def resolve_spec(req: ConvertRequest, model: Any) -> tuple[PreprocessSpec, list[str]]:
    """The preprocessing spec for ``model``, with notes on each default that was chosen."""
    notes: list[str] = []
    channels = model.channels or 3
    color = req.color
    if color is None:
        color = "gray" if channels == 1 else ("bgr" if req.preset == "caffe" else "rgb")
        notes.append(f"color {color} (from the model's {channels}-channel input)")
    elif (color == "gray") != (channels == 1):
        raise UsageError(
            f"--color {color} gives {1 if color == 'gray' else 3} channel(s) but the model takes {channels}",
            hint=f"use --color {'gray' if channels == 1 else 'rgb'}",
        )
    preset = req.preset
    if preset is None:
        preset = Preset.RAW if model.preprocessing_layers else Preset.UNIT
        why = "the model normalizes in-graph" if model.preprocessing_layers else "no normalization layer in the model"
        notes.append(f"preset {preset} ({why}); set --preprocess to match how the model was trained")
    spec = PreprocessSpec(preset=preset, color=color, resize=req.resize, mean=req.mean, std=req.std)
    if model.image_size is None:
        raise ModelLoadError(
            f"model input shape {model.input_shape} is not an image (N, H, W, C) with a fixed size",
            hint="export the model with a fixed input size, e.g. keras.Input((224, 224, 3))",
        )
    return spec.with_size(*model.image_size), notes


def _double_normalization(model: Any, spec: PreprocessSpec) -> str | None:
    if model.preprocessing_layers and spec.normalizes:
        layers = ", ".join(f"{p['type']} '{p['layer']}'" for p in model.preprocessing_layers)
        lo, hi = spec.expected_range()
        return (
            f"double normalization: the model already normalizes in-graph ({layers}) and --preprocess {spec.preset} "
            f"scales pixels to [{lo:g}, {hi:g}] before it; int8 ranges will be fitted to the wrong values "
            "(the most common cause of int8 accuracy collapse). Use --preprocess raw unless you are sure."
        )
    return None


def run_convert(req: ConvertRequest, *, cancel: CancelToken) -> Iterator[Event]:
    """The convert job (see :func:`edgeq.api.convert`).

    Yields:
        Stage/Progress/Log/VariantDone events, then ``Done(ConvertResult)``.

    Raises:
        EdgeqError: bad input (before anything is written), or every variant failed.
    """
    import numpy as np

    # Fail fast on usage problems, before loading TensorFlow.
    modes = req.resolved_modes()
    options = req.options()
    check_options(modes, options)
    if req.engine is not None or req.calibration_method is not None:
        from edgeq.converters.registry import get_engine_converter

        for m in modes:
            if get_converter(m).needs_calibration:
                get_engine_converter(m, req.engine, req.calibration_method)
    needs_calib = [m for m in modes if get_converter(m).needs_calibration]
    if req.max_drop is not None and not req.data:
        raise UsageError("--max-drop needs labelled images to measure the drop on",
                         hint="add --data FOLDER (one subfolder per class), or drop --max-drop")
    if req.max_drop is not None and not req.calib:
        raise UsageError("--max-drop starts from a calibrated int8 model", hint="add --calib FOLDER")
    if req.max_drop is not None:
        from edgeq.evaluation.dataset import find_dataset

        find_dataset(req.data)  # a missing folder or an empty class folder fails before any work
    if needs_calib and not req.calib:
        raise UsageError(
            f"mode {', '.join(needs_calib)} needs calibration images", hint="pass --calib FOLDER (your own images)"
        )
    if req.target not in (None, "edgetpu"):
        raise UsageError(f"unknown --target '{req.target}'", hint="the only target is edgetpu")
    model_path = Path(req.model)
    out = Path(req.out)
    names = [MANIFEST] + [variant_filename(model_path, m) for m in modes]
    if req.max_drop is not None:
        names.append(variant_filename(model_path, "int8-mixed"))
    from edgeq.modelio import detect_kind

    if detect_kind(model_path) == "tflite":
        raise ModelLoadError(
            f"{model_path} is already a .tflite model; convert needs the source model",
            hint="pass the .keras/.h5/SavedModel it was made from ('edgeq eval'/'edgeq profile' take .tflite files)",
        )
    if req.num_calib < 1 or req.num_check < 1:
        raise UsageError("--num-calib and --num-check must be at least 1", hint="e.g. --num-calib 200 --num-check 100")
    if req.calib and not Path(req.calib).is_dir():
        from edgeq.errors import CalibrationDataError

        raise CalibrationDataError(
            f"calibration folder {req.calib} does not exist" if not Path(req.calib).exists() else f"{req.calib} is not a folder",
            hint="pass a folder of images with --calib",
        )
    _validate_preprocess_flags(req)
    previous = _previous_variant_files(out) if req.overwrite else set()
    created = not out.exists()
    prepare_output_dir(out, overwrite=req.overwrite, owned_names=names)

    warnings: list[dict[str, str]] = []
    manifest: dict[str, Any] = {
        "__meta__": meta("manifest", MANIFEST_SCHEMA),
        "status": "running",
        "partial_reason": None,
        "command": req.command,
        "versions": versions(),
        "model": None,
        "preprocess": None,
        "calibration": None,
        "checks": None,
        "options": options.to_dict() | {"modes": [str(m) for m in modes], "target": req.target, "seed": req.seed},
        "labels": req.labels,
        "warnings": warnings,
        "variants": [],
    }

    def warn(message: str, code: str) -> Log:
        warnings.append({"code": code, "message": message})
        return Log(message, LogLevel.WARNING, code)

    finished = False
    model = None
    try:
        yield Stage("load", f"Loading {model_path.name}")
        from edgeq.modelio import load_model

        model = load_model(model_path, trust_model=req.trust_model)
        manifest["model"] = model.describe()
        yield Log(
            f"model {model.name or model_path.name}: input {model.input_shape} {model.input_dtype}, "
            f"output {model.output_shape}"
            + (f", in-graph {', '.join(p['type'] for p in model.preprocessing_layers)}" if model.preprocessing_layers else "")
        )
        spec, notes = resolve_spec(req, model)
        manifest["preprocess"] = spec.to_dict()
        for note in notes:
            yield Log(f"default: {note}", LogLevel.INFO, "default")
        yield Log(f"Preprocessing: {spec.describe()}")
        dn = _double_normalization(model, spec)
        if dn:
            yield warn(dn, "double-normalization")
        cancel.raise_if_cancelled()

        samples = None
        if req.calib:
            from edgeq.calibration import prepare_calibration

            calib = None
            for ev in prepare_calibration(req.calib, spec, num=req.num_calib, seed=req.seed,
                                          allow_fewer=req.allow_fewer, cancel=cancel):
                if isinstance(ev, Done):
                    calib = ev.result
                else:
                    if isinstance(ev, Log) and ev.level == LogLevel.WARNING:
                        warnings.append({"code": ev.code, "message": ev.message})
                    yield ev
            assert calib is not None
            manifest["calibration"] = calib.to_dict()
            samples = calib.tensors
            st = calib.stats()
            yield Log(
                f"calibration: {len(calib.files)} images, per-channel min {st['min']} max {st['max']} mean {st['mean']}"
            )
            lo, hi = spec.expected_range()
            if max(st["max"]) <= lo + (hi - lo) * 0.1:
                yield warn(
                    f"calibration tensors span only [{min(st['min']):g}, {max(st['max']):g}] of the expected "
                    f"[{lo:g}, {hi:g}]: are the images nearly black, or normalized twice?",
                    "calib-range",
                )
        check_source = "calibration"
        if samples is None:
            lo, hi = spec.expected_range()
            rng = np.random.default_rng(req.seed)
            samples = rng.uniform(lo, hi, size=(min(req.num_check, 16), *spec.size, spec.channels)).astype(np.float32)
            check_source = "synthetic"
            yield Log("no --calib: convert-time checks ran on random inputs; agreement numbers are only indicative")
        check_x = samples[: req.num_check]
        yield Stage("reference", "Float reference outputs", total=len(check_x))
        ref = model.predict(check_x)
        manifest["checks"] = {"samples": int(len(check_x)), "source": check_source, "classifier": model.is_classifier}

        representative = _representative(samples) if samples is not None else None
        for mode in modes:
            cancel.raise_if_cancelled()
            record = yield from _one_variant(model, mode, options, representative, samples, check_x, ref, out, cancel,
                                             engine=req.engine, calibration=req.calibration_method)
            manifest["variants"].append(record)  # before any yield: an interrupt now keeps this variant
            if record["status"] == "ok":
                yield Log(_variant_line(record))
            yield VariantDone(str(mode), record["status"] == "ok", record)
        if req.max_drop is not None:
            from edgeq.evaluation.mixed import run_for_convert

            manifest["mixed_precision"] = yield from run_for_convert(req, model, spec, samples, manifest["variants"],
                                                                     out, cancel)
        model.close()  # the temporary SavedModel export (also removed by the finally below on errors)
        _size_ratios(manifest["variants"])
        if req.target == "edgetpu":
            yield from _edgetpu(manifest, out, warn)
        ok = [v for v in manifest["variants"] if v["status"] == "ok"]
        manifest["status"] = "ok" if len(ok) == len(modes) else ("partial" if ok else "failed")
        if manifest["status"] != "ok":
            failed = [v["mode"] for v in manifest["variants"] if v["status"] != "ok"]
            manifest["partial_reason"] = f"failed: {', '.join(failed)}"
        write_json_atomic(out / MANIFEST, manifest)
        finished = True
        removed = _remove_stale(out, previous, manifest)
        if removed:
            yield Log(f"--overwrite: removed {len(removed)} variant(s) of the previous run: {', '.join(removed)}")
        if not ok:
            first = manifest["variants"][0]["error"]
            raise ConversionError(f"every mode failed; first: {first['message']}", hint=first.get("hint", ""))
        yield Done(ConvertResult(manifest, out))
    except (Cancelled, GeneratorExit, KeyboardInterrupt) as exc:
        if not finished and manifest["variants"]:
            manifest["status"] = "partial"
            manifest["partial_reason"] = getattr(exc, "message", None) or cancel.reason or "interrupted"
            write_json_atomic(out / MANIFEST, manifest)
            cancel.wrote(out / MANIFEST)
        _remove_if_empty(out, created)
        raise
    except EdgeqError:
        if not finished and manifest["variants"]:
            manifest["status"] = "partial"
            manifest["partial_reason"] = "stopped by an error"
            write_json_atomic(out / MANIFEST, manifest)
        _remove_if_empty(out, created)
        raise
    finally:
        if model is not None:
            model.close()


def _validate_preprocess_flags(req: ConvertRequest) -> None:
    """Checks --preprocess/--mean/--std before the (slow) model load; color is checked after it."""
    if req.preset is None:
        if req.mean or req.std:
            raise UsageError("--mean/--std are only used with --preprocess custom", hint="add --preprocess custom")
        return
    color = req.color or ("bgr" if req.preset == "caffe" else "rgb")
    PreprocessSpec(preset=req.preset, color=color, resize=req.resize, mean=req.mean, std=req.std)


def _previous_variant_files(out: Path) -> set[str]:
    """Variant files the manifest already in ``out`` lists (replaced by an --overwrite run)."""
    import json

    try:
        old = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError):
        return set()
    files = {v.get("file") for v in old.get("variants", []) if isinstance(v, dict)}
    mixed = old.get("mixed_precision") or {}
    files.add(mixed.get("file") if isinstance(mixed, dict) else None)
    return {f for f in files if isinstance(f, str) and "/" not in f and f.endswith(".tflite")}


def _remove_stale(out: Path, previous: set[str], manifest: dict[str, Any]) -> list[str]:
    """Deletes the previous run's variants this run did not write, so later eval/profile/report
    never pick up a model the manifest no longer describes."""
    current = {v.get("file") for v in manifest["variants"]}
    mixed = manifest.get("mixed_precision") or {}
    current.add(mixed.get("file") if isinstance(mixed, dict) else None)
    removed = []
    for name in sorted(previous - current):
        try:
            (out / name).unlink()
            removed.append(name)
        except FileNotFoundError:
            pass
    return removed


def _remove_if_empty(out: Path, created: bool) -> None:
    """A run that failed before writing anything leaves no empty folder behind."""
    if created:
        try:
            out.rmdir()
        except OSError:
            pass


def _representative(samples: Any) -> Any:
    import numpy as np

    def gen() -> Iterator[list[Any]]:
        for x in samples:
            yield [np.ascontiguousarray(x[None], dtype=np.float32)]

    return gen


def _one_variant(model: Any, mode: Mode, options: ConvertOptions, representative: Any, samples: Any,
                 check_x: Any, ref: Any, out: Path, cancel: CancelToken, *, engine: str | None = None,
                 calibration: str | None = None) -> Iterator[Event]:
    """Converts, checks and writes one variant; returns its manifest record (never raises EdgeqError)."""
    from edgeq.converters.registry import get_converter, get_engine_converter

    conv = get_converter(mode)
    if conv.needs_calibration:
        conv = get_engine_converter(mode, engine, calibration)
    fname = variant_filename(Path(model.path), mode)
    record: dict[str, Any] = {"mode": str(mode), "summary": conv.summary, "status": "failed", "file": None, "error": None,
                              "engine": str(getattr(conv, "engine", "tflite-converter")), "calibration": None}
    total = len(samples) if conv.needs_calibration and samples is not None else None
    yield Stage("convert", f"Converting {mode}", total=total, variant=str(mode))
    counter = [0]
    rep = None
    stop = threading.Event()  # set when this generator is left early (Ctrl-C, close())
    if conv.needs_calibration and representative is not None:
        def rep() -> Iterator[Any]:
            for item in representative():
                if cancel.cancelled or stop.is_set():
                    # End the dataset early instead of raising: an exception thrown through TF's C++
                    # calibrator terminates the process. The short calibration's result is discarded.
                    return
                counter[0] += 1
                yield item

    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["data"] = conv.convert(model, options, rep)
        except BaseException as exc:  # re-raised in the generator's thread
            box["error"] = exc

    t0 = time.perf_counter()
    th = threading.Thread(target=work, name=f"edgeq-convert-{mode}", daemon=True)
    th.start()
    try:
        while th.is_alive():
            th.join(0.1)
            if total:
                yield Progress("convert", min(counter[0], total), total, variant=str(mode))
    finally:
        if th.is_alive():
            # Let TensorFlow unwind (calibration stops at its next sample): a conversion thread
            # still inside C++ when the interpreter exits aborts the whole process.
            stop.set()
            th.join(timeout=120)
    record["seconds"] = round(time.perf_counter() - t0, 3)
    if cancel.cancelled:
        raise Cancelled(cancel.reason)
    err = box.get("error")
    if err is not None:
        if isinstance(err, Cancelled):
            raise err
        e = err if isinstance(err, EdgeqError) else ConversionError(f"{mode} conversion failed: {err}")
        record["error"] = {"stage": "convert", "message": e.message, "hint": e.hint}
        yield Log(f"{mode}: conversion failed: {e.message}", LogLevel.WARNING, "variant-failed")
        return record
    data: bytes = box["data"]
    yield Stage("check", f"Checking {mode} in the LiteRT interpreter", total=len(check_x), variant=str(mode))
    try:
        from edgeq.metrics import compare_outputs
        from edgeq.tflite import TfliteRunner, describe_tflite

        info = describe_tflite(data)
        runner = TfliteRunner(data)
        t1 = time.perf_counter()
        outs = []
        for i, x in enumerate(check_x):
            if i % 16 == 0:
                cancel.raise_if_cancelled()
                yield Progress("check", i, len(check_x), variant=str(mode))
            outs.append(runner.run_one(x))
        import numpy as np

        y = np.stack(outs)
        checks = compare_outputs(ref.reshape(y.shape), y, classifier=model.is_classifier)
        checks["host_invoke_ms_mean"] = round((time.perf_counter() - t1) * 1000 / max(1, len(check_x)), 4)
    except Cancelled:
        raise
    except Exception as exc:  # allocation/invoke failures: reported, other modes go on
        reason = str(exc).strip().splitlines()[0][:400] if str(exc).strip() else type(exc).__name__
        reason = re.sub(r"\.(?=[A-Z])", ". ", reason)  # LiteRT glues "…got 7.Node number 5 (…) failed…"
        int16 = mode == "int16x8" and ("got 7" in reason or "Int16" in reason or "int16" in reason.lower())
        record["error"] = {
            "stage": "check",
            "message": f"{mode} converted but does not run in the LiteRT interpreter: {reason}",
            "hint": "this variant cannot be deployed as is; try another mode"
            + (" (an op here has no int16 kernel in LiteRT; int8 usually runs)" if int16 else "")
            + (" or drop --strict-int" if options.strict_int else ""),
        }
        record["bytes"] = len(data)
        yield Log(f"{mode}: {record['error']['message']}", LogLevel.WARNING, "variant-failed")
        return record
    write_bytes_atomic(out / fname, data)
    record.update(
        status="ok",
        file=fname,
        bytes=len(data),
        sha256=sha256_bytes(data),
        tflite=info,
        checks=checks,
    )
    if conv.needs_calibration:  # after convert(): "auto" has resolved to the method it kept
        record["calibration"] = str(getattr(conv, "calibration", "min-max"))
        if getattr(conv, "candidates", None):
            record["calibration_candidates"] = conv.candidates
    return record


def _variant_line(record: dict[str, Any]) -> str:
    checks = record["checks"]
    agree = f", top-1 agreement {checks['top1_agreement']:.1%}" if "top1_agreement" in checks else ""
    sqnr = checks["sqnr_db"]
    sqnr_text = f"{sqnr:.1f}" if isinstance(sqnr, float) else str(sqnr)
    return f"{record['mode']}: {record['bytes'] / 1024:.1f} KiB, SQNR {sqnr_text} dB{agree}"


def _size_ratios(variants: list[dict[str, Any]]) -> None:
    base = next((v["bytes"] for v in variants if v["mode"] == "float32" and v["status"] == "ok"), None)
    for v in variants:
        if base and v.get("bytes"):
            v["size_vs_float32"] = round(v["bytes"] / base, 4)


def _edgetpu(manifest: dict[str, Any], out: Path, warn: Any) -> Iterator[Event]:
    """Edge TPU compatibility of the int8 variant, and edgetpu_compiler when installed."""
    int8 = next((v for v in manifest["variants"] if v["mode"] == "int8" and v["status"] == "ok"), None)
    if int8 is None:
        yield warn("--target edgetpu needs a successful int8 variant; add --mode int8", "edgetpu-no-int8")
        return
    yield Stage("edgetpu", "Edge TPU compatibility")
    try:
        from edgeq.devices import edgetpu
    except ImportError:  # pragma: no cover - packaging error
        yield warn("Edge TPU support is not installed in this build", "edgetpu-missing")
        return
    report = edgetpu.check_compatibility(out / int8["file"])
    entry: dict[str, Any] = {"compatibility": report, "compiler": None}
    compiler = edgetpu.find_edgetpu_compiler()
    if compiler is None:
        yield warn("edgetpu_compiler not found: the Edge TPU compatibility was checked offline, but no *_edgetpu.tflite "
                   "was made; install edgetpu-compiler (Coral's apt repository, x86-64) to compile", "edgetpu-no-compiler")
    else:
        entry["compiler"] = edgetpu.run_edgetpu_compiler(out / int8["file"], out)
    manifest["edgetpu"] = entry
