"""Running several ``.tflite`` variants over chunks of inputs on every core.

Each worker thread owns one single-threaded interpreter per variant (interpreters are not
thread-safe, and LiteRT's ``invoke`` releases the GIL, so threads give real parallelism without
copying tensors between processes). A chunk is cut into one slice per worker; the worker decodes
its slice (``cv2.imread`` releases the GIL), normalizes it in one vectorized step, runs every
variant on it one sample at a time (edgeq's exports are batch-1, as integer accelerators need;
batched invokes on resizable models measured slower anyway, as every resize re-plans XNNPACK),
and can score it too (``post``), so the calling thread only merges sums. Python that runs between
two GIL-free calls is what limits the speed-up, so each step keeps it short.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from edgeq.tflite import TfliteRunner


@dataclass
class SliceResult:
    """Decoded inputs of one slice (``kept``: positions in the slice), decode errors, outputs by model."""

    x: np.ndarray
    kept: list[int]
    errors: list[tuple[Path, str]]
    outputs: dict[int, np.ndarray | BaseException]
    stats: dict[str, Any] | None = None  # per-channel partial sums, computed in the worker
    extra: Any = None  # what the caller's ``post`` computed from this slice, in the worker


def slice_stats(x: np.ndarray) -> dict[str, Any]:
    """Per-channel count/sum/sum of squares/min/max of inputs (merged by the caller).

    Computed in the worker thread, without a float64 copy: reductions release the GIL, so the
    main thread is not serialised on statistics of large inputs.
    """
    # Channel-major and contiguous: numpy reduces a (pixels, 3) array along axis 0 ~15x slower.
    t = np.ascontiguousarray(x.reshape(-1, x.shape[-1]).T)
    return {"n": len(x), "values": t.shape[1], "sum": t.sum(axis=1, dtype=np.float64),
            "sq": np.einsum("ij,ij->i", t, t, dtype=np.float64),
            "min": t.min(axis=1).astype(np.float64), "max": t.max(axis=1).astype(np.float64)}


class VariantPool:
    """Runs models (given as bytes) on float inputs with ``workers`` threads.

    Args:
        models: the ``.tflite`` flatbuffers, indexed by position.
        workers: threads (default: every core).
    """

    def __init__(self, models: Sequence[bytes], *, workers: int | None = None) -> None:
        self.models = list(models)
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="edgeq-eval")

    def _runner(self, index: int) -> "TfliteRunner":
        runners = getattr(self._local, "runners", None)
        if runners is None:
            runners = self._local.runners = {}
        r = runners.get(index)
        if r is None:
            from edgeq.tflite import TfliteRunner

            r = runners[index] = TfliteRunner(self.models[index], threads=1)
        return r

    def _run_slice(self, index: int, xs: np.ndarray) -> np.ndarray:
        return self._runner(index).run(xs)

    def _decode_and_run(self, indices: Sequence[int], files: Sequence[Path], spec: Any,
                        post: Callable[[SliceResult, int, int], Any] | None, lo: int, hi: int) -> SliceResult:
        from edgeq.calibration import ImageDecodeError, load_pixels, normalize

        pixels, pads, kept, errors = [], [], [], []
        for j, p in enumerate(files):
            try:
                px, pad, _ = load_pixels(p, spec)
            except ImageDecodeError as exc:
                errors.append((p, str(exc)))
                continue
            pixels.append(px)
            pads.append(pad)
            kept.append(j)
        if not pixels:
            x = np.zeros((0,), np.float32)
        elif all(pad is None for pad in pads):  # one normalization for the slice: the same numbers as per image
            x = normalize(np.stack(pixels), spec)
        else:
            x = np.stack([normalize(px, spec, pad) for px, pad in zip(pixels, pads)])
        outs: dict[int, np.ndarray | BaseException] = {}
        for i in indices:
            try:
                outs[i] = self._run_slice(i, x) if kept else np.zeros((0,), np.float32)
            except Exception as exc:  # one broken variant must not stop the others
                outs[i] = exc
        result = SliceResult(x, kept, errors, outs, slice_stats(x) if kept else None)
        if post is not None:
            result.extra = post(result, lo, hi)
        return result

    def submit_files(self, indices: Sequence[int], files: Sequence[Path], spec: Any,
                     post: Callable[[SliceResult, int, int], Any] | None = None) -> list[Future]:
        """Decodes ``files`` and runs the models on them, one slice per worker (returns futures in order).

        Decoding happens in the same worker that runs the slice: one hand-off per slice instead of
        one per image, which matters when a model takes microseconds per image. ``post(result,
        lo, hi)`` (``files[lo:hi]`` is the slice) runs in the worker too, and its value is
        ``result.extra``: per-slice work such as scoring stays off the caller's thread, where it
        would hold the GIL while both workers wait for it.
        """
        parts = max(1, min(self.workers, len(files)))
        bounds = np.linspace(0, len(files), parts + 1).astype(int)
        return [self._pool.submit(self._decode_and_run, list(indices), files[a:b], spec, post, int(a), int(b))
                for a, b in zip(bounds[:-1], bounds[1:]) if b > a]

    def run(self, indices: Sequence[int], xs: np.ndarray) -> dict[int, np.ndarray | BaseException]:
        """Outputs of every model in ``indices`` on ``xs``; a failing model maps to its exception."""
        if len(xs) == 0:
            return {i: np.zeros((0,), np.float32) for i in indices}
        parts = max(1, min(self.workers, len(xs)))
        bounds = np.linspace(0, len(xs), parts + 1).astype(int)
        futures = {i: [self._pool.submit(self._run_slice, i, xs[a:b]) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
                   for i in indices}
        out: dict[int, np.ndarray | BaseException] = {}
        for i, fs in futures.items():
            try:
                out[i] = np.concatenate([f.result() for f in fs])
            except Exception as exc:  # one broken variant must not stop the others
                out[i] = exc
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "VariantPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
