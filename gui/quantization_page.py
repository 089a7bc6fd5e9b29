"""Step 3: which variants to produce and how, the accuracy target, and where results go."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox, QLineEdit,
                               QPushButton)

from edgeq.gui.page import BARE_TFLITE_SKIP, FieldMessage, Page, label_for, row

MODES = {
    "float32": "float32 — the reference, no quantization",
    "float16": "float16 — half-size weights, float compute",
    "dynamic": "dynamic — int8 weights, float activations (no calibration)",
    "int8": "int8 — full-integer static, calibrated on your images",
    "int16x8": "int16x8 — int16 activations, int8 weights (calibrated)",
}
CALIBRATED = ("int8", "int16x8")
ENGINES = {
    "tflite-converter": "TFLite converter (TensorFlow)",
    "litert-quantizer": "litert-quantizer (quantizes the float32 model)",
}
CALIBRATIONS = {
    "min-max": "min/max of every sample (absolute ranges)",
    "moving-average": "moving average of per-sample min/max (litert-quantizer only)",
    "auto": "auto: try both, keep the closest to float (litert-quantizer only)",
}


class QuantizationPage(Page):
    title = "Quantization"
    subtitle = "Static (calibrated) vs dynamic: pick the variants to compare; each is checked against float32."

    def not_applicable(self) -> str:
        return BARE_TFLITE_SKIP if self.state.bare_tflite else ""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        modes = QGroupBox("Variants to produce")
        ml = QFormLayout(modes)
        self.mode_boxes: dict[str, QCheckBox] = {}
        for mode, text in MODES.items():
            box = QCheckBox(text)
            self.mode_boxes[mode] = box
            ml.addRow(box)
        self.modes_message = FieldMessage()
        ml.addRow(self.modes_message)
        self.body.addWidget(modes)
        opts = QGroupBox("Integer options")
        ol = QFormLayout(opts)
        self.io = QComboBox()
        self.io.addItems(["float32", "int8", "uint8", "int16"])
        self.io.setToolTip("Input/output type of int8/int16x8 models (uint8/int8 for Coral-style integer I/O)")
        self.per_channel = QCheckBox("Per-channel weight scales (recommended)")
        self.strict = QCheckBox("Strict integer: fail rather than keep float ops (Edge TPU needs this)")
        self.engine = QComboBox()
        for key, text in ENGINES.items():
            self.engine.addItem(text, key)
        self.engine.setToolTip("Who makes int8/int16x8: TensorFlow's converter, or litert-quantizer from the float32 model")
        self.calibration = QComboBox()
        for key, text in CALIBRATIONS.items():
            self.calibration.addItem(text, key)
        self.calibration.setToolTip("How activation ranges are fitted to your calibration images")
        ol.addRow("&I/O type:", self.io)
        ol.addRow(self.per_channel)
        ol.addRow(self.strict)
        ol.addRow(label_for("&Engine:", self.engine), self.engine)
        ol.addRow(label_for("Cali&bration:", self.calibration), self.calibration)
        self.engine_message = FieldMessage()
        ol.addRow(self.engine_message)
        self.io_message = FieldMessage()
        ol.addRow(self.io_message)
        self.body.addWidget(opts)
        target = QGroupBox("Accuracy target (optional)")
        tl = QFormLayout(target)
        self.max_drop = QDoubleSpinBox()
        self.max_drop.setRange(0.0, 100.0)
        self.max_drop.setSingleStep(0.5)
        self.max_drop.setSuffix(" pp top-1")
        self.eval_data = self.recent_combo("eval", "labelled images: one subfolder per class")
        self.eval_browse = QPushButton("Bro&wse…")
        self.eval_message = FieldMessage()
        tl.addRow("Max &drop:", self.max_drop)
        tl.addRow(label_for("&Labelled data:", self.eval_data), row(self.eval_data, self.eval_browse))
        tl.addRow("", self.eval_message)
        self.body.addWidget(target)
        out = QGroupBox("Results folder")
        outl = QFormLayout(out)
        self.out = QLineEdit()
        self.out_browse = QPushButton("Choose…")
        self.overwrite = QCheckBox("Replace files of a previous run")
        self.out_message = FieldMessage()
        outl.addRow(label_for("&Output:", self.out), row(self.out, self.out_browse))
        outl.addRow("", self.overwrite)
        outl.addRow("", self.out_message)
        self.body.addWidget(out)
        self.body.addStretch(1)
        self.eval_browse.clicked.connect(self._browse_eval)
        self.out_browse.clicked.connect(self._browse_out)
        for box in self.mode_boxes.values():
            box.toggled.connect(self._check_modes)
        self.io.currentTextChanged.connect(self._check_modes)
        self.engine.currentIndexChanged.connect(self._check_modes)
        self.calibration.currentIndexChanged.connect(self._check_modes)
        self.load_state()

    def load_state(self) -> None:
        st = self.state
        for mode, box in self.mode_boxes.items():
            box.setChecked(mode in st.modes)
        self.io.setCurrentText(st.io)
        self.per_channel.setChecked(not st.per_tensor)
        self.strict.setChecked(st.strict_int)
        self.engine.setCurrentIndex(max(0, self.engine.findData(st.engine)))
        self.calibration.setCurrentIndex(max(0, self.calibration.findData(st.calibration)))
        self.max_drop.setValue(st.max_drop_pp)
        self.eval_data.setEditText(st.eval_data)
        self.out.setText(st.out)
        self.overwrite.setChecked(st.overwrite)

    def on_enter(self) -> None:
        if not self.out.text().strip() and self.state.model:
            self.out.setText(self.state.default_out())
        if not self.eval_data.currentText().strip() and self.state.eval_data:
            self.eval_data.setEditText(self.state.eval_data)
        self._check_modes()

    def _browse_eval(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Labelled images (one subfolder per class)")
        if path:
            self.eval_data.setEditText(path)

    def _browse_out(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Results folder")
        if path:
            self.out.setText(path)

    def selected_modes(self) -> list[str]:
        return [m for m, box in self.mode_boxes.items() if box.isChecked()]

    def _check_modes(self, *_: Any) -> bool:
        modes = self.selected_modes()
        if not modes:
            self.modes_message.error("Choose at least one variant.")
            return False
        needs = [m for m in modes if m in CALIBRATED]
        if needs and not self.state.calib:
            self.modes_message.error(f"{', '.join(needs)} need calibration images: choose a folder on the "
                                     "Calibration page, or untick them.")
            return False
        self.modes_message.clear()
        io = self.io.currentText()
        if io != "float32" and not needs:
            self.io_message.warn(f"I/O type {io} only applies to int8/int16x8 variants.")
        elif io == "int16" and "int8" in needs:
            self.io_message.error("int16 I/O is for int16x8 only: untick int8 or choose another I/O type.")
            return False
        elif io in ("int8", "uint8") and "int16x8" in needs:
            self.io_message.error(f"{io} I/O is for int8 only: untick int16x8 or choose another I/O type.")
            return False
        else:
            self.io_message.clear()
        return self._check_engine(needs)

    def _check_engine(self, needs: list[str]) -> bool:
        """The engine/calibration pair must be able to make every calibrated variant ticked."""
        from edgeq.converters.registry import get_engine_converter
        from edgeq.errors import UsageError

        for mode in needs:
            try:
                get_engine_converter(mode, self.engine.currentData(), self.calibration.currentData())
            except UsageError as exc:
                self.engine_message.error(f"{exc.message}: {exc.hint}" if exc.hint else exc.message)
                return False
        self.engine_message.clear()
        return True

    def validate(self) -> bool:
        ok = self._check_modes()
        eval_data = self.eval_data.currentText().strip()
        if eval_data and not Path(eval_data).is_dir():
            self.eval_message.error(f"{eval_data} is not a folder.")
            ok = False
        elif eval_data and not any(p.is_dir() for p in Path(eval_data).iterdir()):
            self.eval_message.error("No class subfolders here: labelled data has one subfolder of images per class.")
            ok = False
        else:
            self.eval_message.clear()
        out = self.out.text().strip()
        if not out:
            self.out_message.error("Choose where to write the variants and the manifest.")
            ok = False
        elif Path(out).exists() and not Path(out).is_dir():
            self.out_message.error(f"{out} exists and is not a folder.")
            ok = False
        elif (Path(out) / "manifest.json").exists() and not self.overwrite.isChecked():
            self.out_message.error("This folder holds a previous run: tick 'Replace files' or choose another folder.")
            ok = False
        else:
            self.out_message.clear()
        if not ok:
            return False
        st = self.state
        st.modes = self.selected_modes()
        st.io = self.io.currentText()
        st.per_tensor = not self.per_channel.isChecked()
        st.strict_int = self.strict.isChecked()
        st.engine = self.engine.currentData()
        st.calibration = self.calibration.currentData()
        st.max_drop_pp = self.max_drop.value()
        st.eval_data = eval_data
        st.out = out
        st.overwrite = self.overwrite.isChecked()
        if eval_data:
            self.remember("eval", eval_data)
        return True
