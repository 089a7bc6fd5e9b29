"""Calibration images: find them, decode and preprocess them in parallel, describe them.

Decoding uses OpenCV in a thread pool: ``cv2.imdecode`` and ``cv2.resize`` release the GIL, so
threads use every core without copying tensors between processes (and without forking a
process that may hold TensorFlow's threads).
"""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from edgeq.errors import CalibrationDataError
from edgeq.events import CancelToken, Done, Event, Log, LogLevel, Progress, Stage
from edgeq.preprocess import Color, PreprocessSpec, Resize

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


class ImageDecodeError(Exception):
    """A file could not be turned into a tensor (internal; becomes a 'skipped' entry)."""


@dataclass
class DecodedImage:
    path: Path
    tensor: "np.ndarray | None"
    error: str = ""
    source_channels: int = 0


@dataclass
class CalibrationSet:
    """Preprocessed calibration tensors and what is known about them."""

    folder: Path
    spec: PreprocessSpec
    tensors: "np.ndarray"  # (N, H, W, C) float32
    files: list[str]
    skipped: list[dict[str, str]] = field(default_factory=list)
    gray_sources: int = 0
    requested: int = 0
    seed: int = 0
    candidates: int = 0

    def stats(self) -> dict[str, Any]:
        """Per-channel min/max/mean/std of the tensors (the numbers int8 scales are fitted to)."""
        return tensor_stats(self.tensors)

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "requested": self.requested,
            "used": len(self.files),
            "candidates": self.candidates,
            "seed": self.seed,
            "files": self.files,
            "skipped": self.skipped,
            "grayscale_sources": self.gray_sources,
            "stats": self.stats(),
        }


def tensor_stats(tensors: "np.ndarray") -> dict[str, Any]:
    import numpy as np

    flat = tensors.reshape(-1, tensors.shape[-1]).astype(np.float64)
    return {
        "channels": int(flat.shape[1]),
        "min": [round(float(v), 6) for v in flat.min(axis=0)],
        "max": [round(float(v), 6) for v in flat.max(axis=0)],
        "mean": [round(float(v), 6) for v in flat.mean(axis=0)],
        "std": [round(float(v), 6) for v in flat.std(axis=0)],
    }


def list_images(folder: Path) -> tuple[list[Path], list[Path]]:
    """All image files below ``folder`` (recursive, sorted like paths) and the other files found there.

    Hidden files and folders are ignored; symlinked files are followed, symlinked folders are not
    (as ``Path.rglob``). Walks with ``os.scandir``, whose entries know their type without a
    ``stat`` per file: listing 50 000 images is part of every eval run's serial start-up.
    """
    found: list[tuple[str, ...]] = []
    stack: list[tuple[str, tuple[str, ...]]] = [(os.fspath(folder), ())]
    while stack:
        where, parts = stack.pop()
        try:
            with os.scandir(where) as entries:
                for e in entries:
                    if e.name.startswith("."):
                        continue
                    if e.is_dir(follow_symlinks=False):
                        stack.append((e.path, parts + (e.name,)))
                    elif e.is_file():
                        found.append(parts + (e.name,))
        except OSError:  # an unreadable subfolder is skipped, as Path.rglob does
            continue
    found.sort()
    root = Path(folder)
    images, others = [], []
    for parts in found:
        (images if os.path.splitext(parts[-1])[1].lower() in IMAGE_EXTENSIONS else others).append(root.joinpath(*parts))
    return images, others


def load_image(path: Path, spec: PreprocessSpec) -> tuple["np.ndarray", int]:
    """Decodes one file and applies ``spec``.

    Returns:
        (tensor of shape (H, W, C) float32, number of channels in the source file)

    Raises:
        ImageDecodeError: the file is unreadable, truncated or not an image.
    """
    pixels, pad, src_ch = load_pixels(path, spec)
    return normalize(pixels, spec, pad), src_ch


def load_pixels(path: Path, spec: PreprocessSpec) -> tuple["np.ndarray", Any, int]:
    """The first half of :func:`load_image`: decoded, colour-converted and resized, not normalized.

    Returns:
        (uint8 pixels (H, W, C), letterbox padding for :func:`normalize` or None, source channels)
    """
    import cv2
    import numpy as np

    img = None
    jpeg = path.suffix.lower() in (".jpg", ".jpeg")
    if not jpeg:
        # One call that reads and decodes with the GIL released: np.fromfile + imdecode hold the
        # GIL while opening and reading, and made two decode threads slower than one (0.8×).
        img = cv2.imread(os.fsdecode(path), cv2.IMREAD_UNCHANGED)
    if img is None:  # a JPEG, or a file imread refused: read it ourselves to say exactly why
        img = _decode_buffer(path, jpeg)
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype != np.uint8:
        img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    src_ch = 1 if img.ndim == 2 else img.shape[2]
    img = _convert_color(img, src_ch, spec.color)
    pixels, pad = _resize(img, spec)
    return pixels, pad, src_ch


