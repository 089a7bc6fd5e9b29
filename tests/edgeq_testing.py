"""Helpers shared by the test folders (importable because pytest puts tests/ on sys.path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_images(folder: Path, n: int, *, size=(40, 48), channels: int = 3, ext: str = ".png", seed: int = 0,
                 prefix: str = "img") -> list[Path]:
    """Writes ``n`` real random-pattern images with OpenCV; returns their paths."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        shape = (*size, channels) if channels > 1 else size
        base = rng.integers(0, 256, size=shape, dtype=np.uint8)
        img = cv2.GaussianBlur(base, (5, 5), 0)
        p = folder / f"{prefix}_{i:03d}{ext}"
        assert cv2.imwrite(str(p), img), p
        paths.append(p)
    return paths



def build_tiny_classifier(path: Path, *, rescaling: bool = False, input_shape=(32, 32, 3), classes: int = 4,
                          seed: int = 0) -> Path:
    """A small conv classifier with deterministic weights, saved as .keras or .h5 (by suffix)."""
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input(input_shape, name="image")
    x = keras.layers.Rescaling(1 / 255.0, name="rescale")(inp) if rescaling else inp
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv1")(x)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(16, 3, activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    out = keras.layers.Dense(classes, activation="softmax", name="probs")(x)
    model = keras.Model(inp, out, name="tiny")
    model.save(path)
    return path


def interrupt_edgeq(args: list[str], when: str, *, delay: float = 0.0, env: dict[str, str] | None = None,
                    timeout: float = 240) -> tuple[int, str]:
    """Runs ``python -m edgeq ARGS``, presses Ctrl-C (a real SIGINT) ``delay`` seconds after a stderr line
    starting with ``when``, and returns (exit status, all of stderr)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-m", "edgeq", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=os.environ | {"PYTHONUNBUFFERED": "1"} | (env or {}))
    assert proc.stderr is not None
    seen = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stderr.readline()
        seen.append(line)
        if not line or line.startswith(when):
            break
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    return proc.returncode, "".join(seen) + rest
