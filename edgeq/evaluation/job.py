"""The eval job: every variant of a results folder (or listed files) on the user's labelled images.

Images are decoded and evaluated chunk by chunk, so memory stays flat and the running top-1 of
each variant streams out as :class:`Metric` events after every chunk. The float32 variant is the
reference (or ``--reference FILE``); the document ends with a drift check and a recommendation.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from edgeq.calibration import opencv_single_threaded
from edgeq.errors import DatasetError, EvaluationError, InputError, ModelLoadError, ResultsFolderError, UsageError
from edgeq.events import CancelToken, Done, Event, Log, LogLevel, Metric, Progress, Stage, VariantDone
from edgeq.fsio import MANIFEST, meta, run_document_path, sha256_bytes, write_json_atomic
from edgeq.preprocess import mismatch_warning

EVAL_SCHEMA = 1
_MODE_RE = re.compile(r"\.([A-Za-z0-9_-]+)\.tflite$")


@dataclass
class EvalRequest:
    """Everything one ``edgeq eval`` run needs.

    Attributes:
        targets: one results folder, or ``.tflite`` files.
        data: folder of evaluation images (class subfolders, or flat with ``csv``).
        reference: float reference ``.tflite`` (default: the float32 variant of the folder).
        csv: ``file,label`` CSV for a flat ``data`` folder.
        labels: labels file (class order); default: the manifest's labels if they match the
            folders, else sorted folder names.
        preset/color/resize/mean/std: override the preprocessing recorded in the manifest.
        top_k: k of the top-k accuracy; asking for more than 1 requires classifier outputs.
        max_drop: accuracy drop (percentage points) the recommendation tolerates.
        limit: evaluate a random sample of this many images (None or 0: all).
        seed: seed of that sample (recorded in the document, so a run can be repeated).
        workers: worker threads (default: every core).
        chunk: images decoded and evaluated per step (and per running-accuracy event).
        write: write the document to ``runs/`` of the results folder.
    """

    targets: list[str]
    data: str
    reference: str | None = None
    csv: str | None = None
    labels: str | None = None
    preset: str | None = None
    color: str | None = None
    resize: str | None = None
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    top_k: int | None = None
    max_drop: float = 1.0
    limit: int | None = None
    seed: int = 0
    workers: int | None = None
    chunk: int = 256
    drift: bool = True
    write: bool = True
    command: str = ""


@dataclass
class EvalResult:
    document: dict[str, Any]
    path: Path | None = None

    @property
    def partial(self) -> bool:
        return bool(self.document["partial"])

    def to_dict(self) -> dict[str, Any]:
        return self.document


@dataclass
class _Variant:
    file: Path
    mode: str
    data: bytes
    engine: str | None = None
    calibration: str | None = None
    input_shape: tuple[int, ...] = ()
    output_shape: tuple[int, ...] = ()
    record: dict[str, Any] = field(default_factory=dict)


def _mode_of(path: Path) -> str:
    m = _MODE_RE.search(path.name)
    return m.group(1) if m else path.stem


def _load_manifest(folder: Path) -> dict[str, Any] | None:
    p = folder / MANIFEST
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ResultsFolderError(f"{p} is not readable JSON: {exc}", hint="re-run edgeq convert into that folder") from None


def resolve_targets(targets: list[str], reference: str | None) -> tuple[Path | None, dict[str, Any] | None, list[Path], Path | None]:
    """(results folder, manifest, variant files, reference file) of the request.

    Raises:
        InputError: nothing to evaluate, a missing file, a file that is not ``.tflite``.
    """
    if not targets:
        raise UsageError("nothing to evaluate", hint="pass a results folder (edgeq convert --out) or .tflite files")
    paths = [Path(t) for t in targets]
    for p in paths:
        if not p.exists():
            raise ModelLoadError(f"{p} does not exist", hint="pass a results folder or .tflite files")
    if len(paths) == 1 and paths[0].is_dir():
        folder = paths[0]
        manifest = _load_manifest(folder)
        files = sorted(folder.glob("*.tflite"))
        if not files:
            raise ResultsFolderError(f"{folder} holds no .tflite files", hint="run edgeq convert --out into it first")
    else:
        dirs = [p for p in paths if p.is_dir()]
        if dirs:
            raise UsageError(f"{dirs[0]} is a folder among files", hint="pass either one results folder or .tflite files")
        files = paths
        folder = files[0].parent if (files[0].parent / MANIFEST).is_file() else None
        manifest = _load_manifest(folder) if folder else None
    for f in files:
        if f.suffix != ".tflite":
            raise ModelLoadError(f"{f} is not a .tflite model", hint="edgeq eval takes .tflite files; convert the model first")
    ref = Path(reference) if reference else None
    if ref is not None and not ref.is_file():
        raise ModelLoadError(f"reference model {ref} does not exist", hint="pass the float32 .tflite with --reference")
    if ref is None:
        ref = next((f for f in files if _mode_of(f) == "float32"), None)
        if ref is None and folder is not None:
            ref = next(iter(sorted(folder.glob("*.float32.tflite"))), None)
    return folder, manifest, files, ref


def _variant(path: Path, manifest: dict[str, Any] | None) -> _Variant:
    from edgeq.tflite import load_interpreter

    data = path.read_bytes()
    it = load_interpreter(data, delegates=False)
    ins, outs = it.get_input_details(), it.get_output_details()
    rec = next((v for v in (manifest or {}).get("variants", []) if v.get("file") == path.name), None)
    mixed = (manifest or {}).get("mixed_precision") or {}
    mode = rec["mode"] if rec else _mode_of(path)
    engine = (rec or {}).get("engine") or ("tflite-converter" if rec or mixed.get("file") == path.name else None)
    calib = (rec or {}).get("calibration") or ("min-max" if mode in ("int8", "int16x8") and engine == "tflite-converter" else None)
    return _Variant(path, mode, data, engine, calib, tuple(int(d) for d in ins[0]["shape"]),
                    tuple(int(d) for d in outs[0]["shape"]))


def _disambiguate(variants: list[_Variant]) -> None:
    """Two variants of one mode (e.g. int8 by both engines) get the engine, then the folder, in their name."""
    seen: dict[str, int] = {}
    for v in variants:
        seen[v.mode] = seen.get(v.mode, 0) + 1
    for v in variants:
        if seen[v.mode] > 1:
            v.mode = f"{v.mode}@{v.engine or v.file.parent.name}"
    names = [v.mode for v in variants]
    for v in variants:
        if names.count(v.mode) > 1:
            v.mode = f"{v.mode}@{v.file.parent.name}"


def resolve_spec(req: EvalRequest, manifest: dict[str, Any] | None, shape: tuple[int, ...]) -> tuple[Any, list[str]]:
    """The preprocessing of the evaluation images: the manifest's, with any flag overriding it."""
    from edgeq.preprocess import PreprocessSpec

    notes = []
    base = dict((manifest or {}).get("preprocess") or {})
    if not base:
        channels = shape[-1] if len(shape) == 4 else 3
        base = {"preset": "unit", "color": "gray" if channels == 1 else "rgb"}
        if not req.preset:
            notes.append("no manifest beside the models: assuming --preprocess unit; pass --preprocess to match training")
    for key in ("preset", "color", "resize"):
        if getattr(req, key):
            base[key] = getattr(req, key)
    if req.preset and req.preset != "custom":
        base.pop("mean", None)
        base.pop("std", None)
    if req.mean or req.std:
        base.update(preset="custom", mean=list(req.mean), std=list(req.std))
    base.pop("size", None)
    spec = PreprocessSpec.from_dict(base)
    if len(shape) != 4:
        raise ModelLoadError(f"model input shape {list(shape)} is not an image (N, H, W, C)",
                             hint="edgeq eval evaluates image models")
    if spec.channels != shape[-1]:
        raise UsageError(f"--color {spec.color} gives {spec.channels} channel(s) but the model takes {shape[-1]}",
                         hint=f"use --color {'gray' if shape[-1] == 1 else 'rgb'}")
    return spec.with_size(shape[1], shape[2]), notes


