"""Versions of the documents a report reads and writes, and explicit migrations between them.

Every JSON document edgeq writes carries ``__meta__ = {kind, schema_version, edgeq_version,
created}``. A reader accepts the versions it knows, migrates older ones step by step (each step
is a registered function ``vN -> vN+1``), and refuses newer ones with a message naming the fix:
an old edgeq cannot guess what a newer one meant, and silently dropping fields would make a
report lie.

Version 0 of the manifest is the *pre-versioned* layout written by edgeq's first prototype, before
``__meta__`` existed (see docs/report.md, "Migrations")::

    {"edgeq_version": "0.0.x", "created": ..., "command": ..., "model": {...}, "preprocess": {...},
     "labels": [...], "variants": [{"mode", "path", "size_bytes", "sha256", "ok", "error", "checks"}]}
"""

from __future__ import annotations

import copy
from pathlib import PurePath
from typing import Any, Callable

from edgeq.errors import ResultsFolderError

REPORT_SCHEMA = 1

# kind -> newest schema_version this edgeq reads.
SUPPORTED: dict[str, int] = {"manifest": 1, "eval": 1, "analyze": 1, "profile": 1, "report": REPORT_SCHEMA}

Migration = Callable[[dict[str, Any]], dict[str, Any]]
_MIGRATIONS: dict[tuple[str, int], Migration] = {}

UPGRADE_HINT = "upgrade edgeq (pip install -U edgeq) to read it"


def migration(kind: str, from_version: int) -> Callable[[Migration], Migration]:
    """Registers ``fn`` as the step that turns a ``kind`` document of ``from_version`` into the next version."""

    def register(fn: Migration) -> Migration:
        _MIGRATIONS[(kind, from_version)] = fn
        return fn

    return register


def document_version(doc: Any) -> tuple[str | None, int | None]:
    """(kind, schema_version) of a loaded document; a pre-versioned manifest is ``("manifest", 0)``."""
    if not isinstance(doc, dict):
        return None, None
    m = doc.get("__meta__")
    if isinstance(m, dict):
        v = m.get("schema_version")
        return (m.get("kind") if isinstance(m.get("kind"), str) else None), (v if isinstance(v, int) else None)
    if "variants" in doc and "model" in doc:
        return "manifest", 0
    return None, None


def upgrade(doc: Any, *, expect: str | None, name: str) -> tuple[dict[str, Any], int | None]:
    """Checks a document's kind and version and migrates it to the newest version this edgeq reads.

    Args:
        doc: the parsed JSON document (not modified).
        expect: the kind the caller needs, or None to accept any known kind.
        name: how to name the document in messages (its path).

    Returns:
        (the current-version document, the version it was migrated from or None).

    Raises:
        ResultsFolderError: not an edgeq document, the wrong kind, or a newer schema than this edgeq reads.
    """
    kind, version = document_version(doc)
    if kind is None or version is None:
        raise ResultsFolderError(f"{name} is not an edgeq document (no __meta__ kind/schema_version)",
                                 hint="pass a results folder written by 'edgeq convert --out DIR'")
    if expect is not None and kind != expect:
        raise ResultsFolderError(f"{name} is a '{kind}' document, expected '{expect}'",
                                 hint=f"pass the {expect} document, or the results folder that holds it")
    newest = SUPPORTED.get(kind)
    if newest is None:
        raise ResultsFolderError(f"{name} is an unknown kind of document '{kind}'", hint=UPGRADE_HINT)
    if version > newest:
        written_by = doc.get("__meta__", {}).get("edgeq_version", "a newer edgeq")
        raise ResultsFolderError(
            f"{name} uses {kind} schema version {version} (written by edgeq {written_by}); "
            f"this edgeq reads up to version {newest}",
            hint=UPGRADE_HINT,
        )
    if version == newest:
        return doc, None
    out = copy.deepcopy(doc)
    for v in range(version, newest):
        step = _MIGRATIONS.get((kind, v))
        if step is None:  # pragma: no cover - a missing step is a bug in edgeq, not in the input
            raise ResultsFolderError(f"{name}: no migration of {kind} schema {v} to {v + 1}",
                                     hint="re-create it with this edgeq (re-run the command that wrote it)")
        out = step(out)
    out.setdefault("__meta__", {})["migrated_from"] = version
    return out, version


@migration("manifest", 0)
def _manifest_v0_to_v1(doc: dict[str, Any]) -> dict[str, Any]:
    """The pre-versioned prototype manifest → v1: adds ``__meta__`` and status, renames variant fields."""
    variants = []
    for v in doc.get("variants") or []:
        ok = bool(v.get("ok", v.get("status") == "ok"))
        err = v.get("error")
        path = v.get("path") or v.get("file")
        variants.append({
            "mode": v.get("mode", "?"),
            "summary": v.get("summary", ""),
            "status": "ok" if ok else "failed",
            "file": PurePath(path).name if path else None,
            "bytes": v.get("size_bytes", v.get("bytes")),
            "sha256": v.get("sha256"),
            "seconds": v.get("seconds"),
            "error": None if ok else {"stage": "convert", "message": str(err or "failed"), "hint": ""},
            "tflite": v.get("tflite"),
            "checks": v.get("checks"),
        })
    base = next((v["bytes"] for v in variants if v["mode"] == "float32" and v["bytes"]), None)
    for v in variants:
        if base and v.get("bytes"):
            v["size_vs_float32"] = round(v["bytes"] / base, 4)
    ok = [v for v in variants if v["status"] == "ok"]
    status = "ok" if len(ok) == len(variants) else ("partial" if ok else "failed")
    edgeq_version = doc.get("edgeq_version", "0.0.0")
    return {
        "__meta__": {"kind": "manifest", "schema_version": 1, "edgeq_version": edgeq_version,
                     "created": doc.get("created")},
        "status": status,
        "partial_reason": None if status == "ok" else "some variants failed",
        "command": doc.get("command", ""),
        "versions": doc.get("versions") or {"edgeq": edgeq_version},
        "model": doc.get("model") or {},
        "preprocess": doc.get("preprocess"),
        "calibration": doc.get("calibration"),
        "checks": doc.get("checks"),
        "options": doc.get("options") or {},
        "labels": doc.get("labels"),
        "warnings": doc.get("warnings") or [],
        "variants": variants,
    }