def _decode_buffer(path: Path, jpeg: bool) -> "np.ndarray":
    import cv2
    import numpy as np

    try:
        buf = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise ImageDecodeError(f"unreadable: {exc.strerror}") from None
    if buf.size == 0:
        raise ImageDecodeError("empty file")
    if jpeg and not _jpeg_complete(buf):
        # libjpeg decodes truncated files into grey padding with only a stderr warning;
        # calibrating on that padding would skew the ranges, so refuse the file.
        raise ImageDecodeError("truncated JPEG (no end-of-image marker)")
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ImageDecodeError("not a decodable image")
    return img


def _jpeg_complete(buf: "np.ndarray") -> bool:
    if buf.size < 4 or buf[0] != 0xFF or buf[1] != 0xD8:
        return True  # not a JPEG at all: let imdecode decide
    tail = buf[-64:].tobytes()
    return b"\xff\xd9" in tail


def _convert_color(img: "np.ndarray", src_ch: int, color: Color) -> "np.ndarray":
    import cv2

    if color == Color.GRAY:
        if src_ch == 1:
            out = img
        else:
            out = cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY if src_ch == 4 else cv2.COLOR_BGR2GRAY)
        return out.reshape(out.shape[0], out.shape[1], 1)
    if src_ch == 1:
        code = cv2.COLOR_GRAY2RGB if color == Color.RGB else cv2.COLOR_GRAY2BGR
    elif src_ch == 4:
        code = cv2.COLOR_BGRA2RGB if color == Color.RGB else cv2.COLOR_BGRA2BGR
    else:
        code = cv2.COLOR_BGR2RGB if color == Color.RGB else None
    return img if code is None else cv2.cvtColor(img, code)


def _resize(img: "np.ndarray", spec: PreprocessSpec) -> tuple["np.ndarray", Any]:
    """Resizes (stretch, crop or letterbox) to ``spec.size``; returns (pixels (H, W, C), padding)."""
    ch = img.shape[2]
    if spec.size is None:
        th, tw = img.shape[:2]
    else:
        th, tw = spec.size
    ih, iw = img.shape[:2]
    pad = None
    if (ih, iw) != (th, tw):
        if spec.resize == Resize.STRETCH:
            img = _scale(img, tw, th)
        elif spec.resize == Resize.CROP:
            s = max(th / ih, tw / iw)
            nh, nw = max(th, round(ih * s)), max(tw, round(iw * s))
            img = _scale(img, nw, nh)
            y, x = (nh - th) // 2, (nw - tw) // 2
            img = img[y : y + th, x : x + tw]
        else:  # letterbox
            s = min(th / ih, tw / iw)
            nh, nw = min(th, max(1, round(ih * s))), min(tw, max(1, round(iw * s)))
            img = _scale(img, nw, nh)
            y, x = (th - nh) // 2, (tw - nw) // 2
            pad = ((y, th - nh - y), (x, tw - nw - x), (0, 0))
    return img.reshape(img.shape[0], img.shape[1], ch), pad


def normalize(pixels: "np.ndarray", spec: PreprocessSpec, pad: Any = None) -> "np.ndarray":
    """Pixels (..., C) → float32 ``(x - mean) / std``; one image or a stack of them alike.

    ``pad`` (one image only) is the letterbox border, added after normalization so that it is
    "the mean pixel".
    """
    import numpy as np

    mean, std = spec.mean_std()
    out = (pixels.astype(np.float32) - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    if pad is not None:
        out = np.pad(out, pad, constant_values=0.0)
    return out


def _scale(img: "np.ndarray", w: int, h: int) -> "np.ndarray":
    import cv2

    shrinking = w * h < img.shape[0] * img.shape[1]
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def _decode_one(path: Path, spec: PreprocessSpec) -> DecodedImage:
    try:
        tensor, src = load_image(path, spec)
        return DecodedImage(path, tensor, "", src)
    except ImageDecodeError as exc:
        return DecodedImage(path, None, str(exc), 0)


def decode_images(
    paths: Sequence[Path], spec: PreprocessSpec, *, workers: int | None = None, cancel: CancelToken | None = None
) -> Iterator[DecodedImage]:
    """Decodes ``paths`` on all cores, yielding results in input order."""
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(paths) < 4:
        for p in paths:
            if cancel is not None:
                cancel.raise_if_cancelled()
            yield _decode_one(p, spec)
        return
    with opencv_single_threaded():
        yield from _decode_pool(paths, spec, workers, cancel)


@contextlib.contextmanager
def opencv_single_threaded() -> Iterator[None]:
    """Switches OpenCV's own worker threads off for the block (and restores them after).

    edgeq decodes one image per thread of its own pool; OpenCV's internal threads on top would
    oversubscribe the cores and halve the gain (measured: 2.27× → 1.2× on 2 cores).
    """
    import cv2

    saved = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(saved)


def _decode_pool(paths: Sequence[Path], spec: PreprocessSpec, workers: int, cancel: CancelToken | None) -> Iterator[DecodedImage]:
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="edgeq-decode") as pool:
        window = workers * 4
        pending = [pool.submit(_decode_one, p, spec) for p in paths[:window]]
        nxt = len(pending)
        while pending:
            if cancel is not None and cancel.cancelled:
                for f in pending:
                    f.cancel()
                cancel.raise_if_cancelled()
            yield pending.pop(0).result()
            if nxt < len(paths):
                pending.append(pool.submit(_decode_one, paths[nxt], spec))
                nxt += 1


