"""Running several ``.tflite`` variants over chunks of inputs on every core.

Each worker thread owns one single-threaded interpreter per variant (interpreters are not
thread-safe, and LiteRT's ``invoke`` releases the GIL, so threads give real parallelism without
copying tensors between processes). A chunk is cut into one slice per worker and variant, and a
slice runs as one batched invoke when the model allows resizing its batch dimension: for small
models the per-invoke Python overhead (which holds the GIL) would otherwise cap the speed-up.
Batching is verified once per interpreter against single-sample invokes and abandoned for good
when the model does not support it (a hard-coded reshape, a stateful op).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np


@dataclass
class SliceResult:
    """Decoded inputs of one slice (``kept``: positions in the slice), decode errors, outputs by model."""

    x: np.ndarray
    kept: list[int]
    errors: list[tuple[Path, str]]
    outputs: dict[int, np.ndarray | BaseException]


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

    def _runner(self, index: int) -> "BatchRunner":
        runners = getattr(self._local, "runners", None)
        if runners is None:
            runners = self._local.runners = {}
        r = runners.get(index)
        if r is None:
            r = runners[index] = BatchRunner(self.models[index])
        return r

    def _run_slice(self, index: int, xs: np.ndarray) -> np.ndarray:
        return self._runner(index).run(xs)

    def _decode_and_run(self, indices: Sequence[int], files: Sequence[Path], spec: Any) -> "SliceResult":
        from edgeq.calibration import ImageDecodeError, load_image

        xs, kept, errors = [], [], []
        for j, p in enumerate(files):
            try:
                xs.append(load_image(p, spec)[0])
                kept.append(j)
            except ImageDecodeError as exc:
                errors.append((p, str(exc)))
        x = np.stack(xs).astype(np.float32) if xs else np.zeros((0,), np.float32)
        outs: dict[int, np.ndarray | BaseException] = {}
        for i in indices:
            try:
                outs[i] = self._run_slice(i, x) if len(xs) else np.zeros((0,), np.float32)
            except Exception as exc:  # one broken variant must not stop the others
                outs[i] = exc
        return SliceResult(x, kept, errors, outs)

    def submit_files(self, indices: Sequence[int], files: Sequence[Path], spec: Any) -> list[Future]:
        """Decodes ``files`` and runs the models on them, one slice per worker (returns futures in order).

        Decoding happens in the same worker that runs the slice: one hand-off per slice instead of
        one per image, which matters when a model takes microseconds per image.
        """
        parts = max(1, min(self.workers, len(files)))
        bounds = np.linspace(0, len(files), parts + 1).astype(int)
        return [self._pool.submit(self._decode_and_run, list(indices), files[a:b], spec)
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


class BatchRunner:
    """One single-threaded interpreter that runs a slice of samples, batched when possible.

    One interpreter serves both ways (creating an XNNPACK interpreter costs milliseconds, a
    resize much less): the first batch is checked against single-sample invokes of the same
    interpreter, and a model that fails the check or cannot resize runs one sample at a time.
    """

    def __init__(self, model: bytes) -> None:
        from edgeq.tflite import TfliteRunner

        self.runner = TfliteRunner(model, threads=1)
        self._batch_ok: bool | None = None  # None: not verified yet
        self._size = 1

    def _resize(self, n: int) -> None:
        if n != self._size:
            it = self.runner.interpreter
            self._size = -1  # unknown until allocation succeeds
            it.resize_tensor_input(it.get_input_details()[0]["index"], [n, *self.runner.input_shape[1:]], strict=False)
            it.allocate_tensors()
            self._size = n

    def _single(self, xs: np.ndarray) -> np.ndarray:
        self._resize(1)
        return np.stack([self.runner.run_one(x) for x in xs])

    def run(self, xs: np.ndarray) -> np.ndarray:
        """Outputs (N, ...) for inputs (N, ...), dequantized to float."""
        if len(xs) > 1 and self._batch_ok is not False:
            try:
                out = self._batched(xs)
                if self._batch_ok is None:
                    probe = self._single(xs[:2])
                    self._batch_ok = bool(out.shape[1:] == probe.shape[1:]
                                          and np.allclose(out[:2], probe, atol=1e-4, rtol=1e-4))
                if self._batch_ok:
                    return out
            except Exception:  # the model cannot be batched: single-sample invokes from now on
                self._batch_ok = False
        return self._single(xs)

    def _batched(self, xs: np.ndarray) -> np.ndarray:
        r = self.runner
        it = r.interpreter
        self._resize(len(xs))
        inp = it.get_input_details()[0]
        it.set_tensor(inp["index"], r.quantize_input(np.ascontiguousarray(xs).reshape(len(xs), *r.input_shape[1:])))
        it.invoke()
        out = it.get_tensor(it.get_output_details()[0]["index"])
        if out.shape[0] != len(xs):
            raise ValueError("batch dimension not preserved")
        return r.dequantize_output(out)
