"""The built-in converters, all driving TensorFlow's TFLiteConverter.

* ``float32``: no optimization; the reference every other variant is compared with.
* ``float16``: weights stored as float16 (half the size), computed in float32 on CPUs.
* ``dynamic``: weights int8, activations quantized on the fly per inference; no calibration,
  no input/output change; roughly 4× smaller, faster on CPU, not runnable on integer-only NPUs.
* ``int8``: full-integer static quantization; activations' ranges fixed from calibration data;
  what the Edge TPU, NPUs and integer DSPs need.
* ``int16x8``: int16 activations, int8 weights; higher accuracy than int8 where ranges are wide,
  few accelerators support it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeq.converters.registry import (
    ConvertOptions,
    IOType,
    Mode,
    RepresentativeDataset,
    register,
)
from edgeq.errors import ConversionError

if TYPE_CHECKING:  # pragma: no cover
    from edgeq.modelio import LoadedModel


def _tf_dtype(tf: Any, io: IOType) -> Any:
    return {IOType.FLOAT32: tf.float32, IOType.INT8: tf.int8, IOType.UINT8: tf.uint8, IOType.INT16: tf.int16}[io]


def _run(converter: Any, mode: Mode) -> bytes:
    from edgeq.native import captured_fds

    logs: list[str] = []
    try:
        with captured_fds() as logs:
            return bytes(converter.convert())
    except Exception as exc:  # TF raises ConverterError, ValueError, RuntimeError...
        detail = _first_error_line(str(exc)) or _first_error_line("".join(logs)) or type(exc).__name__
        raise ConversionError(f"{mode} conversion failed: {detail}", hint=_hint_for(detail, mode)) from None


def _enforce_strict(data: bytes, mode: Mode) -> bytes:
    """TFLiteConverter may keep float ops even when only integer op sets are allowed; check."""
    from edgeq.tflite import describe_tflite

    left = describe_tflite(data)["float_ops"]
    if left:
        raise ConversionError(
            f"{mode} conversion failed: --strict-int, but these ops stayed float: {', '.join(left)}",
            hint="integer-only hardware (Edge TPU) cannot run them: change those layers, or drop --strict-int "
            "to let them fall back to float on the CPU",
        )
    return data


def _first_error_line(text: str) -> str:
    for line in text.splitlines():
        s = line.strip()
        if "error:" in s.lower() and "warning" not in s.lower():
            return s[s.lower().index("error:") + 6 :].strip()[:300]
    return text.strip().splitlines()[0][:300] if text.strip() else ""


def _hint_for(detail: str, mode: Mode) -> str:
    if "not supported" in detail or "failed to legalize" in detail.lower():
        if mode in (Mode.INT8, Mode.INT16X8):
            return "an op has no integer kernel: drop --strict-int to allow float fallback, or keep that op in float"
        return "the model uses an op TFLite cannot express; see the TFLite op compatibility guide"
    return "run with --traceback --verbose for TensorFlow's full log"


@dataclass(frozen=True)
class _Float32:
    mode: Mode = Mode.FLOAT32
    needs_calibration: bool = False
    summary: str = "float32 reference (no quantization)"
    io_types: tuple[IOType, ...] = (IOType.FLOAT32,)

    def convert(self, model: "LoadedModel", options: ConvertOptions, representative: RepresentativeDataset | None) -> bytes:
        return _run(model.make_converter(), self.mode)


@dataclass(frozen=True)
class _Float16:
    mode: Mode = Mode.FLOAT16
    needs_calibration: bool = False
    summary: str = "float16 weights, float compute"
    io_types: tuple[IOType, ...] = (IOType.FLOAT32,)

    def convert(self, model: "LoadedModel", options: ConvertOptions, representative: RepresentativeDataset | None) -> bytes:
        from edgeq.native import import_tensorflow

        tf = import_tensorflow()
        c = model.make_converter()
        c.optimizations = [tf.lite.Optimize.DEFAULT]
        c.target_spec.supported_types = [tf.float16]
        return _run(c, self.mode)


@dataclass(frozen=True)
class _Dynamic:
    mode: Mode = Mode.DYNAMIC
    needs_calibration: bool = False
    summary: str = "dynamic-range: int8 weights, float activations quantized at run time"
    io_types: tuple[IOType, ...] = (IOType.FLOAT32,)

    def convert(self, model: "LoadedModel", options: ConvertOptions, representative: RepresentativeDataset | None) -> bytes:
        from edgeq.native import import_tensorflow

        tf = import_tensorflow()
        c = model.make_converter()
        c.optimizations = [tf.lite.Optimize.DEFAULT]
        return _run(c, self.mode)


def _static(c: Any, tf: Any, options: ConvertOptions, representative: RepresentativeDataset | None, mode: Mode) -> None:
    if representative is None:
        raise ConversionError(f"{mode} needs calibration images", hint="pass --calib FOLDER")
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = representative
    if options.per_tensor:
        c._experimental_disable_per_channel = True  # noqa: SLF001 - the converter's only switch for it
    if options.io != IOType.FLOAT32:
        c.inference_input_type = _tf_dtype(tf, options.io)
        c.inference_output_type = _tf_dtype(tf, options.io)


@dataclass(frozen=True)
class _Int8:
    mode: Mode = Mode.INT8
    needs_calibration: bool = True
    summary: str = "full-integer static int8, ranges calibrated on your images"
    io_types: tuple[IOType, ...] = (IOType.FLOAT32, IOType.INT8, IOType.UINT8)

    def convert(self, model: "LoadedModel", options: ConvertOptions, representative: RepresentativeDataset | None) -> bytes:
        from edgeq.native import import_tensorflow

        tf = import_tensorflow()
        c = model.make_converter()
        _static(c, tf, options, representative, self.mode)
        if options.strict_int:
            c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            return _enforce_strict(_run(c, self.mode), self.mode)
        c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
        return _run(c, self.mode)


@dataclass(frozen=True)
class _Int16x8:
    mode: Mode = Mode.INT16X8
    needs_calibration: bool = True
    summary: str = "int16 activations, int8 weights (higher fidelity, fewer accelerators)"
    io_types: tuple[IOType, ...] = (IOType.FLOAT32, IOType.INT16)

    def convert(self, model: "LoadedModel", options: ConvertOptions, representative: RepresentativeDataset | None) -> bytes:
        from edgeq.native import import_tensorflow

        tf = import_tensorflow()
        c = model.make_converter()
        _static(c, tf, options, representative, self.mode)
        ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        c.target_spec.supported_ops = ops if options.strict_int else [*ops, tf.lite.OpsSet.TFLITE_BUILTINS]
        data = _run(c, self.mode)
        return _enforce_strict(data, self.mode) if options.strict_int else data


for _c in (_Float32(), _Float16(), _Dynamic(), _Int8(), _Int16x8()):
    register(_c)