def _class_names(req: EvalRequest, manifest: dict[str, Any] | None) -> list[str] | None:
    from edgeq.evaluation.dataset import read_labels_file

    if req.labels:
        return read_labels_file(req.labels)
    return None


def run_evaluate(req: EvalRequest, *, cancel: CancelToken) -> Iterator[Event]:
    """The eval job (see :func:`edgeq.api.evaluate`).

    Yields:
        Stage/Progress/Log/Metric/VariantDone events, then ``Done(EvalResult)``.

    Raises:
        EdgeqError: bad input (before any work), or every variant failed.
    """
    from edgeq.evaluation.dataset import align_to_labels, find_dataset
    from edgeq.evaluation.runner import VariantPool
    from edgeq.evaluation.scoring import Score

    _check_numbers(req)
    folder, manifest, files, ref_path = resolve_targets(req.targets, req.reference)
    manifests = {folder: manifest} if folder is not None else {}

    def manifest_of(p: Path) -> dict[str, Any] | None:
        if p.parent not in manifests:
            manifests[p.parent] = _load_manifest(p.parent)
        return manifests[p.parent]

    variants = [_variant(f, manifest_of(f)) for f in files if ref_path is None or f.resolve() != ref_path.resolve()]
    reference = _variant(ref_path, manifest_of(ref_path)) if ref_path else None
    _disambiguate(variants)
    everyone = ([reference] if reference else []) + variants
    if not variants and reference is None:
        raise InputError("no variant to evaluate", hint="pass .tflite files")
    shape = everyone[0].input_shape
    for v in everyone[1:]:
        if v.input_shape[1:] != shape[1:]:
            who = "reference model" if reference is not None and v is not reference and everyone[0] is reference else "model"
            raise ModelLoadError(
                f"{who} {everyone[0].file.name} takes input {list(shape)} but {v.file.name} takes {list(v.input_shape)}",
                hint="pass a --reference converted from the same model (same input size and channels)",
            )
    classifier = {id(v): len(v.output_shape) == 2 and v.output_shape[-1] > 1 for v in everyone}
    if req.top_k is not None and req.top_k > 1:
        bad = [v.file.name for v in everyone if not classifier[id(v)]]
        if bad:
            raise UsageError(f"--top-k {req.top_k} needs class scores, but {bad[0]} outputs shape {list(everyone[0].output_shape)}",
                             hint="drop --top-k for models that are not classifiers")
    spec, notes = resolve_spec(req, manifest, shape)
    names = _class_names(req, manifest)
    n_out = max(v.output_shape[-1] for v in everyone)
    if req.top_k is not None and req.top_k > n_out:
        raise UsageError(f"--top-k {req.top_k} is more than the {n_out} classes the model outputs",
                         hint=f"pass --top-k between 1 and {n_out}")
    data = find_dataset(req.data, csv_path=req.csv, classes=names)
    class_warnings: list[str] = []
    if data.labelled and not names and (manifest or {}).get("labels"):
        data, class_warnings = align_to_labels(data, manifest["labels"])
    if data.labelled:
        if not all(classifier[id(v)] for v in everyone):
            raise UsageError(f"labelled data needs classifier outputs (N, classes); {everyone[0].file.name} outputs "
                             f"{list(everyone[0].output_shape)}", hint="evaluate it on an unlabelled folder (agreement only)")
        if len(data.classes) > n_out:
            raise DatasetError(
                f"{req.data} has {len(data.classes)} classes but the model outputs {n_out} scores",
                hint="remove the class folders the model was not trained on, or pass --labels with the model's classes",
            )
        if data.kind == "folders" and len(data.classes) < n_out:
            class_warnings.append(
                f"{req.data} has {len(data.classes)} class folder(s) but the model outputs {n_out} scores: accuracy "
                f"uses the folder order as the class index (first folder = class 0); pass --labels FILE if the "
                f"folders are other classes")
    sample = None
    if req.limit and req.limit < len(data.files):
        pick = np.sort(np.random.default_rng(req.seed).choice(len(data.files), req.limit, replace=False))
        files_all = [data.files[i] for i in pick]
        labels_all = np.asarray([data.labels[i] for i in pick], np.int64) if data.labelled else None
        sample = {"limit": req.limit, "seed": req.seed, "of": len(data.files)}
    else:
        files_all = list(data.files)
        labels_all = np.asarray(data.labels, np.int64) if data.labelled else None
    top_k = req.top_k or (5 if n_out >= 5 else None)

    who = f"{_plural(len(variants), 'variant')} + reference" if reference is not None else _plural(len(variants), "variant")
    of = f" (a random sample of {len(data.files)}, seed {req.seed})" if sample else ""
    yield Stage("evaluate", f"Evaluating {who} on {_plural(len(files_all), 'image')}{of}", total=len(files_all))
    for w in class_warnings:
        yield Log(w, LogLevel.WARNING, "eval-classes")
    for note in notes:
        yield Log(note, LogLevel.INFO, "default")
    yield Log(f"Preprocessing: {spec.describe()}")
    n_cls = max(n_out, len(data.classes)) if data.labelled else None
    scores = {id(v): Score(classes=n_cls, classifier=classifier[id(v)], top_k=top_k) for v in everyone}
    errors: dict[int, str] = {}
    ch = spec.channels
    stats = {"n": 0, "sum": np.zeros(ch), "sq": np.zeros(ch), "min": np.full(ch, np.inf), "max": np.full(ch, -np.inf)}
    drift_sample: list[np.ndarray] = []
    skipped = list(data.skipped)
    done = 0
    partial_reason = None
    interrupted: BaseException | None = None
    models = [v.data for v in everyone]
    pool = VariantPool(models, workers=req.workers)
    chunk = max(1, req.chunk)
    starts = list(range(0, len(files_all), chunk))
    inflight: list[tuple[int, list[Any]]] = []
    ref_index = 0 if reference is not None else None

    def score_slice(part: Any, lo: int, hi: int, labels: np.ndarray | None) -> dict[int, Score]:
        """Scores of one slice, computed in the worker that ran it (merged in order below)."""
        if not part.kept:
            return {}
        y = labels[lo:hi][part.kept] if labels is not None else None
        ref = part.outputs.get(ref_index) if ref_index is not None else None
        if isinstance(ref, BaseException):
            ref = None  # the caller stops the job with the reference's error
        out = {}
        for i, o in part.outputs.items():
            if not isinstance(o, BaseException):
                sc = scores[id(everyone[i])].empty()
                sc.update(o, y, ref if i != ref_index else None)
                out[i] = sc
        return out

    with opencv_single_threaded():
        try:
            for k, start in enumerate(starts):
                cancel.raise_if_cancelled()
                # Keep the next chunk decoding, running and scoring while this one is merged.
                while len(inflight) < 2 and k + len(inflight) < len(starts):
                    s0 = starts[k + len(inflight)]
                    live = [i for i, v in enumerate(everyone) if id(v) not in errors]
                    y_chunk = labels_all[s0 : s0 + chunk] if labels_all is not None else None
                    post = functools.partial(score_slice, labels=y_chunk)
                    inflight.append((s0, pool.submit_files(live, files_all[s0 : s0 + chunk], spec, post)))
                s0, futures = inflight.pop(0)
                parts = [f.result() for f in futures]
                done += len(files_all[s0 : s0 + chunk])
                for p in parts:
                    skipped += [{"file": data.relative(path), "reason": why} for path, why in p.errors]
                    if p.stats is not None:
                        _merge_stats(stats, p.stats)
                    if len(drift_sample) < 64 and len(p.kept):  # only 64 inputs are kept, for the drift check
                        drift_sample.extend(p.x[: 64 - len(drift_sample)])
                if not any(p.kept for p in parts):
                    yield Progress("evaluate", done, len(files_all))
                    continue
                if ref_index is not None:
                    r = next((p.outputs[ref_index] for p in parts if isinstance(p.outputs.get(ref_index), BaseException)), None)
                    if r is not None:
                        raise EvaluationError(f"the reference {reference.file.name} failed to run: {r}",
                                              hint="pass a working float .tflite with --reference")
                for i in parts[0].outputs:
                    v = everyone[i]
                    if id(v) in errors:
                        continue
                    o = next((p.outputs[i] for p in parts if isinstance(p.outputs.get(i), BaseException)), None)
                    if o is not None:
                        errors[id(v)] = str(o).strip().splitlines()[0][:300] if str(o).strip() else type(o).__name__
                        yield Log(f"{v.mode}: failed to run: {errors[id(v)]}", LogLevel.WARNING, "variant-failed")
                        continue
                    sc = scores[id(v)]
                    for p in parts:
                        if i in p.extra:
                            sc.merge(p.extra[i])
                    if sc.top1 is not None:
                        yield Metric("top1", sc.top1, sc.count, variant=v.mode)
                    elif sc.agreement is not None:
                        yield Metric("agreement_top1", sc.agreement, sc.count, variant=v.mode)
                yield Progress("evaluate", done, len(files_all))
        except BaseException as exc:
            from edgeq.errors import Cancelled

            if isinstance(exc, (Cancelled, KeyboardInterrupt, GeneratorExit)) and done:
                partial_reason = getattr(exc, "message", None) or cancel.reason or "interrupted (Ctrl-C)"
            if partial_reason is None:
                raise
            if isinstance(exc, (KeyboardInterrupt, GeneratorExit)):
                # Ctrl-C, or the consumer closed us: keep what was scored, marked partial, then stop as asked
                # (a cancel through the token instead ends normally, with the partial document as the result).
                interrupted = exc
        finally:
            for _, fs in inflight:
                for f in fs:
                    f.cancel()
            pool.close()

    def document(drift: dict[str, Any] | None, pcheck: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        ref_doc = scores[id(reference)].to_dict(data.classes) if reference is not None else None
        ref_top1 = ref_doc["top1"] if ref_doc else None
        records = []
        for v in everyone:
            rec: dict[str, Any] = {"file": v.file.name, "mode": v.mode, "engine": v.engine, "calibration": v.calibration,
                                   "bytes": len(v.data), "sha256": sha256_bytes(v.data), "status": "ok", "error": None,
                                   "metrics": None, "drop_pp": None, "reference": v is reference}
            if id(v) in errors:
                rec.update(status="failed", error={"message": f"{v.file.name} failed in the LiteRT interpreter: {errors[id(v)]}",
                                                   "hint": "this variant cannot be deployed as is; re-convert it or pick another"})
            else:
                m = scores[id(v)].to_dict(data.classes)
                rec["metrics"] = m
                if isinstance(ref_top1, float) and isinstance(m["top1"], float):
                    rec["drop_pp"] = round((ref_top1 - m["top1"]) * 100, 4)
            records.append(rec)
        ok = [r for r in records if r["status"] == "ok"]
        failed = f"failed: {', '.join(r['mode'] for r in records if r['status'] != 'ok')}" if len(ok) < len(records) else None
        doc = {
            "__meta__": meta("eval", EVAL_SCHEMA),
            "command": req.command,
            "partial": bool(partial_reason or failed),
            "partial_reason": partial_reason or failed,
            "data": data_doc,
            "reference": {"file": reference.file.name, "mode": reference.mode,
                          "sha256": sha256_bytes(reference.data)} if reference else None,
            "variants": records,
            "drift": drift,
            "preprocess_check": pcheck,
            "recommendation": recommend(records, req.max_drop, labelled=data.labelled),
        }
        return doc, records

    usable = stats["n"]
    data_doc = data.to_dict() | {"images": usable, "sample": sample, "skipped": skipped, "preprocess": spec.to_dict(),
                                 "stats": _stats_doc(stats) if usable else None}
    if interrupted is not None:
        doc, _ = document(None)  # no drift check: stop promptly
        if req.write and folder is not None and usable:
            partial_path = run_document_path(folder, "eval")
            write_json_atomic(partial_path, doc)
            cancel.wrote(partial_path)
        raise interrupted
    if usable == 0:
        bad = [s for s in skipped if s["reason"] != "not an image file"] or skipped
        shown = "; ".join(f"{s['file']}: {s['reason']}" for s in bad[:3]) + (f"; {len(bad) - 3} more" if len(bad) > 3 else "")
        raise DatasetError(f"no readable images in {req.data} ({shown})" if shown else f"no readable images in {req.data}",
                           hint="add images OpenCV can decode (PNG, JPEG, BMP, WebP, TIFF)")
    bad = [s for s in skipped if s["reason"] not in ("not an image file",)]
    if bad:
        yield Log(f"skipped {len(bad)} image(s): " + ", ".join(f"{s['file']} ({s['reason']})" for s in bad[:3]),
                  LogLevel.WARNING, "eval-skipped")
    drift = None
    if req.drift and manifest:
        from edgeq.evaluation.drift import check_drift

        int8 = next((v for v in variants if v.mode == "int8" and id(v) not in errors), None)
        drift = check_drift(manifest, data_doc["stats"], spec, np.stack(drift_sample),
                            int8.data if int8 else None, reference.data if reference else None)
    pcheck = None
    if req.drift and data.labelled and reference is not None and labels_all is not None:
        from edgeq.evaluation.preprocess_check import check_preprocessing

        with opencv_single_threaded():
            pcheck = check_preprocessing(reference.data, files_all, labels_all, spec)
    doc, records = document(drift, pcheck)
    for rec in records:
        yield VariantDone(rec["mode"], rec["status"] == "ok", rec)
    wrong_inputs = mismatch_warning(pcheck)
    if wrong_inputs:
        yield Log(wrong_inputs, LogLevel.WARNING, "preprocess-mismatch")
    for w in (drift or {}).get("warnings", []):
        yield Log(w, LogLevel.WARNING, "drift")
    if not any(r["status"] == "ok" for r in records):
        raise EvaluationError(f"every variant failed; first: {records[0]['error']['message']}",
                              hint=records[0]["error"]["hint"])
    path = None
    if req.write and folder is not None:
        path = run_document_path(folder, "eval")
        write_json_atomic(path, doc)
    elif req.write:
        yield Log("no results folder (manifest.json) beside the models: the eval document was not saved; use --json")
    yield Done(EvalResult(doc, path))


def _check_numbers(req: EvalRequest) -> None:
    """Rejects counts and tolerances the CLI's argparse types would reject (API and recipe callers)."""
    if req.top_k is not None and req.top_k < 1:
        raise UsageError(f"--top-k must be ≥ 1, got {req.top_k}", hint="e.g. --top-k 5")
    if req.limit is not None and req.limit < 0:
        raise UsageError(f"--limit must be ≥ 1, got {req.limit}", hint="e.g. --limit 100 (a random sample of 100 images)")
    if req.workers is not None and req.workers < 1:
        raise UsageError(f"--workers must be ≥ 1, got {req.workers}", hint="omit --workers to use every core")
    if not req.max_drop >= 0:
        raise UsageError(f"--max-drop must be ≥ 0, got {req.max_drop:g}", hint="e.g. --max-drop 1 (percentage points)")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _merge_stats(stats: dict[str, Any], part: dict[str, Any]) -> None:
    stats["n"] += part["n"]
    stats["values"] = stats.get("values", 0) + part["values"]
    stats["sum"] += part["sum"]
    stats["sq"] += part["sq"]
    stats["min"] = np.minimum(stats["min"], part["min"])
    stats["max"] = np.maximum(stats["max"], part["max"])


def _stats_doc(stats: dict[str, Any]) -> dict[str, Any]:
    n = max(1, stats.get("values", 0))
    mean = stats["sum"] / n
    std = np.sqrt(np.maximum(stats["sq"] / n - mean**2, 0))
    return {"channels": int(len(mean)), "min": [round(float(v), 6) for v in stats["min"]],
            "max": [round(float(v), 6) for v in stats["max"]], "mean": [round(float(v), 6) for v in mean],
            "std": [round(float(v), 6) for v in std]}


def recommend(records: list[dict[str, Any]], max_drop: float, *, labelled: bool) -> dict[str, Any] | None:
    """The smallest variant whose accuracy drop (or disagreement) vs the reference is within ``max_drop``."""
    cands = []
    for r in records:
        if r["status"] != "ok" or r["metrics"] is None:
            continue
        m = r["metrics"]
        if r.get("reference"):
            loss = 0.0
        elif labelled and r["drop_pp"] is not None:
            loss = r["drop_pp"]
        elif isinstance(m.get("agreement_top1"), float):
            loss = (1 - m["agreement_top1"]) * 100
        else:
            continue
        cands.append((r, loss))
    if not cands:
        return None
    within = [(r, loss) for r, loss in cands if loss <= max_drop + 1e-9]
    what = "top-1 drop" if labelled else "disagreement with the reference"
    if not within:
        r, loss = min(cands, key=lambda c: c[1])
        return {"variant": r["mode"], "file": r["file"], "max_drop_pp": max_drop, "met": False,
                "reason": f"no variant is within {max_drop:g} pp; the closest is {r['mode']} ({what} {loss:.2f} pp, "
                          f"{r['bytes'] / 1024:.1f} KiB); for mixed precision try edgeq convert MODEL --max-drop {max_drop:g} "
                          f"--data FOLDER"}
    r, loss = min(within, key=lambda c: (c[0]["bytes"], c[1]))
    top1 = r["metrics"].get("top1")
    acc = f"top-1 {top1:.1%}, " if isinstance(top1, float) else ""
    base = next((c for c, _ in cands if c.get("reference")), None)
    size = f", {r['bytes'] / base['bytes']:.2f}× the reference size" if base else ""
    return {"variant": r["mode"], "file": r["file"], "max_drop_pp": max_drop, "met": True,
            "reason": f"smallest variant within {max_drop:g} pp: {r['mode']} ({acc}{what} {loss:.2f} pp, "
                      f"{r['bytes'] / 1024:.1f} KiB{size})"}
