"""Atomic writes and the results-folder convention shared by convert, eval, profile and report.

A results folder (the ``--out`` of ``edgeq convert``) holds ``manifest.json``, the ``.tflite``
variants, and one JSON document per later ``eval``/``profile`` run under ``runs/``. Every file
is written to a temporary name beside its target and renamed into place, so a crash or Ctrl-C
never leaves a half-written file behind.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from edgeq import __version__
from edgeq.errors import OutputError, OutputExists

MANIFEST = "manifest.json"


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()
RUNS_DIR = "runs"


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` via a temp file + rename (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are meant to be shared
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, doc: Any) -> None:
    write_text_atomic(path, dumps_json(doc) + "\n")


def dumps_json(doc: Any, **kw: Any) -> str:
    """``json.dumps(doc, indent=2)``, but each list of numbers on one line.

    A profile keeps every latency sample (a fast model measured for 20 s has millions); one per
    indented line made such a document ~2.3x larger and no easier to read.
    """
    import uuid

    token = uuid.uuid4().hex
    inline: dict[str, str] = {}

    def walk(o: Any) -> Any:
        if type(o).__module__ == "numpy" and hasattr(o, "tolist"):
            o = o.tolist()
        if isinstance(o, dict):
            return {k: walk(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            if o and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in o):
                key = f"{token}:{len(inline)}"
                inline[key] = json.dumps(list(o), separators=(", ", ": "))
                return key
            return [walk(x) for x in o]
        if hasattr(o, "to_dict") and not isinstance(o, type):
            return walk(o.to_dict())
        return o

    kw.setdefault("default", _json_default)
    text = json.dumps(walk(doc), indent=2, **kw)
    if inline:
        import re

        text = re.sub(f'"({token}:\\d+)"', lambda m: inline[m.group(1)], text)
    return text


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    p = Path(path)
    files = sorted(x for x in p.rglob("*") if x.is_file()) if p.is_dir() else [p]
    for f in files:
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def meta(kind: str, schema_version: int) -> dict[str, Any]:
    """The ``__meta__`` block stamped into every document edgeq writes."""
    return {"kind": kind, "schema_version": schema_version, "edgeq_version": __version__, "created": now_iso()}


def prepare_output_dir(out: Path, *, overwrite: bool, owned_names: list[str]) -> Path:
    """Checks ``out`` may receive ``owned_names``; creates it.

    Raises:
        OutputExists: a file we would write exists and ``overwrite`` is false.
        OutputError: ``out`` exists and is not a folder, or cannot be created.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"output path {out} exists and is not a folder", hint="choose another --out")
    if out.is_dir() and not overwrite:
        clashes = [n for n in owned_names if (out / n).exists()]
        if clashes:
            raise OutputExists(
                f"{out} already holds {', '.join(clashes[:3])}{' …' if len(clashes) > 3 else ''}",
                hint="pass --overwrite to replace them, or choose another --out",
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {out}: {exc.strerror}", hint="choose a writable --out") from exc
    return out


def run_document_path(results_dir: Path, kind: str) -> Path:
    """A fresh, never-clashing path ``runs/<kind>-<UTC timestamp>[-n].json`` in a results folder."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = Path(results_dir) / RUNS_DIR
    base.mkdir(parents=True, exist_ok=True)
    n = 0
    while True:
        name = f"{kind}-{stamp}{'' if n == 0 else f'-{n}'}.json"
        if not (base / name).exists():
            return base / name
        n += 1
