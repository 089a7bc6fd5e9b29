"""Loading the user's model (Keras 3 ``.keras``, legacy ``.h5``, SavedModel) and describing it.

Keras files are loaded with ``safe_mode=True`` unless the user passes ``--trust-model``: a
Lambda layer carries Python bytecode that runs on load. The check is done on the stored config
before Keras sees the file, so it holds for legacy ``.h5`` files too.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from edgeq.errors import ModelLoadError, UnsafeModelError
from edgeq.fsio import sha256_file

KERAS_SUFFIXES = (".keras",)
H5_SUFFIXES = (".h5", ".hdf5")
_PREPROCESSING_LAYERS = ("Rescaling", "Normalization")


@dataclass
class LoadedModel:
    """A model loaded once and shared by every conversion mode and check of a run."""

    path: Path
    kind: str  # keras | h5 | saved_model
    sha256: str
    input_shape: list[int | None]
    input_dtype: str
    output_shape: list[int | None]
    preprocessing_layers: list[dict[str, Any]] = field(default_factory=list)
    layer_count: int = 0
    params: int | None = None
    name: str = ""
    _keras: Any = None
    _saved: Any = None
    _fn: Any = None
    _export_dir: Any = None

    @property
    def is_classifier(self) -> bool:
        return len(self.output_shape) == 2 and (self.output_shape[-1] or 0) > 1

    @property
    def image_size(self) -> tuple[int, int] | None:
        if len(self.input_shape) == 4 and self.input_shape[1] and self.input_shape[2]:
            return int(self.input_shape[1]), int(self.input_shape[2])
        return None

    @property
    def channels(self) -> int | None:
        return self.input_shape[-1] if len(self.input_shape) == 4 else None

    def predict(self, x: Any, batch: int = 64) -> Any:
        """Float reference outputs for inputs ``x`` (N, ...) as a numpy array."""
        import numpy as np

        outs = []
        for i in range(0, len(x), batch):
            y = self._call(x[i : i + batch])
            outs.append(np.asarray(y, dtype=np.float32))
        return np.concatenate(outs) if outs else np.zeros((0,), np.float32)

    def _call(self, xb: Any) -> Any:
        if self._keras is not None:
            y = self._keras(xb, training=False)
        else:
            y = self._fn(xb)
        if isinstance(y, dict):
            y = next(iter(y.values()))
        if isinstance(y, (list, tuple)):
            y = y[0]
        return y.numpy() if hasattr(y, "numpy") else y

    def make_converter(self) -> Any:
        """A fresh TFLiteConverter; a Keras model is exported once per run, with batch size 1
        (static shapes, as integer accelerators need), and every mode converts that export."""
        from edgeq.native import captured_fds, import_tensorflow

        tf = import_tensorflow()
        if self._keras is None:
            return tf.lite.TFLiteConverter.from_saved_model(str(self.path))
        if self._export_dir is None:
            self._export_dir = tempfile.TemporaryDirectory(prefix="edgeq-export-")
            spec = tf.TensorSpec([1, *self.input_shape[1:]], tf.as_dtype(self.input_dtype), name="input")
            with captured_fds():
                self._keras.export(self._export_dir.name, format="tf_saved_model", input_signature=[spec], verbose=False)
        return tf.lite.TFLiteConverter.from_saved_model(self._export_dir.name)

    def close(self) -> None:
        """Removes the run's temporary export."""
        if self._export_dir is not None:
            self._export_dir.cleanup()
            self._export_dir = None

    def describe(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "kind": self.kind,
            "name": self.name,
            "sha256": self.sha256,
            "input_shape": self.input_shape,
            "input_dtype": self.input_dtype,
            "output_shape": self.output_shape,
            "classifier": self.is_classifier,
            "preprocessing_layers": self.preprocessing_layers,
            "layers": self.layer_count,
            "params": self.params,
        }


