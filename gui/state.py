"""What the wizard knows so far: the choices on every page and the results of every step.

Plain data (no Qt), so it converts to and from a :class:`edgeq.recipes.Recipe` without a window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeq.recipes import Recipe


@dataclass
class WizardState:
    # Model page
    model: str = ""
    example: bool = False
    model_info: dict[str, Any] | None = None
    labels: list[str] | None = None
    # Calibration page
    calib: str = ""
    num_calib: int = 100
    seed: int = 0
    preprocess: dict[str, Any] = field(default_factory=lambda: {"preset": "unit", "color": "rgb", "resize": "stretch"})
    # Quantization page
    modes: list[str] = field(default_factory=lambda: ["float32", "float16", "dynamic", "int8", "int16x8"])
    io: str = "float32"
    per_tensor: bool = False
    strict_int: bool = False
    engine: str = "tflite-converter"
    calibration: str = "min-max"
    max_drop_pp: float = 1.0
    eval_data: str = ""
    out: str = ""
    overwrite: bool = False
    # Profile page
    devices: list[str] = field(default_factory=lambda: ["local"])
    threads: int = 1
    runs: int = 50
    min_secs: float = 0.5
    profile_dir: str = ""  # where the profile document of a bare .tflite goes ('' = next to the model)
    # Report page
    report_formats: list[str] = field(default_factory=lambda: ["html", "md", "csv", "json"])
    title: str = ""
    # results
    manifest: dict[str, Any] | None = None
    evaluation: dict[str, Any] | None = None
    profile: dict[str, Any] | None = None
    report_files: list[str] = field(default_factory=list)
    profile_files: list[str] = field(default_factory=list)

    @property
    def bare_tflite(self) -> bool:
        """A .tflite picked on its own (not a results folder of ``edgeq convert``): nothing to calibrate or convert."""
        return not self.example and (self.model_info or {}).get("kind") == "tflite"

    @property
    def image_size(self) -> tuple[int, int] | None:
        """(height, width) of the model's input, once the model was inspected."""
        shape = (self.model_info or {}).get("input_shape") or []
        if len(shape) == 4 and all(isinstance(v, int) and v > 0 for v in shape[1:3]):
            return int(shape[1]), int(shape[2])
        return None

    @property
    def channels(self) -> int | None:
        shape = (self.model_info or {}).get("input_shape") or []
        return int(shape[3]) if len(shape) == 4 and isinstance(shape[3], int) else None

    def default_out(self) -> str:
        name = "example" if self.example else (Path(self.model).stem or "model")
        return str(Path.home() / "edgeq-out" / name)

    def to_recipe(self) -> Recipe:
        """The recipe that replays this run with ``edgeq run``."""
        calib, eval_data = self.calib or None, self.eval_data or None
        if self.example:  # the example's own folders are found again at replay time, wherever it is installed
            from edgeq.example import bundled_example

            ex = bundled_example()
            calib = None if calib and Path(calib) == ex.calib else calib
            eval_data = None if eval_data and Path(eval_data) == ex.val else eval_data
        pp = {k: v for k, v in self.preprocess.items() if k in ("preset", "color", "resize", "mean", "std")}
        if pp.get("preset") != "custom":
            pp.pop("mean", None)
            pp.pop("std", None)
        return Recipe(
            model=None if self.example else self.model, example=self.example, preprocess=pp,
            calib=calib, num_calib=self.num_calib, seed=self.seed, allow_fewer=True,
            modes=list(self.modes), io=self.io, per_tensor=self.per_tensor, strict_int=self.strict_int,
            engine=None if self.engine == "tflite-converter" else self.engine,
            calibration=None if self.calibration == "min-max" else self.calibration,
            eval_data=eval_data, max_drop_pp=self.max_drop_pp, devices=list(self.devices),
            threads=self.threads, runs=self.runs, min_secs=self.min_secs, report_formats=list(self.report_formats), title=self.title,
            out=self.out or None, name=Path(self.model).stem if self.model else "",
        )

    def apply_recipe(self, recipe: Recipe) -> None:
        """Takes every choice from ``recipe`` (results are cleared: they belong to another run)."""
        r = recipe.resolved()
        self.example = recipe.example
        self.model = r.model or ""
        self.calib = r.calib or ""
        self.num_calib = r.num_calib
        self.seed = r.seed
        self.preprocess = {"resize": "stretch", **r.preprocess}
        self.modes = list(r.modes) or self.modes
        self.io, self.per_tensor, self.strict_int = r.io, r.per_tensor, r.strict_int
        self.engine, self.calibration = r.engine or "tflite-converter", r.calibration or "min-max"
        self.max_drop_pp = r.max_drop_pp
        self.eval_data = r.eval_data or ""
        self.out = r.out or ""
        self.devices = list(r.devices) or self.devices
        self.threads, self.runs, self.min_secs = r.threads, r.runs, r.min_secs
        self.report_formats = list(r.report_formats) or self.report_formats
        self.title = r.title
        self.model_info = None
        self.manifest = self.evaluation = self.profile = None
        self.report_files = []
        self.profile_files = []
