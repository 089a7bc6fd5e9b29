"""Step 1: pick the model (or the bundled example) and show what edgeq sees in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog, QFormLayout, QGroupBox, QLabel, QPushButton

from edgeq.gui.page import FieldMessage, Page, row

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5", ".tflite")


def quick_check(path: str) -> str:
    """A message when ``path`` cannot be a model, without importing TensorFlow ('' if it may be)."""
    if not path:
        return "Choose a model file (.keras, .h5, .tflite) or a SavedModel folder, or use the bundled example."
    p = Path(path).expanduser()
    if not p.exists():
        return f"{p} does not exist."
    if p.is_dir():
        if not ((p / "saved_model.pb").exists() or (p / "saved_model.pbtxt").exists()):
            return f"{p.name} is a folder but not a SavedModel (it has no saved_model.pb)."
        return ""
    if p.suffix.lower() not in MODEL_SUFFIXES:
        head = p.read_bytes()[:8] if p.is_file() else b""
        if not (head.startswith(b"PK") or head.startswith(b"\x89HDF") or head[4:8] == b"TFL3"):
            return f"{p.name} is not a model edgeq can read: choose a .keras, .h5 or .tflite file or a SavedModel folder."
    return ""


class ModelPage(Page):
    title = "Model"
    subtitle = "The trained Keras model to take to the edge (or a .tflite model to evaluate and profile)."

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.path = self.recent_combo("models", "path to model.keras / model.h5 / SavedModel folder / model.tflite")
        self.path.setToolTip("The model to convert")
        label = QLabel("&Model:")
        label.setBuddy(self.path)
        self.browse = QPushButton("Browse &file…")
        self.browse_dir = QPushButton("SavedModel &folder…")
        self.example_button = QPushButton("Use the bundled &example")
        self.inspect_button = QPushButton("&Inspect")
        self.message = FieldMessage()
        form = QFormLayout()
        form.addRow(label, row(self.path, self.browse, self.browse_dir))
        form.addRow("", self.message)
        form.addRow("", row(self.inspect_button, self.example_button, stretch_first=False))
        self.body.addLayout(form)
        box = QGroupBox("What edgeq sees")
        info = QFormLayout(box)
        self.fields: dict[str, QLabel] = {}
        for key, text in (("kind", "Format"), ("name", "Name"), ("input", "Input shape"), ("dtype", "Input dtype"),
                          ("output", "Output shape"), ("normalization", "In-graph normalization"),
                          ("ops", "Layers / ops"), ("params", "Parameters")):
            self.fields[key] = QLabel("–")
            self.fields[key].setWordWrap(True)
            info.addRow(f"{text}:", self.fields[key])
        self.body.addWidget(box)
        self.body.addStretch(1)
        self.browse.clicked.connect(self._browse_file)
        self.browse_dir.clicked.connect(self._browse_dir)
        self.example_button.clicked.connect(self.use_example)
        self.inspect_button.clicked.connect(lambda: self.inspect(self.path.currentText().strip()))
        self.path.lineEdit().returnPressed.connect(lambda: self.inspect(self.path.currentText().strip()))
        self._inspecting: str | None = None

    def load_state(self) -> None:
        self.path.setEditText(self.state.model)
        if self.state.model:
            self.inspect(self.state.model, example=self.state.example)

    def _browse_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a model", "", "Models (*.keras *.h5 *.hdf5 *.tflite);;All files (*)")
        if path:
            self.inspect(path)

    def _browse_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a SavedModel folder")
        if path:
            self.inspect(path)

    def use_example(self) -> None:
        """Selects the bundled Fashion-MNIST example (model, calibration and validation images)."""
        from edgeq.errors import EdgeqError
        from edgeq.example import bundled_example

        try:
            ex = bundled_example()
        except EdgeqError as exc:
            self.message.error(f"{exc.message} ({exc.hint})")
            self.window_.errors.show_error(exc)
            return
        st = self.state
        st.labels = list(ex.labels)
        st.calib = str(ex.calib)
        st.eval_data = str(ex.val)
        st.preprocess = {"resize": "stretch", **ex.preprocess}
        for page in self.window_.pages[1:]:
            reload = getattr(page, "load_state", None)
            if reload:
                reload()
        self.inspect(str(ex.model), example=True)

    def inspect(self, path: str, *, example: bool = False) -> None:
        """Checks ``path`` at once, then describes the model in a worker (loading it imports TensorFlow)."""
        self.path.setEditText(path)
        problem = quick_check(path)
        if problem:
            self.message.error(problem)
            self.state.model_info = None
            return
        self.state.model = path
        self.state.example = example
        if not example:
            self.state.labels = None
        self.state.model_info = None
        self.window_.refresh_steps()
        self.message.ok("Reading the model…")
        for lab in self.fields.values():
            lab.setText("…")
        self._inspecting = path

        def describe(cancel: Any) -> dict[str, Any]:
            from edgeq import api

            return api.inspect_model(path)

        self.run_job("inspect model", describe, on_done=lambda info: self._show(path, info),
                     on_error=lambda exc: self._failed(path, exc))

    def busy(self) -> bool:
        return self._inspecting is not None

    def _failed(self, path: str, exc: BaseException) -> None:
        from edgeq.gui.errors import describe

        self._inspecting = None
        message, hint = describe(exc)
        self.message.error(f"{message}" + (f" — {hint}" if hint else ""))
        for lab in self.fields.values():
            lab.setText("–")

    def _show(self, path: str, info: dict[str, Any]) -> None:
        self._inspecting = None
        if path != self.state.model:
            return  # the user picked another model meanwhile
        self.state.model_info = info
        if not self.state.example:
            self.remember("models", path)
        tflite = info.get("kind") == "tflite"
        f = self.fields
        f["kind"].setText(str(info.get("kind")))
        f["name"].setText(str(info.get("name") or Path(path).name))
        if tflite:
            inp, out = (info.get("inputs") or [{}])[0], (info.get("outputs") or [{}])[0]
            info.setdefault("input_shape", inp.get("shape"))
            f["input"].setText(str(inp.get("shape")))
            f["dtype"].setText(str(inp.get("dtype")))
            f["output"].setText(str(out.get("shape")))
            f["normalization"].setText("not detectable in a .tflite model")
            f["ops"].setText(f"{info.get('ops')} ops ({', '.join(f'{k} {v}' for k, v in (info.get('ops_by_dtype') or {}).items())})")
            f["params"].setText(f"{info.get('bytes', 0) / 1024:.1f} KiB")
            self.message.warn("A bare .tflite model: Calibration, Quantization and Convert are skipped (converting needs the "
                              "Keras/SavedModel source); Next goes to Evaluate, where you pick its preprocessing, then Profile.")
            self.window_.refresh_steps()
            return
        f["input"].setText(str(info.get("input_shape")))
        f["dtype"].setText(str(info.get("input_dtype")))
        f["output"].setText(str(info.get("output_shape")))
        layers = info.get("preprocessing_layers") or []
        f["normalization"].setText(", ".join(f"{p.get('type')} '{p.get('layer')}'" for p in layers)
                                   if layers else "none (the model expects normalized input)")
        f["ops"].setText(f"{info.get('layers')} layers")
        f["params"].setText(f"{info.get('params'):,}" if isinstance(info.get("params"), int) else "–")
        channels = self.state.channels
        pp = self.state.preprocess
        if channels == 1 and pp.get("color") != "gray":
            pp["color"] = "gray"
        elif channels == 3 and pp.get("color") == "gray":
            pp["color"] = "rgb"
        if layers and not self.state.example and pp.get("preset") != "raw":
            pp["preset"] = "raw"  # the model normalizes in-graph: feeding 0..255 is the safe default
        self.message.ok("Model read." + (" (the bundled Fashion-MNIST example)" if self.state.example else ""))
        calib = self.window_.page("CalibrationPage")
        calib.load_state()
        self.window_.refresh_steps()

    def validate(self) -> bool:
        problem = quick_check(self.path.currentText().strip())
        if problem:
            self.message.error(problem)
            return False
        if self._inspecting:
            self.message.warn("Still reading the model; Next is possible once it is described.")
            return False
        text = self.path.currentText().strip()
        if self.state.model_info is None or text != self.state.model:
            self.inspect(text, example=self.state.example and text == self.state.model)
            return False
        return True
