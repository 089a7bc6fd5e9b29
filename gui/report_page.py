"""Step 7: export the report (HTML/Markdown/CSV/JSON), open it, and save the run as a recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QListWidget,
                               QPushButton, QTextBrowser, QVBoxLayout)

from edgeq.gui.page import FieldMessage, Page, row

FORMATS = {"html": "HTML (self-contained, with charts)", "md": "Markdown", "csv": "CSV (one row per variant × device)",
           "json": "JSON (the report document)"}


class ReportPage(Page):
    title = "Report"
    subtitle = "Everything measured, in one document to attach to a pull request or send to a hardware team."

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.body.addWidget(self.summary)
        findings = QGroupBox("What the numbers say")
        fl = QVBoxLayout(findings)
        self.findings = QTextBrowser()  # the report's headline and "Why these numbers", read off the UI thread
        self.findings.setOpenExternalLinks(False)
        self.findings.setMinimumHeight(90)
        self.findings.setMaximumHeight(170)
        fl.addWidget(self.findings)
        self.body.addWidget(findings)
        export = QGroupBox("Export")
        el = QVBoxLayout(export)
        boxes = QHBoxLayout()
        self.format_boxes: dict[str, QCheckBox] = {}
        for fmt, text in FORMATS.items():
            box = QCheckBox(text)
            self.format_boxes[fmt] = box
            boxes.addWidget(box)
        el.addLayout(boxes)
        self.title_edit = QLineEdit()
        self.title_edit.setPlaceholderText("report title (default: the model name)")
        self.export_button = QPushButton("E&xport report")
        el.addLayout(row(self.title_edit, self.export_button))
        self.export_message = FieldMessage()
        el.addWidget(self.export_message)
        self.files = QListWidget()
        self.files.setMaximumHeight(90)
        self.open_button = QPushButton("&Open selected")
        el.addWidget(self.files)
        el.addLayout(row(QLabel(""), self.open_button))
        self.body.addWidget(export)
        recipe = QGroupBox("Recipe")
        rl = QVBoxLayout(recipe)
        rl.addWidget(QLabel("Save every choice of this run as a TOML recipe; <code>edgeq run recipe.toml</code> "
                            "replays it headless (convert → evaluate → profile → report)."))
        self.save_button = QPushButton("&Save recipe…")
        self.load_button = QPushButton("&Load recipe…")
        rl.addLayout(row(QLabel(""), self.load_button, self.save_button))
        self.recipe_message = FieldMessage()
        rl.addWidget(self.recipe_message)
        self.body.addWidget(recipe)
        self.body.addStretch(1)
        self.export_button.clicked.connect(self.export)
        self.open_button.clicked.connect(self.open_selected)
        self.files.itemActivated.connect(lambda item: self.open_path(item.text()))
        self.save_button.clicked.connect(self.save_recipe_dialog)
        self.load_button.clicked.connect(window.open_recipe_dialog)
        # Tests replace this to check what would be opened without starting a browser.
        self.opener = lambda url: QDesktopServices.openUrl(url)
        self.load_state()

    def load_state(self) -> None:
        for fmt, box in self.format_boxes.items():
            box.setChecked(fmt in self.state.report_formats)
        self.title_edit.setText(self.state.title)

    def not_applicable(self) -> str:
        if not self.state.bare_tflite:
            return ""
        where = "; the profile document is at " + ", ".join(self.state.profile_files) if self.state.profile_files else ""
        return ("Skipped for a bare .tflite: a report is built from a results folder (edgeq convert --out) with its "
                f"manifest{where}.")

    def on_enter(self) -> None:
        st = self.state
        parts = ["convert" if st.manifest else None, "evaluate" if st.evaluation else None, "profile" if st.profile else None]
        done = [p for p in parts if p]
        self.summary.setText(f"Results folder: <b>{st.out or '–'}</b><br>measured: {', '.join(done) or 'nothing yet'}")
        self.export_button.setEnabled(bool(st.manifest))
        if st.manifest and st.out:
            self.refresh_findings()

    def refresh_findings(self) -> Any:
        """Builds the report document in a worker (large profiles hold millions of samples) and shows what it
        concludes: the per-device headline and why the numbers are what they are."""
        from edgeq import api

        self.findings.setPlainText("reading the results folder…")
        req = api.ReportRequest([str(self.state.out)], max_drop_pp=self.state.max_drop_pp)
        return self.run_job("summarize results", lambda cancel: api.report(req), on_done=self._show_findings,
                            on_error=lambda exc: self.findings.setPlainText(f"cannot summarize: {getattr(exc, 'message', exc)}"))

    def _show_findings(self, doc: dict[str, Any]) -> None:
        from html import escape

        items = [f"<li><b>{escape(h)}</b></li>" for h in doc.get("highlights") or []]
        items += [f"<li>{escape(n['text'])}</li>" for n in doc.get("explanations") or []]
        self.findings.setHtml(f"<ul>{''.join(items)}</ul>" if items else "Nothing measured yet: evaluate or profile first.")

    def selected_formats(self) -> list[str]:
        return [f for f, box in self.format_boxes.items() if box.isChecked()]

    def export(self) -> list[str]:
        """Writes ``report.<ext>`` for every ticked format into the results folder (replacing older ones)."""
        from edgeq.errors import EdgeqError
        from edgeq.recipes import write_reports

        formats = self.selected_formats()
        if not formats:
            self.export_message.error("Tick at least one format.")
            return []
        if not self.state.manifest:
            self.export_message.error("Nothing to report yet: convert first.")
            return []
        self.state.report_formats = formats
        self.state.title = self.title_edit.text().strip()
        try:
            written, missing = write_reports(Path(self.state.out), formats, title=self.title_edit.text().strip(),
                                             max_drop_pp=self.state.max_drop_pp, overwrite=True,
                                             command="edgeq gui (report)")
        except EdgeqError as exc:
            self.export_message.error(f"{exc.message} — {exc.hint}" if exc.hint else exc.message)
            self.window_.errors.show_error(exc, context="export report")
            return []
        self.state.report_files = written
        self.files.clear()
        self.files.addItems(written)
        if written:
            self.files.setCurrentRow(0)
        note = f" ({', '.join(missing)} cannot be rendered by this installation)" if missing else ""
        self.export_message.ok(f"wrote {len(written)} file(s) to {self.state.out}{note}")
        return written

    def open_selected(self) -> None:
        item = self.files.currentItem()
        if item is None:
            self.export_message.error("Export first, then pick a file to open.")
            return
        self.open_path(item.text())

    def open_path(self, path: str) -> None:
        if not Path(path).exists():
            self.export_message.error(f"{path} no longer exists: export again.")
            return
        self.opener(QUrl.fromLocalFile(path))

    def save_recipe_dialog(self) -> None:
        start = str(Path(self.state.out or ".") / "recipe.toml")
        path, _ = QFileDialog.getSaveFileName(self, "Save recipe", start, "edgeq recipes (*.toml)")
        if path:
            self.save_recipe(path, overwrite=True)  # the dialog already asked about replacing

    def save_recipe(self, path: str, *, overwrite: bool = False) -> bool:
        """Saves the run as a recipe at ``path``; says why not beside the button."""
        from edgeq.errors import EdgeqError
        from edgeq.recipes import save

        self.state.report_formats = self.selected_formats()
        self.state.title = self.title_edit.text().strip()
        try:
            if not self.state.model and not self.state.example:
                raise EdgeqError("no model chosen yet", hint="pick a model on the Model page first")
            if self.state.bare_tflite:  # a recipe replays a conversion, and a bare .tflite has none
                raise EdgeqError("a recipe replays a conversion, and a bare .tflite is not converted",
                                 hint=f"run edgeq eval / edgeq profile on {Path(self.state.model).name} instead")
            save(self.state.to_recipe(), path, overwrite=overwrite)
        except EdgeqError as exc:
            self.recipe_message.error(f"{exc.message} — {exc.hint}" if exc.hint else exc.message)
            return False
        self.window_.recent.add("recipes", path)
        self.recipe_message.ok(f"saved {path}; replay it with: edgeq run {path}")
        return True
