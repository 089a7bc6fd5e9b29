"""(b) Calibration decode+preprocess throughput: edgeq's parallel pipeline vs a naive sequential loop.

Run: ``python benchmarks/bench_calibration.py [N]``. Prints naive_time / edgeq_time (target ≥ 1.8 on 2 cores)
after checking both produce identical tensors.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from _common import report, timed, write_photos

from edgeq.calibration import decode_images
from edgeq.preprocess import PreprocessSpec


def naive(paths: list[Path]) -> list[np.ndarray]:
    out = []
    for p in paths:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        img = cv2.resize(img, (224, 224), interpolation=cv2.INTER_AREA)
        out.append(img.astype(np.float32) / 255.0)
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    spec = PreprocessSpec(preset="unit", color="rgb", resize="stretch", size=(224, 224))
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_photos(Path(tmp), n)
        a = naive(paths)
        b = [d.tensor for d in decode_images(paths, spec)]
        assert all(np.allclose(x, y, atol=1e-6) for x, y in zip(a, b)), "pipelines disagree"
        t_naive = timed(lambda: naive(paths))
        t_edgeq = timed(lambda: list(decode_images(paths, spec)))
    report("calibration decode", t_naive / t_edgeq, "≥ 1.8",
           f"{n} JPEG 640x480 → 224x224: naive {n / t_naive:.0f} img/s, edgeq {n / t_edgeq:.0f} img/s")


if __name__ == "__main__":
    main()
