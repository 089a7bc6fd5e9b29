"""Is the preprocessing itself wrong? The float model's own top-1 under the standard alternatives.

A wrong ``--preprocess`` at convert time is recorded in the manifest and reused by ``eval``, so
calibration and evaluation agree with each other and nothing looks inconsistent — but the float
model is fed inputs it was not trained on, and every variant's accuracy is low for a reason no
quantization setting can fix. With labelled images that is measurable: run the float reference
on a small sample under each standard normalization (and, for colour models, the other channel
order) and see whether one scores clearly better than the one in use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

SAMPLE = 64  # images: enough to tell 64 % from 92 %, cheap next to a full evaluation
MARGIN = 0.15  # top-1 an alternative must gain (absolute) before edgeq says the preprocessing looks wrong


def _candidates(spec: Any) -> list[Any]:
    from edgeq.errors import UsageError
    from edgeq.preprocess import Color, Preset, PreprocessSpec

    colors = [spec.color]
    if spec.color in (Color.RGB, Color.BGR):
        colors.append(Color.BGR if spec.color == Color.RGB else Color.RGB)
    out = []
    for color in colors:
        for preset in (Preset.RAW, Preset.UNIT, Preset.SYMMETRIC, Preset.IMAGENET, Preset.CAFFE):
            if preset == spec.preset and color == spec.color:
                continue
            try:
                out.append(PreprocessSpec(preset=preset, color=color, resize=spec.resize, size=spec.size))
            except UsageError:  # e.g. imagenet statistics for a grayscale model, caffe in RGB order
                continue
    return out


def check_preprocessing(reference: bytes, files: Sequence[Path], labels: Sequence[int], spec: Any) -> dict[str, Any] | None:
    """The ``preprocess_check`` block of the eval document, or None without enough labelled images.

    Returns:
        ``{"sample", "used": {"preset", "color", "top1"}, "best": {...} | None, "alternatives": [...]}``;
        ``best`` is set only when an alternative beats the preprocessing in use by :data:`MARGIN`.
    """
    from edgeq.calibration import ImageDecodeError, load_pixels, normalize
    from edgeq.tflite import TfliteRunner

    if len(files) < 16:
        return None
    idx = np.linspace(0, len(files) - 1, min(SAMPLE, len(files))).astype(int)
    runner = TfliteRunner(reference, threads=1)
    rows = []
    for cand in [spec, *_candidates(spec)]:
        correct = n = 0
        for i in idx:
            try:
                pixels, pad, _ = load_pixels(files[i], cand)
            except ImageDecodeError:
                continue
            y = runner.run_one(normalize(pixels, cand, pad))
            correct += int(np.argmax(y) == labels[i])
            n += 1
        if n:
            rows.append({"preset": str(cand.preset), "color": str(cand.color), "top1": round(correct / n, 4), "n": n})
    if not rows:
        return None
    used, alts = rows[0], rows[1:]
    top = max(alts, key=lambda r: r["top1"], default=None)
    best = top if top is not None and top["top1"] >= used["top1"] + MARGIN else None
    return {"sample": used["n"], "used": used, "best": best, "alternatives": alts}