def prepare_calibration(
    folder: str | os.PathLike[str],
    spec: PreprocessSpec,
    *,
    num: int = 200,
    seed: int = 0,
    allow_fewer: bool = False,
    cancel: CancelToken | None = None,
) -> Iterator[Event]:
    """Finds, samples, decodes and preprocesses calibration images.

    A seeded random sample of ``num`` images is drawn; unreadable files are skipped (and listed)
    and replaced by the next images of the same seeded order.

    Yields:
        Stage/Progress/Log events, then ``Done(CalibrationSet)``.

    Raises:
        CalibrationDataError: no folder, no images, or fewer usable images than ``num``
            (unless ``allow_fewer``).
    """
    import numpy as np

    folder = Path(folder)
    if not folder.is_dir():
        raise CalibrationDataError(
            f"calibration folder {folder} does not exist" if not folder.exists() else f"{folder} is not a folder",
            hint="pass a folder of images with --calib",
        )
    if num < 1:
        raise CalibrationDataError("--num-calib must be at least 1", hint="e.g. --num-calib 200")
    images, others = list_images(folder)
    skipped = [{"file": str(p.relative_to(folder)), "reason": "not an image file"} for p in others]
    if not images:
        what = f"only {len(others)} non-image file(s), e.g. {others[0].name}" if others else "no files"
        raise CalibrationDataError(
            f"calibration folder {folder} has no images ({what})",
            hint=f"put {', '.join(IMAGE_EXTENSIONS)} files in it, or pass another --calib",
        )
    order = np.random.default_rng(seed).permutation(len(images))
    ordered = [images[i] for i in order]
    yield Stage("calibration", f"Decoding calibration images from {folder}", total=min(num, len(images)))
    tensors, used, gray = [], [], 0
    pos = 0
    while len(tensors) < num and pos < len(ordered):
        batch = ordered[pos : pos + (num - len(tensors))]
        pos += len(batch)
        for d in decode_images(batch, spec, cancel=cancel):
            if d.tensor is None:
                skipped.append({"file": str(d.path.relative_to(folder)), "reason": d.error})
                continue
            tensors.append(d.tensor)
            used.append(str(d.path.relative_to(folder)))
            gray += int(d.source_channels == 1 and spec.channels == 3)
            yield Progress("calibration", len(tensors), min(num, len(images)))
    bad = [s for s in skipped if s["reason"] != "not an image file"]
    if bad:
        yield Log(
            f"skipped {len(bad)} unreadable image(s) in {folder}: "
            + ", ".join(f"{s['file']} ({s['reason']})" for s in bad[:3])
            + (" …" if len(bad) > 3 else ""),
            LogLevel.WARNING,
            "calib-skipped",
        )
    if not tensors or (len(tensors) < num and not allow_fewer):
        raise CalibrationDataError(
            f"calibration folder {folder} has {len(tensors)} usable image(s), --num-calib asks for {num}",
            hint="add images, lower --num-calib, or pass --allow-fewer" if tensors else "add readable images to the folder",
        )
    if len(tensors) < num:
        # Allowed (--allow-fewer, or the default count on a smaller folder): said, not warned in every report.
        yield Log(f"using all {len(tensors)} calibration images of {folder} (fewer than --num-calib {num}; a few hundred "
                  "representative images is typical)", LogLevel.INFO, "calib-fewer")
    if gray:
        yield Log(
            f"{gray} calibration image(s) are grayscale; converted to 3-channel {spec.color} for this RGB model",
            LogLevel.WARNING,
            "calib-grayscale",
        )
    yield Done(
        CalibrationSet(
            folder=folder,
            spec=spec,
            tensors=np.stack(tensors).astype(np.float32),
            files=used,
            skipped=skipped,
            gray_sources=gray,
            requested=num,
            seed=seed,
            candidates=len(images),
        )
    )
