"""Step 2: calibration images and preprocessing, with a live preview of the tensor's ranges.

The preview decodes a small sample with the same code calibration uses
(:func:`edgeq.calibration.load_image`, OpenCV only: no TensorFlow), in a worker, debounced, so
typing in a field never stalls the window.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                               QListView, QListWidget, QListWidgetItem, QPushButton, QSpinBox, QTableWidget,
                               QTableWidgetItem, QVBoxLayout)

from edgeq.gui.page import BARE_TFLITE_SKIP, FieldMessage, Page, label_for, row

PREVIEW_SAMPLE = 16
THUMBS = 12
MIN_GOOD_CALIB = 100


def preview(folder: str, spec_dict: dict[str, Any], size: tuple[int, int] | None, cancel: Any) -> dict[str, Any]:
    """Lists ``folder`` and preprocesses an evenly spaced sample (runs in a worker)."""
    import cv2
    import numpy as np

    from edgeq.calibration import ImageDecodeError, list_images, load_image, tensor_stats
    from edgeq.preprocess import PreprocessSpec

    images, others = list_images(Path(folder))
    out: dict[str, Any] = {"folder": folder, "count": len(images), "others": [str(p) for p in others[:5]],
                           "other_count": len(others), "thumbs": [], "failed": [], "stats": None}
    if not images:
        return out
    spec = PreprocessSpec.from_dict(spec_dict)
    spec = spec.with_size(*size) if size else spec.with_size(64, 64)
    step = max(1, len(images) // PREVIEW_SAMPLE)
    tensors = []
    for p in images[::step][:PREVIEW_SAMPLE]:
        cancel.raise_if_cancelled()
        try:
            t, _ = load_image(p, spec)
            tensors.append(t)
        except ImageDecodeError as exc:
            out["failed"].append((p.name, str(exc)))
            continue
        if len(out["thumbs"]) < THUMBS:
            img = cv2.imdecode(np.fromfile(str(p), dtype=np.uint8), cv2.IMREAD_COLOR)
            if img is not None:
                scale = 72 / max(img.shape[:2])
                img = cv2.resize(img, (max(1, int(img.shape[1] * scale)), max(1, int(img.shape[0] * scale))),
                                 interpolation=cv2.INTER_NEAREST if scale > 1 else cv2.INTER_AREA)
                out["thumbs"].append((p.name, np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))))
    if tensors:
        out["stats"] = tensor_stats(np.stack(tensors))
    return out


class CalibrationPage(Page):
    title = "Calibration data"
    subtitle = "Your own images, preprocessed exactly as the model was trained (int8/int16x8 ranges are fitted to them)."

    def not_applicable(self) -> str:
        return BARE_TFLITE_SKIP if self.state.bare_tflite else ""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.folder = self.recent_combo("calib", "folder of calibration images (searched recursively)")
        self.browse = QPushButton("&Browse…")
        folder_label = QLabel("Calibration &folder:")
        folder_label.setBuddy(self.folder)
        self.folder_message = FieldMessage()
        self.count = QSpinBox()
        self.count.setRange(1, 100000)
        self.count.setValue(self.state.num_calib)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        form = QFormLayout()
        form.addRow(folder_label, row(self.folder, self.browse))
        form.addRow("", self.folder_message)
        form.addRow(label_for("Images to &use:", self.count), row(self.count, QLabel("seed:"), self.seed, stretch_first=False))
        self.body.addLayout(form)
        self.thumbs = QListWidget()
        self.thumbs.setViewMode(QListView.ViewMode.IconMode)
        self.thumbs.setIconSize(QSize(72, 72))
        self.thumbs.setFixedHeight(92)
        self.thumbs.setFlow(QListView.Flow.LeftToRight)
        self.thumbs.setWrapping(False)
        self.thumbs.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.body.addWidget(self.thumbs)
        pp = QGroupBox("Preprocessing")
        ppl = QHBoxLayout(pp)
        controls = QFormLayout()
        self.resize_box = QComboBox()
        self.resize_box.addItems(["stretch", "crop", "letterbox"])
        self.color = QComboBox()
        self.color.addItems(["rgb", "bgr", "gray"])
        self.preset = QComboBox()
        self.preset.addItems(["raw", "unit", "symmetric", "imagenet", "caffe", "custom"])
        self.preset.setToolTip("raw 0..255, unit 0..1, symmetric -1..1, imagenet/caffe statistics, or custom mean/std")
        self.mean = QLineEdit()
        self.mean.setPlaceholderText("e.g. 127.5 or 123.7 116.3 103.5 (0..255 scale)")
        self.std = QLineEdit()
        self.std.setPlaceholderText("e.g. 127.5")
        controls.addRow("&Resize:", self.resize_box)
        controls.addRow("C&olor:", self.color)
        controls.addRow("&Normalization:", self.preset)
        controls.addRow("&Mean:", self.mean)
        controls.addRow("&Std:", self.std)
        self.pp_message = FieldMessage()
        controls.addRow("", self.pp_message)
        ppl.addLayout(controls, 3)
        right = QVBoxLayout()
        right.addWidget(QLabel("Tensor preview (per channel, on a sample):"))
        self.stats = QTableWidget(0, 3)
        self.stats.setHorizontalHeaderLabels(["min", "max", "mean"])
        self.stats.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.stats.setMaximumHeight(130)
        right.addWidget(self.stats)
        self.expected = QLabel()
        right.addWidget(self.expected)
        ppl.addLayout(right, 2)
        self.body.addWidget(pp)
        self.body.addStretch(1)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(150)
        self._debounce.timeout.connect(self.refresh_preview)
        self.browse.clicked.connect(self._browse)
        self.folder.currentTextChanged.connect(lambda _: self._debounce.start())
        for box in (self.resize_box, self.color, self.preset):
            box.currentTextChanged.connect(self._controls_changed)
        for edit in (self.mean, self.std):
            edit.textChanged.connect(self._controls_changed)
        self.count.valueChanged.connect(self._controls_changed)
        self.last_preview: dict[str, Any] | None = None
        self._job: Any = None
        self.load_state()

    # state <-> widgets
    def load_state(self) -> None:
        st = self.state
        widgets = (self.folder, self.resize_box, self.color, self.preset, self.mean, self.std, self.count, self.seed)
        for w in widgets:
            w.blockSignals(True)
        self.folder.setEditText(st.calib)
        self.resize_box.setCurrentText(st.preprocess.get("resize", "stretch"))
        self.color.setCurrentText(st.preprocess.get("color", "rgb"))
        self.preset.setCurrentText(st.preprocess.get("preset", "unit"))
        self.mean.setText(" ".join(f"{v:g}" for v in st.preprocess.get("mean", []) or []))
        self.std.setText(" ".join(f"{v:g}" for v in st.preprocess.get("std", []) or []))
        self.count.setValue(st.num_calib)
        self.seed.setValue(st.seed)
        for w in widgets:
            w.blockSignals(False)
        self._controls_changed()

    def spec_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"preset": self.preset.currentText(), "color": self.color.currentText(),
                             "resize": self.resize_box.currentText()}
        if d["preset"] == "custom":
            d["mean"] = _floats(self.mean.text())
            d["std"] = _floats(self.std.text())
        return d

    def _controls_changed(self, *_: Any) -> None:
        custom = self.preset.currentText() == "custom"
        self.mean.setEnabled(custom)
        self.std.setEnabled(custom)
        self._debounce.start()

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose the calibration image folder")
        if path:
            self.folder.setEditText(path)

    def on_enter(self) -> None:
        self._debounce.start()

    # validation and preview
    def check_spec(self) -> Any:
        """The PreprocessSpec of the controls, or None (and the reason beside them)."""
        from edgeq.errors import EdgeqError
        from edgeq.preprocess import PreprocessSpec

        d = self.spec_dict()
        if any(v != v for v in d.get("mean", []) + d.get("std", [])):
            self.pp_message.error("mean and std must be numbers separated by spaces, e.g. 127.5 or 123.7 116.3 103.5")
            return None
        try:
            spec = PreprocessSpec.from_dict(d)
        except (EdgeqError, ValueError) as exc:
            self.pp_message.error(getattr(exc, "message", str(exc)) + (f" — {exc.hint}" if getattr(exc, "hint", "") else ""))
            return None
        notes = []
        channels = self.state.channels
        if channels and spec.channels != channels:
            self.pp_message.error(f"color {spec.color} gives {spec.channels} channel(s) but the model takes {channels}: "
                                  f"choose {'gray' if channels == 1 else 'rgb or bgr'}.")
            return None
        layers = (self.state.model_info or {}).get("preprocessing_layers") or []
        if layers and spec.normalizes:
            lo, hi = spec.expected_range()
            notes.append(f"Double normalization: the model already normalizes in-graph ({layers[0].get('type')}) and "
                         f"'{spec.preset}' scales pixels to [{lo:g}, {hi:g}] before it. Use 'raw' unless you are sure.")
        lo, hi = spec.expected_range()
        self.expected.setText(f"expected range: [{lo:.3g}, {hi:.3g}]")
        if notes:
            self.pp_message.warn(" ".join(notes))
        else:
            self.pp_message.clear()
        return spec

    def refresh_preview(self) -> None:
        spec = self.check_spec()
        folder = self.folder.currentText().strip()
        self.state.num_calib = self.count.value()
        self.state.seed = self.seed.value()
        if spec is not None:
            self.state.preprocess = self.spec_dict()
        if not folder:
            self.state.calib = ""
            self.folder_message.warn("No folder: only float32, float16 and dynamic variants can be made "
                                     "(int8 and int16x8 need your images).")
            self.thumbs.clear()
            return
        if not Path(folder).is_dir():
            self.folder_message.error(f"{folder} is not a folder.")
            self.thumbs.clear()
            return
        self.state.calib = folder
        if spec is None:
            return
        if self._job is not None and self._job.running:
            self._job.cancel("superseded")
        size = self.state.image_size
        spec_d = self.spec_dict()
        self._job = self.run_job("preview calibration images", lambda cancel: preview(folder, spec_d, size, cancel),
                                 on_done=self._show_preview)

    def _show_preview(self, info: dict[str, Any]) -> None:
        if info["folder"] != self.folder.currentText().strip():
            return
        self.last_preview = info
        self.thumbs.clear()
        for name, rgb in info["thumbs"]:
            h, w, _ = rgb.shape
            qimg = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
            item = QListWidgetItem(QIcon(QPixmap.fromImage(qimg)), "")
            item.setToolTip(name)
            self.thumbs.addItem(item)
        n = info["count"]
        if n == 0:
            others = f" ({info['other_count']} other files, e.g. {Path(info['others'][0]).name})" if info["others"] else ""
            self.folder_message.error(f"No images in this folder{others}. edgeq reads .jpg .png .bmp .webp .tif files.")
            self.stats.setRowCount(0)
            return
        notes = [f"{n} images found."]
        want = self.count.value()
        if n < want:
            notes.append(f"Too few images: {n} < {want} requested; calibration will use all {n}.")
        if n < MIN_GOOD_CALIB:
            notes.append(f"Fewer than {MIN_GOOD_CALIB} images can give poor int8 ranges.")
        if info["failed"]:
            name, why = info["failed"][0]
            notes.append(f"{len(info['failed'])} of the sampled files are unreadable ({name}: {why}); they will be skipped.")
        if info["other_count"]:
            notes.append(f"{info['other_count']} non-image files are ignored.")
        (self.folder_message.warn if len(notes) > 1 else self.folder_message.ok)(" ".join(notes))
        if n and not info["failed"] or n > len(info["failed"]):
            self.remember("calib", info["folder"])
        stats = info["stats"]
        self.stats.setRowCount(stats["channels"] if stats else 0)
        if stats:
            names = {1: ["gray"], 3: list(self.color.currentText().upper())}.get(stats["channels"], [])
            self.stats.setVerticalHeaderLabels(names or [str(i) for i in range(stats["channels"])])
            for c in range(stats["channels"]):
                for j, key in enumerate(("min", "max", "mean")):
                    self.stats.setItem(c, j, QTableWidgetItem(f"{stats[key][c]:.4g}"))

    def validate(self) -> bool:
        self._debounce.stop()
        spec = self.check_spec()
        folder = self.folder.currentText().strip()
        if spec is None:
            return False
        self.state.preprocess = self.spec_dict()
        self.state.num_calib = self.count.value()
        self.state.seed = self.seed.value()
        if folder and not Path(folder).is_dir():
            self.folder_message.error(f"{folder} is not a folder.")
            return False
        if folder:
            from edgeq.calibration import list_images

            known = self.last_preview if self.last_preview and self.last_preview["folder"] == folder else None
            count = known["count"] if known else len(list_images(Path(folder))[0])
            if not count:
                self.folder_message.error("No images in this folder: choose a folder with your .jpg/.png images.")
                return False
        self.state.calib = folder
        return True


def _floats(text: str) -> list[float]:
    out = []
    for part in text.replace(",", " ").split():
        try:
            out.append(float(part))
        except ValueError:
            out.append(float("nan"))
    return out
