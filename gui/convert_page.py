"""Step 4: convert every variant, with progress per variant, Cancel, and a table of results."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QProgressBar, QTableWidget, QTableWidgetItem

from edgeq.gui.page import BARE_TFLITE_SKIP, JobControls, Page

COLUMNS = ("mode", "status", "size KiB", "× float32", "top-1 agree", "SQNR dB", "cosine", "seconds", "note")


def variant_row(v: dict[str, Any]) -> list[str]:
    c = v.get("checks") or {}

    def f(x: Any, fmt: str) -> str:
        return format(x, fmt) if isinstance(x, (int, float)) and not isinstance(x, bool) else "–"

    return [v["mode"], v["status"], f((v.get("bytes") or 0) / 1024, ".1f") if v.get("bytes") else "–",
            f(v.get("size_vs_float32"), ".2f"), f(c.get("top1_agreement"), ".1%"), f(c.get("sqnr_db"), ".1f"),
            f(c.get("cosine"), ".4f"), f(v.get("seconds"), ".1f"), (v.get("error") or {}).get("message", "")]


class ConvertPage(Page):
    title = "Convert"
    subtitle = "Each variant is converted, then run in the LiteRT interpreter and compared with the float model."

    def not_applicable(self) -> str:
        return BARE_TFLITE_SKIP if self.state.bare_tflite else ""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.body.addWidget(self.summary)
        self.controls = JobControls("&Convert")
        self.body.addWidget(self.controls)
        self.progress_box = QGroupBox("Progress per variant")
        self.progress_form = QFormLayout(self.progress_box)
        self.bars: dict[str, QProgressBar] = {}
        self.body.addWidget(self.progress_box)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setMinimumHeight(170)
        self.body.addWidget(self.table, 1)
        self.controls.start.clicked.connect(self.start)

    def on_enter(self) -> None:
        st = self.state
        self.summary.setText(f"<b>{st.model or 'no model'}</b> → {st.out or '?'}<br>variants: {', '.join(st.modes)}; "
                             f"calibration: {st.calib or 'none'} ({st.num_calib} images); "
                             f"preprocessing: {st.preprocess.get('preset')}/{st.preprocess.get('color')}")
        for mode in st.modes:
            self._bar(mode)
        for mode in list(self.bars):
            if mode not in st.modes:
                self.progress_form.removeRow(self.bars.pop(mode))

    def _bar(self, mode: str) -> QProgressBar:
        if mode not in self.bars:
            bar = QProgressBar()
            bar.setRange(0, 1)
            bar.setValue(0)
            bar.setFormat("waiting")
            self.bars[mode] = bar
            self.progress_form.addRow(f"{mode}:", bar)
        return self.bars[mode]

    def busy(self) -> bool:
        return self.controls.busy

    def request(self) -> Any:
        from edgeq import api

        st = self.state
        pp = st.preprocess
        return api.ConvertRequest(
            model=st.model, out=st.out, calib=st.calib or None, modes=list(st.modes), preset=pp.get("preset"),
            color=pp.get("color"), resize=pp.get("resize", "stretch"),
            mean=tuple(pp.get("mean", ())) if pp.get("preset") == "custom" else (),
            std=tuple(pp.get("std", ())) if pp.get("preset") == "custom" else (),
            num_calib=st.num_calib, seed=st.seed, allow_fewer=True, io=st.io, per_tensor=st.per_tensor,
            strict_int=st.strict_int, overwrite=st.overwrite, labels=st.labels, command="edgeq gui (convert)",
            engine=None if st.engine == "tflite-converter" else st.engine,
            calibration_method=None if st.calibration == "min-max" else st.calibration)

    def start(self) -> None:
        """Starts the conversion in a worker."""
        st = self.state
        if self.not_applicable():
            self.controls.status.setText("Nothing to convert: the model is already a .tflite file.")
            return
        if not st.model or not st.out:
            self.window_.errors.show_message("Choose a model and a results folder first.",
                                             "go back to the Model and Quantization pages")
            return
        self.table.setRowCount(0)
        for mode in st.modes:
            bar = self._bar(mode)
            bar.setRange(0, 1)
            bar.setValue(0)
            bar.setFormat("waiting")
        self.controls.log.clear()
        self.window_.errors.clear()
        req = self.request()

        def target(cancel: Any) -> Any:
            from edgeq import api

            return api.convert(req, cancel=cancel)

        job = self.run_job("convert", target, on_events=self._events, on_done=self._done,
                           on_error=lambda exc: self.controls.status.setText("failed — see the message below"),
                           on_cancel=lambda why: self.controls.status.setText(f"cancelled: {why}"),
                           on_finished=self._finished)
        self.controls.running(job)
        self.controls.status.setText("starting…")

    def _events(self, events: list) -> None:
        from edgeq.events import Progress, Stage, VariantDone

        self.controls.add_log(events)
        for ev in events:
            if isinstance(ev, Stage) and ev.variant:
                bar = self._bar(ev.variant)
                bar.setRange(0, max(1, ev.total or 0))
                bar.setValue(0)
                bar.setFormat(f"{ev.name} %v/%m" if ev.total else ev.name)
            elif isinstance(ev, Progress) and ev.variant in self.bars:
                bar = self.bars[ev.variant]
                if ev.total:
                    bar.setMaximum(ev.total)
                bar.setValue(ev.done)
            elif isinstance(ev, VariantDone):
                bar = self._bar(ev.variant)
                bar.setRange(0, 1)
                bar.setValue(1)
                bar.setFormat("done" if ev.ok else "failed")
                self._add_row(ev.record)

    def _add_row(self, record: dict[str, Any]) -> None:
        if not record:
            return
        r = self.table.rowCount()
        self.table.insertRow(r)
        for c, text in enumerate(variant_row(record)):
            self.table.setItem(r, c, QTableWidgetItem(text))

    def _done(self, result: Any) -> None:
        manifest = result.to_dict()
        self.state.manifest = manifest
        self.state.evaluation = self.state.profile = None
        self.table.setRowCount(0)
        for v in manifest["variants"]:
            self._add_row(v)
        self.table.resizeColumnsToContents()
        ok = sum(1 for v in manifest["variants"] if v["status"] == "ok")
        self.controls.status.setText(f"{ok} of {len(manifest['variants'])} variants ok — manifest.json written to {result.out}")
        self.remember("out", str(result.out))

    def _finished(self) -> None:
        self.controls.stopped(self.controls.status.text())

    def validate(self) -> bool:
        if self.controls.busy:
            self.controls.status.setText("Wait for the conversion to finish, or cancel it.")
            return False
        if not self.state.manifest:
            self.controls.status.setText("Convert first: the next steps need the variants.")
            return False
        return True
