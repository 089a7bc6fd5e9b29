"""The litert-quantizer engine for ``--mode int8`` (``--engine litert-quantizer``).

It quantizes the float32 ``.tflite`` that the TFLiteConverter engine makes from the same loaded
model, so both engines start from the same float graph; the quantization itself needs no
TensorFlow. Which calibration methods exist and why is documented in
:mod:`edgeq.evaluation.quantizer_engine`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edgeq.converters.registry import ConvertOptions, Engine, IOType, Mode, RepresentativeDataset, register_engine
from edgeq.errors import ConversionError

if TYPE_CHECKING:  # pragma: no cover
    from edgeq.modelio import LoadedModel


@dataclass
class LitertQuantizerInt8:
    """Static int8 via litert-quantizer; one instance per conversion (it records what it chose).

    Attributes:
        calibration: ``min-max``, ``moving-average`` or ``auto`` (resolved after convert()).
        candidates: with ``auto``, the numbers of every method tried.
    """

    calibration: str = "min-max"
    mode: Mode = Mode.INT8
    engine: Engine = Engine.LITERT_QUANTIZER
    needs_calibration: bool = True
    summary: str = "full-integer static int8 by litert-quantizer, from the float32 model"
    io_types: tuple[IOType, ...] = (IOType.FLOAT32, IOType.INT8)
    candidates: list[dict[str, Any]] = field(default_factory=list)

    def convert(self, model: "LoadedModel", options: ConvertOptions, representative: RepresentativeDataset | None) -> bytes:
        import numpy as np

        from edgeq.converters.registry import get_converter
        from edgeq.evaluation import quantizer_engine as qe

        if representative is None:
            raise ConversionError("int8 needs calibration images", hint="pass --calib FOLDER")
        if options.per_tensor or options.strict_int or options.denylist_nodes or options.denylist_ops:
            raise ConversionError("--per-tensor/--strict-int/denylists are options of the tflite-converter engine",
                                  hint="drop them, or use --engine tflite-converter")
        samples = np.concatenate([np.asarray(item[0], np.float32) for item in representative()])
        float_model = get_converter(Mode.FLOAT32).convert(model, ConvertOptions(), None)
        method = qe.parse_calibration(self.calibration)
        float_io = options.io == IOType.FLOAT32
        if method == qe.Calibration.AUTO:
            data, chosen, self.candidates = qe.auto(float_model, samples, float_io=float_io)
            self.calibration = chosen
            return data
        return qe.quantize(float_model, samples, method, float_io=float_io)


register_engine(Engine.LITERT_QUANTIZER, Mode.INT8, lambda calibration: LitertQuantizerInt8(calibration or "min-max"))
