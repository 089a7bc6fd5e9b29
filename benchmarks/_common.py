"""Shared helpers for the on-demand benchmarks (not part of the test suite)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    """Median wall time of ``fn`` over ``repeat`` runs, in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run(cmd: list[str], cwd: Path | None = None) -> None:
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"benchmark command failed: {' '.join(map(str, cmd))}\n{r.stderr[-2000:]}")


def write_photos(folder: Path, n: int, size=(480, 640), seed: int = 0) -> list[Path]:
    """Photo-sized JPEGs (smooth random colour fields) so decode cost is realistic."""
    import cv2
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        small = rng.integers(0, 256, size=(size[0] // 16, size[1] // 16, 3), dtype=np.uint8)
        img = cv2.resize(small, (size[1], size[0]), interpolation=cv2.INTER_CUBIC)
        p = folder / f"photo_{i:04d}.jpg"
        cv2.imwrite(str(p), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(p)
    return paths


def report(name: str, ratio: float, target: str, detail: str) -> None:
    print(f"{name}: ratio {ratio:.3f} (target {target}) — {detail}")
