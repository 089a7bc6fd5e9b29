"""The converter registry: one :class:`Converter` per :class:`Mode`.

A converter turns a loaded model (traced once per run) into ``.tflite`` bytes. Calibration data
comes as a representative-dataset callable built once per run from the prepared tensors.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol

from edgeq.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from edgeq.modelio import LoadedModel

RepresentativeDataset = Callable[[], Iterable[list[Any]]]


class Mode(enum.StrEnum):
    FLOAT32 = "float32"
    FLOAT16 = "float16"
    DYNAMIC = "dynamic"
    INT8 = "int8"
    INT16X8 = "int16x8"


class IOType(enum.StrEnum):
    FLOAT32 = "float32"
    INT8 = "int8"
    UINT8 = "uint8"
    INT16 = "int16"


@dataclass(frozen=True)
class ConvertOptions:
    """Options that change how a mode converts.

    Attributes:
        io: input/output tensor type of integer modes (``int8``/``uint8`` for Edge TPU-style I/O).
        per_tensor: one scale per tensor instead of per output channel (int8 only).
        strict_int: forbid float fallback ops (the Edge TPU needs every op integer).
        denylist_ops: op types kept in float (mixed precision), e.g. ``("SOFTMAX",)``.
        denylist_nodes: output tensor names of ops kept in float.
    """

    io: IOType = IOType.FLOAT32
    per_tensor: bool = False
    strict_int: bool = False
    denylist_ops: tuple[str, ...] = ()
    denylist_nodes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "io", IOType(str(self.io)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "io": str(self.io),
            "per_tensor": self.per_tensor,
            "strict_int": self.strict_int,
            "denylist_ops": list(self.denylist_ops),
            "denylist_nodes": list(self.denylist_nodes),
        }


class Converter(Protocol):
    """What every registered converter provides."""

    mode: Mode
    needs_calibration: bool
    summary: str
    io_types: tuple[IOType, ...]

    def convert(self, model: "LoadedModel", options: ConvertOptions, representative: RepresentativeDataset | None) -> bytes:
        """Returns the ``.tflite`` flatbuffer; raises ConversionError with the reason."""
        ...


_REGISTRY: dict[Mode, Converter] = {}


def register(converter: Converter) -> Converter:
    _REGISTRY[converter.mode] = converter
    return converter


def _ensure_loaded() -> None:
    if not _REGISTRY:
        from edgeq.converters import modes  # noqa: F401 - registers the built-in converters


def registered_modes() -> list[Mode]:
    _ensure_loaded()
    return list(_REGISTRY)


def parse_mode(value: str) -> Mode:
    try:
        return Mode(value)
    except ValueError:
        raise UsageError(
            f"unknown --mode '{value}'", hint=f"choose from: {', '.join(m.value for m in Mode)}"
        ) from None


def get_converter(mode: Mode | str) -> Converter:
    _ensure_loaded()
    return _REGISTRY[parse_mode(str(mode))]


def check_options(modes: list[Mode], options: ConvertOptions) -> None:
    """Rejects option combinations no requested mode can honour (before any work is done)."""
    _ensure_loaded()
    if options.io != IOType.FLOAT32:
        bad = [m for m in modes if options.io not in _REGISTRY[m].io_types]
        if bad:
            ok = [m.value for m in _REGISTRY if options.io in _REGISTRY[m].io_types]
            raise UsageError(
                f"--io {options.io} does not apply to mode {', '.join(b.value for b in bad)}",
                hint=f"--io {options.io} works with --mode {' / '.join(ok)}; drop --io or convert those modes separately",
            )
    if (options.per_tensor or options.strict_int) and not any(m in (Mode.INT8, Mode.INT16X8) for m in modes):
        raise UsageError("--per-tensor/--strict-int only apply to --mode int8 or int16x8", hint="add --mode int8")


# --- Engines: who produces a mode. TFLiteConverter (the registry above) is the default engine;
# other engines register a factory per mode that takes the requested calibration method.


class Engine(enum.StrEnum):
    TFLITE_CONVERTER = "tflite-converter"
    LITERT_QUANTIZER = "litert-quantizer"


EngineFactory = Callable[[str | None], Converter]
_ENGINES: dict[tuple[Engine, Mode], EngineFactory] = {}
_ENGINE_MODULES = {Engine.LITERT_QUANTIZER: "edgeq.converters.litert_quantizer"}
TFLITE_CONVERTER_CALIBRATIONS = ("min-max",)


def register_engine(engine: Engine, mode: Mode, factory: EngineFactory) -> None:
    _ENGINES[(Engine(engine), Mode(mode))] = factory


def parse_engine(value: str | None) -> Engine:
    if value is None:
        return Engine.TFLITE_CONVERTER
    try:
        return Engine(value)
    except ValueError:
        raise UsageError(f"unknown --engine '{value}'", hint=f"choose from: {', '.join(e.value for e in Engine)}") from None


def get_engine_converter(mode: Mode | str, engine: str | None = None, calibration: str | None = None) -> Converter:
    """The converter of ``mode`` by ``engine`` (a fresh instance for non-default engines).

    Raises:
        UsageError: unknown engine, an engine that cannot make ``mode``, an unsupported calibration.
    """
    import importlib

    eng = parse_engine(engine)
    mode = parse_mode(str(mode))
    if eng == Engine.TFLITE_CONVERTER:
        conv = get_converter(mode)
        if calibration is not None and conv.needs_calibration and calibration not in TFLITE_CONVERTER_CALIBRATIONS:
            raise UsageError(f"--calibration {calibration} is not offered by the tflite-converter engine",
                             hint="it calibrates with min-max; use --engine litert-quantizer for other methods")
        return conv
    if (eng, mode) not in _ENGINES and eng in _ENGINE_MODULES:
        importlib.import_module(_ENGINE_MODULES[eng])
    factory = _ENGINES.get((eng, mode))
    if factory is None:
        ok = sorted(m.value for e, m in _ENGINES if e == eng)
        raise UsageError(f"--engine {eng} cannot make --mode {mode}",
                         hint=f"it makes {', '.join(ok) or 'nothing here'}; use --engine tflite-converter for {mode}")
    return factory(calibration)
