"""Step 6: latency on devices, live per run and as a histogram, with stats and accuracy vs latency."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                               QListWidget, QListWidgetItem, QPushButton, QSpinBox, QSplitter, QTableWidget, QTabWidget,
                               QVBoxLayout)

from edgeq.gui.evaluate_page import fill
from edgeq.gui.live_plot import LiveHistogram, LivePlot, Scatter
from edgeq.gui.page import FieldMessage, JobControls, Page, label_for, row

STATS_HZ = 4


class ProfilePage(Page):
    title = "Profile"
    subtitle = "Latency of every variant on your devices; numbers appear as each run finishes."

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        top = QHBoxLayout()
        devices = QGroupBox("&Devices")
        dl = QVBoxLayout(devices)
        self.devices = QListWidget()
        self.devices.setMaximumHeight(96)
        self.check_button = QPushButton("C&heck selected device")
        self.device_message = FieldMessage()
        dl.addWidget(self.devices)
        dl.addWidget(self.check_button)
        dl.addWidget(self.device_message)
        top.addWidget(devices, 3)
        settings = QGroupBox("Settings")
        sl = QFormLayout(settings)
        self.threads = QSpinBox()
        self.threads.setRange(1, 64)
        self.runs = QSpinBox()
        self.runs.setRange(1, 100000)
        self.min_secs = QDoubleSpinBox()
        self.min_secs.setRange(0.0, 600.0)
        self.min_secs.setSuffix(" s")
        self.min_secs.setToolTip("Keep running until this many seconds have passed (and the runs are done)")
        sl.addRow("&Threads:", self.threads)
        sl.addRow("&Runs (at least):", self.runs)
        sl.addRow("&Min time:", self.min_secs)
        top.addWidget(settings, 2)
        self.body.addLayout(top)
        # A bare .tflite has no results folder, so its profile document is written where the user says.
        self.save_dir = QLineEdit()
        self.save_dir.setToolTip("Folder for the profile document of a bare .tflite (empty: next to the model)")
        self.save_browse = QPushButton("Bro&wse…")
        self.save_message = FieldMessage()
        save_form = QFormLayout()
        self.save_label = label_for("Save profile &in:", self.save_dir)
        save_form.addRow(self.save_label, row(self.save_dir, self.save_browse))
        save_form.addRow("", self.save_message)
        self.save_box = QGroupBox()
        self.save_box.setLayout(save_form)
        self.save_box.setFlat(True)
        self.save_box.setVisible(False)
        self.body.addWidget(self.save_box)
        self.save_browse.clicked.connect(self._browse_save_dir)
        self.saved_to = QLabel()
        self.saved_to.setWordWrap(True)
        self.saved_to.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.controls = JobControls("&Profile")
        self.body.addWidget(self.controls)
        self.body.addWidget(self.saved_to)
        self.tabs = QTabWidget()
        self.latency = LivePlot("Latency per run (y: up to the 99th percentile)", "run", "ms", robust_y=True)
        self.histogram = LiveHistogram("Latency distribution", "ms")
        self.scatter = Scatter("Accuracy vs latency", "mean latency (ms)", "top-1 %")
        self.tabs.addTab(self.latency, "By r&un")
        self.tabs.addTab(self.histogram, "Histo&gram")
        self.tabs.addTab(self.scatter, "Accuracy &vs latency")
        self.tabs.setMinimumHeight(230)
        self.stats = QTableWidget(0, 7)
        self.stats.setHorizontalHeaderLabels(["variant @ device", "runs", "mean ms", "median ms", "p90 ms", "min ms", "max ms"])
        self.stats.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.stats.horizontalHeader().setStretchLastSection(True)
        split = QSplitter()
        split.addWidget(self.tabs)
        split.addWidget(self.stats)
        split.setSizes([560, 420])
        self.body.addWidget(split, 1)
        self._stats_timer = QTimer(self)
        self._stats_timer.setInterval(1000 // STATS_HZ)
        self._stats_timer.timeout.connect(self.update_stats)
        self._stats_dirty = False
        self.check_button.clicked.connect(self.check_selected)
        self.controls.start.clicked.connect(self.start)
        self._loaded = False
        self.load_state()

    def load_state(self) -> None:
        self.threads.setValue(self.state.threads)
        self.runs.setValue(self.state.runs)
        self.min_secs.setValue(self.state.min_secs)
        self._check_devices(self.state.devices)

    def _check_devices(self, names: list[str]) -> None:
        for i in range(self.devices.count()):
            item = self.devices.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.data(Qt.ItemDataRole.UserRole) in names else Qt.CheckState.Unchecked)

    def _browse_save_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder for the profile document")
        if path:
            self.save_dir.setText(path)

    def on_enter(self) -> None:
        bare = self.state.bare_tflite
        self.save_box.setVisible(bare)
        if bare:
            self.save_dir.setPlaceholderText(f"empty: next to the model ({Path(self.state.model).parent})")
            if not self.save_dir.text() and self.state.profile_dir:
                self.save_dir.setText(self.state.profile_dir)
        if self._loaded:
            return
        from edgeq import api
        from edgeq.errors import EdgeqError

        try:
            found = api.scan_devices()
            profiles = found.profiles
            for problem in found.problems[:1]:  # a broken profile file of the user's: named, the rest still listed
                self.device_message.error(f"skipped {problem.error.message} — {problem.error.hint}")
        except EdgeqError as exc:
            self.device_message.error(f"{exc.message} — {exc.hint}")
            self.window_.errors.show_error(exc, context="device profiles")
            profiles = []
        recent = self.window_.recent.get("devices")
        for p in sorted(profiles, key=lambda p: (p.name not in recent, p.name != "local", p.name)):
            item = QListWidgetItem(f"{p.name} — {p.description or p.transport}")
            item.setData(Qt.ItemDataRole.UserRole, p.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            self.devices.addItem(item)
        self._check_devices(self.state.devices)
        self.devices.setCurrentRow(0)
        self._loaded = True

    def selected_devices(self) -> list[str]:
        return [self.devices.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.devices.count())
                if self.devices.item(i).checkState() == Qt.CheckState.Checked]

    def check_selected(self) -> None:
        """Connects to the highlighted device and says what it found (or why it cannot connect)."""
        from edgeq import api

        item = self.devices.currentItem()
        if item is None:
            self.device_message.error("Highlight a device in the list first.")
            return
        name = item.data(Qt.ItemDataRole.UserRole)
        self.device_message.ok(f"checking {name}…")
        self.check_button.setEnabled(False)
        self.run_job(f"check {name}", lambda cancel: api.check_device(name, cancel=cancel),
                     on_done=lambda res: self._checked(name, res), on_error=lambda exc: self._check_failed(name, exc),
                     on_finished=lambda: self.check_button.setEnabled(True))

    def _checked(self, name: str, result: Any) -> None:
        d = result.to_dict()
        f = d.get("facts") or {}
        facts = ", ".join(str(f[k]) for k in ("os", "machine", "runtime", "runtime_version") if f.get(k))
        if d.get("ok"):
            self.device_message.ok(f"{name}: reachable — {facts}")
            self.window_.recent.add("devices", name)
        else:
            problems = "; ".join(f"{p.get('problem')} (fix: {p.get('fix')})" for p in d.get("problems", []))
            self.device_message.warn(f"{name}: reachable but {problems}")

    def _check_failed(self, name: str, exc: BaseException) -> None:
        from edgeq.gui.errors import describe

        message, hint = describe(exc)
        self.device_message.error(f"{name}: {message}" + (f" — {hint}" if hint else ""))

    def busy(self) -> bool:
        return self.controls.busy

    def start(self) -> None:
        """Profiles every converted variant on the ticked devices, in a worker."""
        from edgeq import api

        devices = self.selected_devices()
        if not devices:
            self.device_message.error("Tick at least one device.")
            return
        out = None
        if self.state.bare_tflite:
            models = [self.state.model]
            out = self.profile_out()
            if out is None:
                return
        else:
            models = [f"{self.state.out}/{v['file']}" for v in (self.state.manifest or {}).get("variants", [])
                      if v["status"] == "ok" and v.get("file")]
        if not models:
            self.device_message.error("Convert first: there is no variant to profile.")
            return
        st = self.state
        st.devices, st.threads, st.runs, st.min_secs = devices, self.threads.value(), self.runs.value(), self.min_secs.value()
        req = api.ProfileRequest(models=models, devices=devices, threads=st.threads, runs=st.runs, min_secs=st.min_secs,
                                 max_secs=max(150.0, st.min_secs), out=out, command="edgeq gui (profile)")
        self.saved_to.clear()
        self.latency.clear_all()
        self.histogram.clear_all()
        self.stats.setRowCount(0)
        self.window_.errors.clear()
        job = self.run_job("profile", lambda cancel: api.profile(req, cancel=cancel), on_events=self.on_events,
                           on_done=self._done, on_cancel=lambda why: self.controls.status.setText(f"cancelled: {why}"),
                           on_finished=self._finished)
        self.controls.running(job)
        self._stats_timer.start()

    def profile_out(self) -> str | None:
        """Where the bare model's profile document goes (a new timestamped file), or None and why beside the field."""
        text = self.save_dir.text().strip()
        folder = Path(text).expanduser() if text else Path(self.state.model).parent
        if not folder.is_dir():
            self.save_message.error(f"{folder} is not a folder: choose an existing folder, or leave it empty "
                                    "to save next to the model.")
            return None
        if not os.access(folder, os.W_OK):
            self.save_message.error(f"{folder} is not writable: choose another folder.")
            return None
        self.save_message.clear()
        self.state.profile_dir = text
        stem = Path(self.state.model).stem
        path = folder / f"profile-{stem}-{time.strftime('%Y%m%d-%H%M%S')}.json"
        n = 1
        while path.exists():  # never replace an earlier document
            n += 1
            path = folder / f"profile-{stem}-{time.strftime('%Y%m%d-%H%M%S')}-{n}.json"
        return str(path)

    def on_events(self, events: list) -> None:
        """Feeds samples into the plots' ring buffers (cheap: the plots redraw on their own timers)."""
        from edgeq.events import RunType
        from edgeq.gui.worker import SampleBlock

        others = []
        for ev in events:
            if isinstance(ev, SampleBlock):
                if ev.run_type == RunType.REGULAR:
                    name = f"{ev.variant or 'model'} @ {ev.device or '?'}"
                    ms = ev.latency_us / 1000.0
                    self.latency.append(name, ev.index, ms)
                    self.histogram.add_values(name, ms)
                    self._stats_dirty = True
            else:
                others.append(ev)
        if others:
            self.controls.add_log(others)

    def update_stats(self) -> None:
        if not self._stats_dirty:
            return
        self._stats_dirty = False
        rows = []
        for name, buf in self.latency.buffers.items():
            _, y = buf.data()
            if y.size:
                p = np.percentile(y, [50, 90])
                rows.append([name, str(buf.total), f"{y.mean():.3f}", f"{p[0]:.3f}", f"{p[1]:.3f}",
                             f"{y.min():.3f}", f"{y.max():.3f}"])
        fill(self.stats, rows)

    def _done(self, result: Any) -> None:
        doc = result.to_dict()
        self.state.profile = doc
        self._stats_dirty = True
        self.update_stats()
        for d in self.selected_devices():
            self.window_.recent.add("devices", d)
        runs = doc.get("runs", [])
        ok = sum(1 for r in runs if r.get("status") == "ok")
        self.controls.status.setText(f"{ok} of {len(runs)} runs ok" + (f" (partial: {doc.get('partial_reason')})" if doc.get("partial") else ""))
        saved = [str(p) for p in (getattr(result, "paths", None) or ([result.path] if getattr(result, "path", None) else []))]
        self.state.profile_files = saved
        if saved:
            self.saved_to.setText("Profile document: " + ", ".join(saved))
        elif getattr(result, "unsaved", None):
            self.saved_to.setText("Not saved: " + ", ".join(result.unsaved) + " is outside a results folder.")
        self.update_scatter()

    def update_scatter(self) -> None:
        ev = self.state.evaluation or {}
        top1 = {v["mode"]: (v.get("metrics") or {}).get("top1") for v in ev.get("variants", [])}
        points = {}
        for r in (self.state.profile or {}).get("runs", []):
            mean = (r.get("stats") or {}).get("mean_us")
            acc = top1.get(r.get("variant"))
            if isinstance(mean, (int, float)) and isinstance(acc, (int, float)):
                points[f"{r['variant']} @ {r['device']['name']}"] = (mean / 1000.0, acc * 100)
        self.scatter.set_points(points)

    def _finished(self) -> None:
        self._stats_timer.stop()
        self.update_stats()
        self.controls.stopped(self.controls.status.text())

    def validate(self) -> bool:
        if self.controls.busy:
            self.controls.status.setText("Wait for profiling to finish, or cancel it.")
            return False
        return True