def detect_kind(path: Path) -> str:
    """``keras``, ``h5``, ``saved_model`` or ``tflite``; raises ModelLoadError otherwise."""
    if not path.exists():
        raise ModelLoadError(f"model {path} does not exist", hint="check the path (a .keras, .h5 or SavedModel folder)")
    if path.is_dir():
        if (path / "saved_model.pb").exists() or (path / "saved_model.pbtxt").exists():
            return "saved_model"
        raise ModelLoadError(
            f"{path} is a folder but not a SavedModel (no saved_model.pb)",
            hint="pass a .keras/.h5 file or a SavedModel folder",
        )
    suffix = path.suffix.lower()
    if suffix in KERAS_SUFFIXES:
        return "keras"
    if suffix in H5_SUFFIXES:
        return "h5"
    if suffix == ".tflite":
        return "tflite"
    head = path.read_bytes()[:8]
    if head.startswith(b"PK"):
        return "keras"
    if head.startswith(b"\x89HDF"):
        return "h5"
    raise ModelLoadError(
        f"{path} is not a model edgeq can read (expected .keras, .h5 or a SavedModel folder)",
        hint="export it with model.save('model.keras') or tf.saved_model.save(model, 'dir')",
    )


def _stored_config(path: Path, kind: str) -> dict[str, Any]:
    """The model config as stored in the file, read without running anything."""
    try:
        if kind == "keras":
            with zipfile.ZipFile(path) as zf:
                return json.loads(zf.read("config.json"))
        import h5py

        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
            if raw is None:
                raise ModelLoadError(
                    f"{path} holds weights only, not a model", hint="save the whole model: model.save('model.h5')"
                )
            return json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except ModelLoadError:
        raise
    except (zipfile.BadZipFile, KeyError, OSError, json.JSONDecodeError, EOFError) as exc:
        raise ModelLoadError(
            f"{path} is truncated or corrupt ({type(exc).__name__}: {str(exc)[:120]})",
            hint="re-export the model; check the file was copied completely",
        ) from None


