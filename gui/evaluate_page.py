"""Step 5: accuracy of every variant on labelled images, live as they stream, per class and per layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (QFormLayout, QLabel, QProgressBar, QPushButton, QTableWidget, QTableWidgetItem,
                               QTabWidget, QVBoxLayout, QWidget)

from edgeq.gui.live_plot import LivePlot
from edgeq.gui.page import FieldMessage, JobControls, Page, row
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

    def on_enter(self) -> None:
        if self.state.eval_data and not self.data.currentText().strip():
            self.data.setEditText(self.state.eval_data)

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
        if not self.state.manifest:
            self.data_message.error("Convert first: evaluation measures the variants of the results folder.")
            return
        self.data_message.clear()
        self.state.eval_data = data
        self.remember("eval", data)
        req = api.EvalRequest(targets=[self.state.out], data=data, max_drop=self.state.max_drop_pp, chunk=16,
                              command="edgeq gui (evaluate)")
        self.plot.clear_all()
        self.progress.setValue(0)
        self.window_.errors.clear()

        def target(cancel: Any) -> Any:
            return api.evaluate(req, cancel=cancel)

        job = self.run_job("evaluate", target, on_events=self._events, on_done=self._done,
                           on_cancel=lambda why: self.controls.status.setText(f"cancelled: {why}"),
                           on_finished=lambda: self.controls.stopped(self.controls.status.text()))
        self.controls.running(job)

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
        self.controls.status.setText(f"evaluated {doc['data'].get('images')} images"
                                     + (f" (partial: {doc.get('partial_reason')})" if doc.get("partial") else ""))

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
