"""The bundled example (a small trained Fashion-MNIST classifier with its images)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from edgeq.errors import InputError


@dataclass(frozen=True)
class Example:
    root: Path
    model: Path
    calib: Path
    val: Path
    labels: list[str]
    preprocess: dict[str, Any]
    info: dict[str, Any]


def bundled_example() -> Example:
    """Locates the example shipped in the ``edgeq.assets.example`` package data."""
    root = Path(str(resources.files("edgeq.assets.example")))
    meta_path = root / "example.json"
    if not meta_path.exists():
        raise InputError("the bundled example is missing from this installation", hint="reinstall edgeq")
    info = json.loads(meta_path.read_text())
    labels = (root / info["labels"]).read_text().splitlines()
    return Example(
        root=root,
        model=root / info["model"],
        calib=root / info["calib"],
        val=root / info["val"],
        labels=[l for l in labels if l.strip()],
        preprocess=info["preprocess"],
        info=info,
    )
