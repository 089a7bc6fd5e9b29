"""Step 5: accuracy of every variant on labelled images, live as they stream, per class and per layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QGroupBox, QLabel, QProgressBar, QPushButton,
                               QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from edgeq.gui.live_plot import LivePlot
from edgeq.gui.page import FieldMessage, JobControls, Page, label_for, row
from edgeq.recipes import available


def _pct(x: Any) -> str:
    return f"{x:.1%}" if isinstance(x, (int, float)) and not isinstance(x, bool) else "–"


def _num(x: Any, fmt: str = ".2f") -> str:
    return format(x, fmt) if isinstance(x, (int, float)) and not isinstance(x, bool) else "–"


def _table(headers: list[str]) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    t.horizontalHeader().setStretchLastSection(True)
    return t


def fill(table: QTableWidget, rows: list[list[str]], vheaders: list[str] | None = None) -> None:
    """Puts ``rows`` into ``table``, updating cells in place (it runs several times a second while profiling)."""
    grew = table.rowCount() != len(rows)
    table.setRowCount(len(rows))
    for r, values in enumerate(rows):
        for c, text in enumerate(values):
            item = table.item(r, c)
            if item is None:
                table.setItem(r, c, QTableWidgetItem(text))
            elif item.text() != text:
                item.setText(text)
    if vheaders is not None:
        table.setVerticalHeaderLabels(vheaders)
    if grew:
        table.resizeColumnsToContents()


class EvaluatePage(Page):
    title = "Evaluate"
    subtitle = "Top-1 of every variant on your labelled images, against the float32 reference."

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.data = self.recent_combo("eval", "labelled images: one subfolder per class")
        self.data_message = FieldMessage()
        form = QFormLayout()
        form.addRow("&Labelled data:", self.data)
        form.addRow("", self.data_message)
        self.body.addLayout(form)
        self._reference: str | None = None  # the reference the bare model was last compared with
        self.bare_box = self._bare_controls()
        self.body.addWidget(self.bare_box)
        self.controls = JobControls("&Evaluate")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.body.addWidget(self.controls)
        self.body.addWidget(self.progress)
        self.tabs = QTabWidget()
        self.plot = LivePlot("Top-1 as images stream", "images", "top-1 %", capacity=5000, symbols=True)
        self.plot.setYRange(0, 100)
        self.plot.enableAutoRange(axis="y", enable=False)
        self.tabs.addTab(self.plot, "&Live top-1")
        self.summary = _table(["variant", "status", "top-1", "drop pp", "agreement", "KL", "SQNR dB"])
        self.tabs.addTab(self.summary, "Summar&y")
        self.per_class = _table([])
        self.tabs.addTab(self.per_class, "Per &class")
        layers = QWidget()
        ll = QVBoxLayout(layers)
        self.analyze_button = QPushButton("&Analyze int8 layers")
        self.analyze_button.setEnabled(available("edgeq.evaluation.layers"))
        self.analyze_status = QLabel("Per-layer error of the int8 model against float32, most sensitive first.")
        ll.addLayout(row(self.analyze_status, self.analyze_button))
        self.layers = _table(["op", "name", "tensor", "SQNR dB", "scaled RMSE", "mean |error|"])
        ll.addWidget(self.layers)
        self.tabs.addTab(layers, "Per la&yer")
        self.tabs.setMinimumHeight(240)
        self.body.addWidget(self.tabs, 1)
        self.recommendation = QLabel()
        self.recommendation.setWordWrap(True)
        self.body.addWidget(self.recommendation)
        self.controls.start.clicked.connect(self.start)
        self.analyze_button.clicked.connect(self.analyze)
        if not available("edgeq.evaluation.job"):
            self.controls.start.setEnabled(False)
            self.controls.status.setText("evaluation is not part of this edgeq installation")

    def _bare_controls(self) -> QGroupBox:
        """Preprocessing and an optional reference, for a bare .tflite (it has no manifest recording them)."""
        box = QGroupBox("Bare .tflite: how its input is made (no manifest records it)")
        form = QFormLayout(box)
        self.reference = self.recent_combo("reference", "optional: a float .tflite to compare against")
        self.reference_browse = QPushButton("Brow&se…")
        self.reference_message = FieldMessage()
        self.pp_resize = QComboBox()
        self.pp_resize.addItems(["stretch", "crop", "letterbox"])
        self.pp_color = QComboBox()
        self.pp_color.addItems(["rgb", "bgr", "gray"])
        self.pp_preset = QComboBox()
        self.pp_preset.addItems(["raw", "unit", "symmetric", "imagenet", "caffe"])
        self.pp_preset.setToolTip("raw 0..255, unit 0..1, symmetric -1..1, imagenet/caffe statistics "
                                  "(custom mean/std: edgeq eval --preprocess custom --mean … --std …)")
        self.pp_message = FieldMessage()
        form.addRow(label_for("Re&ference:", self.reference), row(self.reference, self.reference_browse))
        form.addRow("", self.reference_message)
        form.addRow("Resi&ze:", self.pp_resize)
        form.addRow("Colo&r:", self.pp_color)
        form.addRow("Nor&malization:", self.pp_preset)
        form.addRow("", self.pp_message)
        for w in (self.pp_resize, self.pp_color, self.pp_preset):
            w.currentTextChanged.connect(lambda _: self.check_preprocess())
        self.reference_browse.clicked.connect(self._browse_reference)
        box.setVisible(False)
        return box

    def _browse_reference(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a float reference model", "", "TFLite models (*.tflite)")
        if path:
            self.reference.setEditText(path)

    def on_enter(self) -> None:
        if self.state.eval_data and not self.data.currentText().strip():
            self.data.setEditText(self.state.eval_data)
        bare = self.state.bare_tflite
        self.bare_box.setVisible(bare)
        if bare:
            pp = self.state.preprocess
            channels = self.state.channels
            color = pp.get("color", "rgb")
            if channels == 1:
                color = "gray"
            elif channels == 3 and color == "gray":
                color = "rgb"
            self.pp_resize.setCurrentText(pp.get("resize", "stretch"))
            self.pp_color.setCurrentText(color)
            self.pp_preset.setCurrentText(pp.get("preset", "unit") if pp.get("preset") != "custom" else "unit")
            self.check_preprocess()

    def preprocess_choice(self) -> dict[str, str]:
        return {"preset": self.pp_preset.currentText(), "color": self.pp_color.currentText(),
                "resize": self.pp_resize.currentText()}

    def check_preprocess(self) -> bool:
        """Checks the bare model's preprocessing choice; says what is wrong beside the controls."""
        from edgeq.errors import EdgeqError
        from edgeq.preprocess import PreprocessSpec

        try:
            spec = PreprocessSpec.from_dict(self.preprocess_choice())
        except (EdgeqError, ValueError) as exc:
            self.pp_message.error(getattr(exc, "message", str(exc)) + (f" — {exc.hint}" if getattr(exc, "hint", "") else ""))
            return False
        channels = self.state.channels
        if channels and spec.channels != channels:
            self.pp_message.error(f"color {spec.color} gives {spec.channels} channel(s) but the model takes {channels}: "
                                  f"choose {'gray' if channels == 1 else 'rgb or bgr'}.")
            return False
        lo, hi = spec.expected_range()
        self.pp_message.ok(f"the model will get pixels in [{lo:.3g}, {hi:.3g}] — pick what it was trained on")
        return True

    def load_state(self) -> None:
        self.data.setEditText(self.state.eval_data)

    def busy(self) -> bool:
        return self.controls.busy

    def start(self) -> None:
        """Evaluates every variant of the results folder on the labelled data, in a worker."""
        from edgeq import api

        data = self.data.currentText().strip()
        if not data or not Path(data).is_dir():
            self.data_message.error("Choose a folder of labelled images (one subfolder per class).")
            return
        bare = self.state.bare_tflite
        if bare:
            req = self._bare_request(data)
            if req is None:
                return
        elif not self.state.manifest:
            self.data_message.error("Convert first: evaluation measures the variants of the results folder.")
            return
        else:
            req = api.EvalRequest(targets=[self.state.out], data=data, max_drop=self.state.max_drop_pp, chunk=16,
                                  command="edgeq gui (evaluate)")
        self.data_message.clear()
        self.state.eval_data = data
        self.remember("eval", data)
        self._reference = req.reference if bare else None
        for col in range(3, self.summary.columnCount()):  # drop, agreement, KL, SQNR need a reference
            self.summary.setColumnHidden(col, bare and not req.reference)
        self.plot.clear_all()
        self.progress.setValue(0)
        self.window_.errors.clear()

        def target(cancel: Any) -> Any:
            return api.evaluate(req, cancel=cancel)

        job = self.run_job("evaluate", target, on_events=self._events, on_done=self._done,
                           on_cancel=lambda why: self.controls.status.setText(f"cancelled: {why}"),
                           on_finished=lambda: self.controls.stopped(self.controls.status.text()))
        self.controls.running(job)

    def _bare_request(self, data: str) -> Any:
        """The EvalRequest for a bare .tflite, or None (and why, beside the field)."""
        from edgeq import api

        if not self.check_preprocess():
            return None
        ref = self.reference.currentText().strip()
        if ref and not (Path(ref).is_file() and Path(ref).suffix.lower() == ".tflite"):
            self.reference_message.error(f"{ref} is not a .tflite file: pick the float model to compare against, or leave it empty.")
            return None
        if ref and Path(ref).resolve() == Path(self.state.model).resolve():
            self.reference_message.error("The reference is the model itself: pick another .tflite, or leave it empty.")
            return None
        self.reference_message.clear()
        if ref:
            self.remember("reference", ref)
        self.state.preprocess = {**self.state.preprocess, **self.preprocess_choice()}
        pp = self.preprocess_choice()
        return api.EvalRequest(targets=[self.state.model], data=data, reference=ref or None, preset=pp["preset"],
                               color=pp["color"], resize=pp["resize"], max_drop=self.state.max_drop_pp, chunk=16,
                               write=False, command="edgeq gui (evaluate)")

    def _events(self, events: list) -> None:
        from edgeq.events import Metric, Progress

        self.controls.add_log(events)
        for ev in events:
            if isinstance(ev, Metric) and ev.name == "top1":
                value = ev.value * 100 if ev.value <= 1.0 else ev.value
                self.plot.append(ev.variant or "model", [ev.count], [value])
            elif isinstance(ev, Progress) and ev.total:
                self.progress.setRange(0, ev.total)
                self.progress.setValue(ev.done)

    def _done(self, result: Any) -> None:
        doc = result.to_dict()
        self.state.evaluation = doc
        self.show_document(doc)
        note = ""
        if self.state.bare_tflite:
            note = (" — accuracy only (pick a reference .tflite to compare against)" if not self._reference
                    else f" — compared with {Path(self._reference).name}")
        self.controls.status.setText(f"evaluated {doc['data'].get('images')} images"
                                     + (f" (partial: {doc.get('partial_reason')})" if doc.get("partial") else "") + note)

    def show_document(self, doc: dict[str, Any]) -> None:
        variants = doc.get("variants", [])
        fill(self.summary, [[v["mode"], v["status"], _pct((v.get("metrics") or {}).get("top1")), _num(v.get("drop_pp")),
                             _pct((v.get("metrics") or {}).get("agreement_top1")),
                             _num((v.get("metrics") or {}).get("kl_divergence"), ".4f"),
                             _num((v.get("metrics") or {}).get("sqnr_db"), ".1f")] for v in variants])
        classes = doc.get("data", {}).get("classes") or []
        self.per_class.setColumnCount(len(variants))
        self.per_class.setHorizontalHeaderLabels([v["mode"] for v in variants])
        fill(self.per_class, [[_pct(((v.get("metrics") or {}).get("per_class") or {}).get(c)) for v in variants]
                              for c in classes], classes)
        rec = doc.get("recommendation")
        self.recommendation.setText(f"<b>Recommended:</b> {rec['variant']} — {rec['reason']}" if rec else "")
        if self.progress.maximum() <= 1:
            self.progress.setRange(0, 1)
            self.progress.setValue(1)

    def analyze(self) -> None:
        """Per-layer error of the int8 variant (``edgeq analyze``), in a worker."""
        from edgeq import api

        if self.state.bare_tflite:
            self.analyze_status.setText("Needs a results folder with float32 and int8 variants: not available for a bare .tflite.")
            return
        if not self.state.manifest or not any(v["mode"] == "int8" and v["status"] == "ok"
                                              for v in self.state.manifest["variants"]):
            self.analyze_status.setText("Needs a converted int8 variant: tick int8 on the Quantization page.")
            return
        req = api.AnalyzeRequest(model=self.state.out, command="edgeq gui (analyze)")
        self.analyze_button.setEnabled(False)
        self.analyze_status.setText("analyzing…")

        def done(result: Any) -> None:
            layers = result.to_dict().get("layers", [])
            fill(self.layers, [[str(l.get("op_index")), str(l.get("op_name")), str(l.get("tensor")), _num(l.get("sqnr_db"), ".1f"),
                                _num(l.get("scaled_rmse"), ".4f"), _num(l.get("mean_abs_error"), ".4g")] for l in layers])
            self.analyze_status.setText(f"{len(layers)} layers, most sensitive first")

        self.run_job("analyze", lambda cancel: api.analyze(req, cancel=cancel), on_done=done,
                     on_finished=lambda: self.analyze_button.setEnabled(True))

    def validate(self) -> bool:
        if self.controls.busy:
            self.controls.status.setText("Wait for the evaluation to finish, or cancel it.")
            return False
        return True  # evaluation is optional: profiling works without it
