"""Reading one results folder: the manifest and every run document under ``runs/``, checked and migrated.

A folder may be incomplete (convert ran but eval and profile did not yet, or a run document is
damaged): what can be read is returned with notes saying what is missing, so the report shows
what exists. Only a folder that holds nothing edgeq wrote, or a manifest this edgeq cannot read,
is an error.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeq.errors import EdgeqError, ResultsFolderError
from edgeq.fsio import MANIFEST, RUNS_DIR
from edgeq.reports.schema import upgrade
from edgeq.reports.validation import checked

RUN_KINDS = ("eval", "analyze", "profile")
_RUN_NAME = re.compile(r"-\d{8}T\d{6}Z(?:-(\d+))?\.json$")


@dataclass
class Part:
    """One document of a results folder (the manifest or a run)."""

    kind: str
    name: str  # path relative to the folder, e.g. "runs/eval-20261124T080000Z.json"
    doc: dict[str, Any]
    migrated_from: int | None = None

    @property
    def created(self) -> str:
        return str(self.doc.get("__meta__", {}).get("created") or "")

    @property
    def order(self) -> tuple[float, int, str]:
        """Sort key, oldest first: ``created`` (parsed, any resolution), then the ``-n`` suffix of the file name.

        ``created`` has 1 s resolution, and ``runs/eval-…Z-1.json`` (written second in the same second)
        sorts *before* ``runs/eval-…Z.json`` by name, so the name alone cannot order them.
        """
        try:
            when = _dt.datetime.fromisoformat(self.created.replace("Z", "+00:00"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=_dt.timezone.utc)
            ts = when.timestamp()
        except ValueError:
            ts = float("-inf")
        m = _RUN_NAME.search(self.name)
        return (ts, int(m.group(1) or 0) if m else 0, self.name)

    def provenance(self) -> dict[str, Any]:
        m = self.doc.get("__meta__", {})
        return {"kind": "convert" if self.kind == "manifest" else self.kind, "file": self.name,
                "command": self.doc.get("command") or "", "created": m.get("created"),
                "edgeq_version": m.get("edgeq_version"), "schema_version": m.get("schema_version"),
                "migrated_from": self.migrated_from}


@dataclass
class ResultsFolder:
    """Everything read from one folder; ``notes`` are (code, message) pairs for the report's warnings."""

    path: Path
    manifest: Part | None
    runs: list[Part] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Part]:
        """Run documents of ``kind``, oldest first (by ``created``, then file name)."""
        return sorted((p for p in self.runs if p.kind == kind), key=lambda p: p.order)

    @property
    def missing(self) -> list[str]:
        out = [] if self.manifest else ["convert"]
        return out + [k for k in RUN_KINDS if not self.of_kind(k)]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def load_results_folder(path: str | Path) -> ResultsFolder:
    """Loads one results folder.

    Args:
        path: the folder (the ``--out`` of ``edgeq convert``), or its ``manifest.json``.

    Returns:
        The folder's documents, migrated to the current schemas, with notes on what was skipped.

    Raises:
        ResultsFolderError: the path is not a results folder, or its manifest is damaged or newer
            than this edgeq reads.
    """
    folder = Path(path)
    if folder.is_file() and folder.name == MANIFEST:
        folder = folder.parent
    hint = "pass the --out folder of 'edgeq convert' (it holds manifest.json and runs/)"
    if not folder.exists():
        raise ResultsFolderError(f"{folder} does not exist", hint=hint)
    if not folder.is_dir():
        raise ResultsFolderError(f"{folder} is not a results folder (it is a file)", hint=hint)
    runs_dir = folder / RUNS_DIR
    run_files = sorted(runs_dir.glob("*.json")) if runs_dir.is_dir() else []
    mpath = folder / MANIFEST
    if not mpath.is_file() and not run_files:
        raise ResultsFolderError(f"{folder} is not a results folder: no {MANIFEST} and no {RUNS_DIR}/*.json", hint=hint)

    notes: list[tuple[str, str]] = []
    manifest: Part | None = None
    if mpath.is_file():
        try:
            raw = _read_json(mpath)
        except (OSError, ValueError) as exc:
            raise ResultsFolderError(f"{mpath} cannot be read: {exc}",
                                     hint="re-run 'edgeq convert ... --overwrite' to write it again") from None
        doc, migrated = upgrade(raw, expect="manifest", name=str(mpath))
        doc = _typed("manifest", doc, MANIFEST, notes)
        manifest = Part("manifest", MANIFEST, doc, migrated)
        if migrated is not None:
            notes.append(("migrated", f"{MANIFEST} was written with schema version {migrated} "
                                      f"(edgeq {doc['__meta__'].get('edgeq_version')}); read it as version 1"))
    else:
        notes.append(("missing-manifest", f"no {MANIFEST}: model and variant facts are unknown "
                                          "(run 'edgeq convert --out' into this folder)"))

    runs: list[Part] = []
    for f in run_files:
        name = f"{RUNS_DIR}/{f.name}"
        try:
            raw = _read_json(f)
            doc, migrated = upgrade(raw, expect=None, name=name)
        except (OSError, ValueError) as exc:
            notes.append(("unreadable-run", f"{name} skipped: {exc}"))
            continue
        except EdgeqError as exc:
            notes.append(("unreadable-run", f"{name} skipped: {exc.message}" + (f" ({exc.hint})" if exc.hint else "")))
            continue
        kind = doc["__meta__"]["kind"]
        if kind not in RUN_KINDS:
            notes.append(("unreadable-run", f"{name} skipped: a '{kind}' document does not belong in {RUNS_DIR}/"))
            continue
        problem = _shape_problem(kind, doc)
        if problem:
            notes.append(("unreadable-run", f"{name} skipped: {problem}"))
            continue
        doc = _typed(kind, doc, name, notes)
        runs.append(Part(kind, name, doc, migrated))
        if migrated is not None:
            notes.append(("migrated", f"{name} was written with schema version {migrated}; read it as the current one"))
    return ResultsFolder(folder, manifest, runs, notes)


