"""The preprocessing spec: how an image file becomes the model's input tensor.

One spec is used for calibration, convert-time checks and evaluation, and recorded in every
manifest so that eval and calibration cannot silently differ. Values are on the 0–255 scale:
``tensor = (pixel - mean) / std`` per channel, in the channel order after colour conversion.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Sequence

from edgeq.errors import UsageError


class Resize(enum.StrEnum):
    STRETCH = "stretch"  # resize to the target size, ignoring aspect ratio
    CROP = "crop"  # scale the short side to fit, centre-crop the long side
    LETTERBOX = "letterbox"  # scale the long side to fit, pad with zeros (after normalization) around


class Color(enum.StrEnum):
    RGB = "rgb"
    BGR = "bgr"
    GRAY = "gray"


class Preset(enum.StrEnum):
    RAW = "raw"  # 0..255
    UNIT = "unit"  # 0..1
    SYMMETRIC = "symmetric"  # -1..1
    IMAGENET = "imagenet"  # (x - mean) / std with ImageNet RGB statistics
    CAFFE = "caffe"  # BGR, ImageNet mean subtracted, no scaling
    CUSTOM = "custom"  # --mean / --std


_PRESETS: dict[Preset, tuple[tuple[float, ...], tuple[float, ...]]] = {
    Preset.RAW: ((0.0,), (1.0,)),
    Preset.UNIT: ((0.0,), (255.0,)),
    Preset.SYMMETRIC: ((127.5,), (127.5,)),
    Preset.IMAGENET: ((123.675, 116.28, 103.53), (58.395, 57.12, 57.375)),
    Preset.CAFFE: ((103.939, 116.779, 123.68), (1.0,)),
}


@dataclass(frozen=True)
class PreprocessSpec:
    """How to turn an image file into a model input.

    Attributes:
        preset: normalization preset (see :class:`Preset`).
        color: channel order fed to the model.
        resize: how to reach the target size.
        mean: per-channel (or single) mean on the 0–255 scale; only for ``custom``.
        std: per-channel (or single) std on the 0–255 scale; only for ``custom``.
        size: (height, width), normally taken from the model's input.
    """

    preset: Preset = Preset.UNIT
    color: Color = Color.RGB
    resize: Resize = Resize.STRETCH
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "preset", _enum(Preset, self.preset, "--preprocess"))
        object.__setattr__(self, "color", _enum(Color, self.color, "--color"))
        object.__setattr__(self, "resize", _enum(Resize, self.resize, "--resize"))
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        if self.size is not None:
            object.__setattr__(self, "size", (int(self.size[0]), int(self.size[1])))
        if self.preset == Preset.CUSTOM:
            if not self.mean or not self.std:
                raise UsageError("--preprocess custom needs --mean and --std", hint="e.g. --mean 127.5 --std 127.5")
        elif self.mean or self.std:
            raise UsageError(
                f"--mean/--std are only used with --preprocess custom (got preset '{self.preset}')",
                hint="add --preprocess custom, or drop --mean/--std",
            )
        if any(s == 0 for s in self.std):
            raise UsageError("--std must not contain 0", hint="std divides the pixel values")
        if self.preset == Preset.CAFFE and self.color != Color.BGR:
            raise UsageError("the caffe preset expects BGR input", hint="use --color bgr with --preprocess caffe")
        for name in ("mean", "std"):
            v = getattr(self, name)
            if len(v) not in (0, 1, self.channels):
                raise UsageError(f"--{name} needs 1 or {self.channels} values for --color {self.color}, got {len(v)}")
        if self.preset == Preset.IMAGENET and self.color == Color.GRAY:
            raise UsageError("the imagenet preset has 3-channel statistics", hint="use --color rgb, or --preprocess custom")

    @property
    def channels(self) -> int:
        return 1 if self.color == Color.GRAY else 3

    def mean_std(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """The effective per-channel (mean, std) on the 0–255 scale."""
        mean, std = (self.mean, self.std) if self.preset == Preset.CUSTOM else _PRESETS[self.preset]
        c = self.channels
        mean = mean * c if len(mean) == 1 else mean
        std = std * c if len(std) == 1 else std
        return tuple(mean[:c]), tuple(std[:c])

    @property
    def normalizes(self) -> bool:
        """True when this spec changes the 0–255 range (anything but ``raw``)."""
        mean, std = self.mean_std()
        return any(m != 0 for m in mean) or any(s != 1 for s in std)

    def expected_range(self) -> tuple[float, float]:
        """The (min, max) a tensor made by this spec can take."""
        mean, std = self.mean_std()
        lo = min((0 - m) / s for m, s in zip(mean, std))
        hi = max((255 - m) / s for m, s in zip(mean, std))
        return lo, hi

    def with_size(self, height: int, width: int) -> "PreprocessSpec":
        return replace(self, size=(int(height), int(width)))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(preset=str(self.preset), color=str(self.color), resize=str(self.resize))
        d["mean"], d["std"] = (list(x) for x in self.mean_std())
        d["size"] = list(self.size) if self.size else None
        d["range"] = list(self.expected_range())
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PreprocessSpec":
        known = {"preset", "color", "resize", "mean", "std", "size"}
        preset = d.get("preset", Preset.UNIT)
        kw = {k: v for k, v in d.items() if k in known}
        if str(preset) != Preset.CUSTOM:  # mean/std in a stored spec are the derived values
            kw.pop("mean", None)
            kw.pop("std", None)
        if kw.get("size") is not None:
            kw["size"] = tuple(kw["size"])
        return cls(**kw)

    def describe(self) -> str:
        mean, std = self.mean_std()
        size = f"{self.size[0]}x{self.size[1]}" if self.size else "model size"
        return f"{self.resize} to {size}, {self.color}, {self.preset} (mean {_fmt(mean)}, std {_fmt(std)})"


def _fmt(v: Sequence[float]) -> str:
    return "/".join(f"{x:g}" for x in v)


def _enum(kind: type[enum.StrEnum], value: Any, flag: str) -> Any:
    try:
        return kind(str(value))
    except ValueError:
        choices = ", ".join(m.value for m in kind)
        raise UsageError(f"unknown {flag} value '{value}'", hint=f"choose one of: {choices}") from None


def mismatch_flags(check: dict[str, Any]) -> str:
    """The convert flags of a ``preprocess_check``'s better preprocessing (``--preprocess unit --color bgr``)."""
    used, best = check["used"], check["best"]
    return f"--preprocess {best['preset']}" + (f" --color {best['color']}" if best["color"] != used["color"] else "")


def mismatch_warning(check: dict[str, Any] | None) -> str | None:
    """The sentence for an eval document's ``preprocess_check`` (see ``edgeq.evaluation.preprocess_check``)
    when another preprocessing made the float model clearly more accurate, else None."""
    if not check or not check.get("best"):
        return None
    used, flag = check["used"], mismatch_flags(check)
    best = check["best"]
    return (f"the float model itself scores {used['top1']:.0%} top-1 with --preprocess {used['preset']} "
            f"(--color {used['color']}) but {best['top1']:.0%} with {flag} on {check['sample']} of these images: the "
            f"preprocessing in use (chosen at convert time, reused by eval) is probably not the one the model was "
            f"trained with, and no quantization setting can fix that; re-convert with {flag}")