def _walk_layers(cfg: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(cfg, dict):
        if "class_name" in cfg and isinstance(cfg.get("config"), dict) and cfg["class_name"] not in ("Functional", "Sequential", "Model"):
            found.append(cfg)
        for v in cfg.values():
            found.extend(_walk_layers(v))
    elif isinstance(cfg, list):
        for v in cfg:
            found.extend(_walk_layers(v))
    return found


def load_model(path: str | Path, *, trust_model: bool = False) -> LoadedModel:
    """Loads a Keras or SavedModel model once.

    Raises:
        ModelLoadError: missing, not a model, truncated or corrupt.
        UnsafeModelError: a Lambda layer (code in the file) without ``trust_model``.
    """
    path = Path(path)
    kind = detect_kind(path)
    if kind == "tflite":
        raise ModelLoadError(
            f"{path} is already a .tflite model; convert needs the source model",
            hint="pass the .keras/.h5/SavedModel it was made from (use 'edgeq eval' or 'edgeq profile' for .tflite files)",
        )
    if kind == "saved_model":
        return _load_saved_model(path)
    layers = _walk_layers(_stored_config(path, kind))
    lambdas = [l.get("config", {}).get("name", "?") for l in layers if l.get("class_name") == "Lambda"]
    if lambdas and not trust_model:
        raise UnsafeModelError(
            f"{path.name} contains a Lambda layer ({', '.join(lambdas[:3])}) whose code would run on load",
            hint="if you trust this file, re-run with --trust-model",
        )
    from edgeq.native import captured_fds, import_tensorflow

    import_tensorflow()
    import keras

    try:
        with captured_fds():
            if kind == "keras":
                model = keras.models.load_model(path, compile=False, safe_mode=not trust_model)
            else:
                model = keras.models.load_model(path, compile=False)
    except ValueError as exc:
        if "safe_mode" in str(exc) or "lambda" in str(exc).lower():
            raise UnsafeModelError(
                f"{path.name} contains code that Keras refuses to load in safe mode",
                hint="if you trust this file, re-run with --trust-model",
            ) from None
        raise ModelLoadError(f"cannot load {path}: {str(exc).splitlines()[0][:300]}", hint=_custom_hint(exc)) from None
    except (TypeError, OSError, KeyError, EOFError, NotImplementedError, zipfile.BadZipFile) as exc:
        raise ModelLoadError(
            f"cannot load {path}: {type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}",
            hint=_custom_hint(exc),
        ) from None
    return _describe_keras(path, kind, model, layers)


def _custom_hint(exc: Exception) -> str:
    text = str(exc)
    if "Could not locate" in text or "Unknown layer" in text or "custom" in text.lower():
        return "the model uses custom layers; save it with only built-in layers, or export a SavedModel folder"
    return "re-export the model with model.save('model.keras'), or export a SavedModel folder"


def _shape(s: Any) -> list[int | None]:
    return [None if d is None else int(d) for d in s]


def _describe_keras(path: Path, kind: str, model: Any, layers_cfg: list[dict[str, Any]]) -> LoadedModel:
    if len(model.inputs) != 1:
        raise ModelLoadError(
            f"{path.name} has {len(model.inputs)} inputs; edgeq handles single-image models",
            hint="export a model with one image input",
        )
    if len(model.outputs) != 1:
        raise ModelLoadError(
            f"{path.name} has {len(model.outputs)} outputs; edgeq converts and checks single-output models",
            hint="export the head you deploy as its own model, e.g. keras.Model(model.input, model.outputs[0])",
        )
    pre = []
    for layer in _all_layers(model):
        cls = type(layer).__name__
        if cls in _PREPROCESSING_LAYERS:
            entry: dict[str, Any] = {"layer": layer.name, "type": cls}
            cfg = layer.get_config()
            if cls == "Rescaling":
                entry.update(scale=_plain(cfg.get("scale")), offset=_plain(cfg.get("offset")))
            else:
                entry.update(mean=_plain(getattr(layer, "mean", None)), variance=_plain(getattr(layer, "variance", None)))
            pre.append(entry)
    inp = model.inputs[0]
    out = model.outputs[0]
    return LoadedModel(
        path=path,
        kind=kind,
        sha256=sha256_file(path),
        input_shape=_shape(inp.shape),
        input_dtype=str(getattr(inp.dtype, "name", inp.dtype)),
        output_shape=_shape(out.shape),
        preprocessing_layers=pre,
        layer_count=len(_all_layers(model)),
        params=int(model.count_params()),
        name=model.name,
        _keras=model,
    )


def _all_layers(model: Any) -> list[Any]:
    out = []
    for layer in model.layers:
        out.append(layer)
        if hasattr(layer, "layers"):
            out.extend(_all_layers(layer))
    return out


def _plain(v: Any) -> Any:
    import numpy as np

    if v is None:
        return None
    arr = np.asarray(v, dtype=np.float64).ravel()
    vals = [round(float(x), 6) for x in arr]
    return vals[0] if len(vals) == 1 else vals


def _load_saved_model(path: Path) -> LoadedModel:
    from edgeq.native import captured_fds, import_tensorflow

    tf = import_tensorflow()
    try:
        with captured_fds():
            loaded = tf.saved_model.load(str(path))
    except Exception as exc:  # TF raises many types for a broken SavedModel
        raise ModelLoadError(f"cannot load SavedModel {path}: {str(exc).splitlines()[0][:300]}", hint="re-export it") from None
    sig = loaded.signatures.get("serving_default")
    if sig is None:
        raise ModelLoadError(f"SavedModel {path} has no serving_default signature", hint="export with a serving signature")
    args = sig.structured_input_signature[1]
    if len(args) != 1:
        raise ModelLoadError(f"SavedModel {path} has {len(args)} inputs; edgeq handles single-image models")
    (in_name, in_spec), = args.items()
    out_specs = sig.structured_outputs
    if isinstance(out_specs, dict) and len(out_specs) != 1:
        raise ModelLoadError(
            f"SavedModel {path} has {len(out_specs)} outputs ({', '.join(sorted(out_specs))}); "
            "edgeq converts and checks single-output models",
            hint="export a serving signature with the one output you deploy",
        )
    out_spec = next(iter(out_specs.values())) if isinstance(out_specs, dict) else out_specs
    fn: Callable[[Any], Any] = lambda x: sig(**{in_name: x})  # noqa: E731
    return LoadedModel(
        path=path,
        kind="saved_model",
        sha256=sha256_file(path),
        input_shape=_shape(in_spec.shape),
        input_dtype=in_spec.dtype.name,
        output_shape=_shape(out_spec.shape),
        preprocessing_layers=[],
        name=path.name,
        _saved=loaded,
        _fn=fn,
    )


def describe_model(path: str | Path, *, trust_model: bool = False) -> dict[str, Any]:
    """A JSON-able description of any model edgeq reads, ``.tflite`` included."""
    path = Path(path)
    if detect_kind(path) == "tflite":
        from edgeq.tflite import describe_tflite

        return describe_tflite(path.read_bytes()) | {"path": str(path), "kind": "tflite"}
    return load_model(path, trust_model=trust_model).describe()