def _typed(kind: str, doc: dict[str, Any], name: str, notes: list[tuple[str, str]]) -> dict[str, Any]:
    doc, problems = checked(kind, doc)
    if problems:
        more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
        notes.append(("invalid-field", f"{name}: {'; '.join(problems[:3])}{more}: ignored"))
    return doc


def _shape_problem(kind: str, doc: dict[str, Any]) -> str | None:
    """A one-line reason when a run document lacks the lists the report iterates over."""
    key = {"eval": "variants", "analyze": "layers", "profile": "runs"}[kind]
    items = doc.get(key)
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        return f"'{key}' is missing or not a list of objects"
    return None


def load_report_document(path: str | Path) -> dict[str, Any]:
    """Loads a report JSON written by ``edgeq report --format json``, migrated to the current schema.

    Raises:
        ResultsFolderError: unreadable, not a report, or a newer report schema than this edgeq reads.
    """
    p = Path(path)
    try:
        raw = _read_json(p)
    except (OSError, ValueError) as exc:
        hint = "pass a results folder, or a report written by 'edgeq report --format json'"
        raise ResultsFolderError(f"{p} cannot be read: {exc}", hint=hint) from None
    doc, _ = upgrade(raw, expect="report", name=str(p))
    lists = ("sources", "models", "variants", "accuracy", "layers", "devices", "latency", "matrix",
             "recommendations", "highlights", "warnings")
    bad = [k for k in lists if not isinstance(doc.get(k), list)]
    if bad or not isinstance(doc.get("target"), dict):
        raise ResultsFolderError(f"{p} is not a complete report document (missing {', '.join(bad) or 'target'})",
                                 hint="re-create it with 'edgeq report FOLDER --format json'")
    return doc
